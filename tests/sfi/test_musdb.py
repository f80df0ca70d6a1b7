"""MUSDB18-HQ adapter on the real fixture track: demo cutting, manifests, splits, resampled shards."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from audiopipe.corpora.musdb import SOURCES, VALID_TRACKS, prepare_musdb, read_shard_track, resample_tracks, track_id
from audiopipe.demo.musdb18hq import build
from audiopipe.io import read_audio, read_jsonl

TRACK = "music/musdb18hq_sample/train/Music Delta - 80s Rock"


def build_demo_musdb(fixtures, root, seconds, splits):
    """The demo builder on the fixture track; returns the tracks recorded in DEMO.json."""
    build(root, fixtures, root / "downloads", TRACK, seconds, splits)
    return json.loads((root / "DEMO.json").read_text())["tracks"]


@pytest.fixture(scope="module")
def demo_root(fixtures_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("musdb") / "musdb18hq"
    build_demo_musdb(fixtures_dir, root, 1.1, {"train": 3, "valid": 1, "test": 2})
    return root


def _sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_demo_tracks_are_real_segments(fixtures_dir, demo_root):
    man = json.loads((demo_root / "DEMO.json").read_text())["tracks"]
    assert (demo_root / "valid_tracks.txt").read_text() == "Music Delta - 80s Rock - part3\n"
    assert [r["split"] for r in man] == ["train"] * 3 + ["valid"] + ["test"] * 2
    src, fs = read_audio(fixtures_dir / TRACK / "bass.wav")
    for r in man:
        tdir = demo_root / ("test" if r["split"] == "test" else "train") / r["track"]
        assert sorted(p.name for p in tdir.iterdir()) == sorted(
            ["mixture.wav"] + [f"{s}.wav" for s in SOURCES])
        bass, fs2 = read_audio(tdir / "bass.wav")
        assert fs2 == fs == 44100 and bass.shape == (2, 48510)
        # bit-exact copy of the real PCM_16 samples
        np.testing.assert_array_equal(bass, src[:, r["source_start"]:r["source_stop"]])
        assert r["origin"] == "real" and r["source_track"].endswith("80s Rock")


def test_demo_is_deterministic(fixtures_dir, demo_root, tmp_path):
    build_demo_musdb(fixtures_dir, tmp_path / "m", 1.1, {"train": 3, "valid": 1, "test": 2})
    a = demo_root / "test/Music Delta - 80s Rock - part5/mixture.wav"
    b = tmp_path / "m/test/Music Delta - 80s Rock - part5/mixture.wav"
    assert _sha(a) == _sha(b)


def test_demo_split_order_does_not_depend_on_dict_order(fixtures_dir, demo_root, tmp_path):
    """json_arg sorts keys ({"test", "train", "valid"}): the segments must not move."""
    man = build_demo_musdb(fixtures_dir, tmp_path / "m", 1.1, {"test": 2, "train": 3, "valid": 1})
    a = [(r["track"], r["split"]) for r in man]
    b = [(r["track"], r["split"]) for r in json.loads((demo_root / "DEMO.json").read_text())["tracks"]]
    assert a == b
    with pytest.raises(ValueError, match="unknown split"):
        build_demo_musdb(fixtures_dir, tmp_path / "m2", 1.1, {"dev": 1})


def test_demo_rejects_too_many_segments(fixtures_dir, tmp_path):
    with pytest.raises(ValueError, match="too short"):
        build_demo_musdb(fixtures_dir, tmp_path / "m", 2.0, {"train": 3, "valid": 1, "test": 2})


def test_prepare_splits_and_manifest_fields(demo_root, tmp_path):
    out = prepare_musdb(demo_root, tmp_path, ["Music Delta - 80s Rock - part3"])
    recs = {k: read_jsonl(v) for k, v in out.items()}
    assert [len(recs[s]) for s in ("train", "valid", "test")] == [3, 1, 2]
    r = recs["valid"][0]
    assert r["id"] == "music_delta_80s_rock_part3" and r["subset"] == "train"
    assert r["sampling_rate"] == 44100 and r["num_channels"] == 2 and r["num_samples"] == 48510
    assert abs(r["duration"] - 1.1) < 1e-9 and set(r["sources"]) == set(SOURCES)
    # idempotent: same bytes on a second run
    first = _sha(out["test"])
    prepare_musdb(demo_root, tmp_path, ["Music Delta - 80s Rock - part3"])
    assert _sha(out["test"]) == first
    # default: the official validation list (none of the demo tracks is in it)
    out2 = prepare_musdb(demo_root, tmp_path / "official")
    assert len(read_jsonl(out2["valid"])) == 0 and len(VALID_TRACKS) == 14
    # the corpus option valid_list: a file of names relative to the root (the demo writes one)
    out3 = prepare_musdb(demo_root, tmp_path / "listed", valid_list="valid_tracks.txt")
    assert [r["track"] for r in read_jsonl(out3["valid"])] == ["Music Delta - 80s Rock - part3"]
    with pytest.raises(FileNotFoundError, match="nolist.txt"):
        prepare_musdb(demo_root, tmp_path / "x", valid_list="nolist.txt")


def test_prepare_names_the_missing_stem(demo_root, tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(demo_root / "test", root / "test")
    (root / "train").mkdir()
    (root / "test/Music Delta - 80s Rock - part4/drums.wav").unlink()
    with pytest.raises(FileNotFoundError, match="part4/drums.wav"):
        prepare_musdb(root, tmp_path / "m")


def test_resampled_shard(demo_root, tmp_path):
    out = prepare_musdb(demo_root, tmp_path, [])
    n = resample_tracks(out["test"], tmp_path / "test_8000.h5", 8000)
    assert n == 2
    mix, src, fs = read_shard_track(tmp_path / "test_8000.h5", "music_delta_80s_rock_part4")
    assert fs == 8000 and mix.shape == (2, 8800) and src.shape == (4, 2, 8800)
    # the resampled stems still sum to (about) the resampled mixture: AAC-decoded stand-in, 2.6 %
    # error at 44.1 kHz per the fixtures README
    err = np.linalg.norm(src.sum(0) - mix) / np.linalg.norm(mix)
    assert err < 0.1
    with pytest.raises(KeyError, match="no track"):
        read_shard_track(tmp_path / "test_8000.h5", "nope")


def test_track_id():
    assert track_id("Johnny Lokke - Promises & Lies") == "johnny_lokke_promises_lies"
    with pytest.raises(ValueError):
        track_id("---")
