"""The Clarity and WSJ0 demo corpora: real layouts read by their adapters, consistent signals,
SNR as specified, provenance; the fallback on the pyannote.audio wheel."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audiopipe import demo as D
from audiopipe.corpora.clarity import prepare_clarity_split
from audiopipe.corpora.wsj0 import prepare_wsj0
from audiopipe.io import read_audio, read_jsonl
from tests.conftest import REPO

DOWNLOADS = REPO / "data" / "downloads"


@pytest.fixture(scope="module")
def demo(fixtures_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "clarity"
    D.build("clarity", root, fixtures_dir, DOWNLOADS, dict(n_train_scenes=3, n_dev_scenes=2, listeners_per_scene=2,
                                                          max_order=4, seed=3))
    return root


def test_layout_and_manifest(demo, tmp_path):
    for split, n in (("train", 3), ("dev", 2)):
        recs = read_jsonl(prepare_clarity_split(demo, split, tmp_path))
        assert len(recs) == n
        for r in recs:
            assert set(r["signals"]) == {"mix", "target", "interferer", "target_anechoic"}
            assert r["sampling_rate"] == 44100 and r["num_channels"] == 2 and len(r["listeners"]) == 2
    assert [r["id"] for r in recs] == ["S06001", "S06002"]
    listeners = json.loads((demo / "clarity_data/metadata/listeners.json").read_text())
    assert len(listeners) == 83  # the real CEC2 audiograms


def test_signals_are_consistent_and_snr_is_the_scene_snr(demo):
    from clarity.data.utils import better_ear_speechweighted_snr

    scene = json.loads((demo / "clarity_data/metadata/scenes.dev.json").read_text())[0]
    sig = {role: read_audio(demo / f"clarity_data/dev/scenes/S06001_{role}_CH1.wav")[0].astype(np.float64)
           for role in ("mix", "target", "interferer", "target_anechoic")}
    assert np.allclose(sig["mix"], sig["target"] + sig["interferer"], atol=1e-6)
    a, b = scene["target"]["time_start"], scene["target"]["time_end"]
    snr = better_ear_speechweighted_snr(sig["target"][:, a:b].T, sig["interferer"][:, a:b].T)
    assert 20 * np.log10(snr) == pytest.approx(scene["SNR"], abs=0.01)
    # the anechoic reference is the direct path of the reverberant target: aligned (lag ~0)
    t, d = sig["target"][0], sig["target_anechoic"][0]
    lag = np.argmax(np.correlate(t[a:b], d[a:b], "full")) - (b - a - 1)
    assert abs(lag) <= 2
    # silence before the target starts, in the target signal
    assert np.abs(sig["target"][:, : a - 10]).max() < 1e-6


def test_demo_is_deterministic(fixtures_dir, demo, tmp_path):
    again = tmp_path / "clarity"
    D.build("clarity", again, fixtures_dir, DOWNLOADS, dict(n_train_scenes=3, n_dev_scenes=2, listeners_per_scene=2,
                                                           max_order=4, seed=3))
    for f in sorted((demo / "clarity_data").rglob("*.*")):
        assert (again / f.relative_to(demo)).read_bytes() == f.read_bytes(), f


def test_provenance_names_real_recordings(demo):
    for split in ("train", "dev"):
        for s in json.loads((demo / f"clarity_data/metadata/scenes.{split}.json").read_text()):
            assert s["source"]["target"].startswith("fixtures/")
            assert s["source"]["room_geometry"].startswith("rooms.train.json:R0")
            assert all(i["source"].startswith("fixtures/") for i in s["interferers"])


def test_fallback_without_fixtures_uses_the_pyannote_wheel(tmp_path):
    if not list(DOWNLOADS.glob("pyannote_audio-*.whl")):
        pytest.fail("data/downloads has no pyannote.audio wheel: run scripts/setup.sh")
    root = tmp_path / "clarity"
    D.build("clarity", root, None, DOWNLOADS, dict(n_train_scenes=2, n_dev_scenes=1, listeners_per_scene=1,
                                                  max_order=3))
    demo = json.loads((root / "DEMO.json").read_text())
    assert demo["origin"] == "pyannote.audio wheel" and demo["hrirs"] == "omnidirectional ear microphones"
    recs = read_jsonl(prepare_clarity_split(root, "dev", tmp_path))
    assert "pyannote/audio/sample/sample.wav" in recs[0]["provenance"]["target"]
    # Bisgaard standard audiograms stand in for the CEC2 listeners
    assert set(json.loads((root / "clarity_data/metadata/listeners.json").read_text())) == {"LN1", "LN2", "LN3", "LN4"}


def test_wsj0_demo_is_read_by_the_adapter_with_held_out_speakers(fixtures_dir, tmp_path):
    root = tmp_path / "wsj0"
    D.build("wsj0", root, fixtures_dir, DOWNLOADS, {})
    recs = read_jsonl(prepare_wsj0(root, tmp_path))
    assert len(recs) >= 8 and all(r["sampling_rate"] == 16000 and r["num_channels"] == 1 for r in recs)
    assert {"cmu_arctic_us_aew_a0001", "cmu_arctic_us_axb_a0004"} <= {r["id"] for r in recs}
    # every speaker is in one split only, and each split has speech (SAR-SSL: tr, dt, et)
    split_of = {}
    for r in recs:
        assert split_of.setdefault(r["speaker"], r["split"]) == r["split"]
    assert set(split_of.values()) == {"train", "val", "test"}
    x, fs = read_audio(recs[0]["path"])
    assert fs == 16000 and x.shape == (1, recs[0]["num_samples"])
    demo = __import__("json").loads((root / "DEMO.json").read_text())
    assert all(v.startswith("fixtures/") for v in demo["utterances"].values())


def test_wsj0_demo_without_fixtures_uses_the_pyannote_conversation(tmp_path):
    root = tmp_path / "wsj0"
    D.build("wsj0", root, None, DOWNLOADS, {})
    recs = read_jsonl(prepare_wsj0(root, tmp_path))
    assert {r["split"] for r in recs} == {"train", "val", "test"}
    assert all("pyannote" in v for v in __import__("json").loads((root / "DEMO.json").read_text())["utterances"].values())


def test_a_scene_without_its_interferer_stops_prepare(demo, tmp_path):
    import shutil

    from audiopipe.io import AudioFileError

    root = tmp_path / "clarity"
    shutil.copytree(demo, root)
    (root / "clarity_data/dev/scenes/S06002_interferer_CH1.wav").unlink()
    with pytest.raises(AudioFileError, match="S06002_interferer_CH1.wav: audio file is missing"):
        prepare_clarity_split(root, "dev", tmp_path / "m")
