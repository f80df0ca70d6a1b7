"""The Clarity demo corpus: real layout, consistent signals, SNR as specified, provenance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audiopipe.corpora.clarity import prepare_clarity
from audiopipe.io import read_audio, read_jsonl
from audiopipe.recipes.demo import build_clarity_demo, build_speech_demo
from tests.conftest import REPO


@pytest.fixture(scope="module")
def demo(fixtures_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "clarity"
    build_clarity_demo(root, fixtures=str(fixtures_dir), n_train_scenes=3, n_dev_scenes=2, listeners_per_scene=2,
                       max_order=4, seed=3)
    return root


def test_layout_and_manifest(demo, tmp_path):
    for split, n in (("train", 3), ("dev", 2)):
        recs = read_jsonl(prepare_clarity(demo, split, tmp_path))
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
    build_clarity_demo(again, fixtures=str(fixtures_dir), n_train_scenes=3, n_dev_scenes=2, listeners_per_scene=2,
                       max_order=4, seed=3)
    for f in sorted((demo / "clarity_data").rglob("*.*")):
        assert (again / f.relative_to(demo)).read_bytes() == f.read_bytes(), f


def test_provenance_names_real_recordings(demo):
    for split in ("train", "dev"):
        for s in json.loads((demo / f"clarity_data/metadata/scenes.{split}.json").read_text()):
            assert s["source"]["target"].startswith("fixtures/")
            assert s["source"]["room_geometry"].startswith("rooms.train.json:R0")
            assert all(i["source"].startswith("fixtures/") for i in s["interferers"])


def test_fallback_without_fixtures_uses_the_pyannote_wheel(tmp_path):
    wheels = REPO / "data" / "downloads"
    if not list(wheels.glob("pyannote_audio-*.whl")):
        pytest.fail("data/downloads has no pyannote.audio wheel: run scripts/setup.sh")
    root = tmp_path / "clarity"
    build_clarity_demo(root, fixtures="", wheel_dir=wheels, n_train_scenes=2, n_dev_scenes=1, listeners_per_scene=1,
                       max_order=3)
    demo = json.loads((root / "DEMO.json").read_text())
    assert demo["origin"] == "pyannote.audio wheel" and demo["hrirs"] == "omnidirectional ear microphones"
    recs = read_jsonl(prepare_clarity(root, "dev", tmp_path))
    assert "pyannote/audio/sample/sample.wav" in recs[0]["provenance"]["target"]
    # Bisgaard standard audiograms stand in for the CEC2 listeners
    assert set(json.loads((root / "clarity_data/metadata/listeners.json").read_text())) == {"LN1", "LN2", "LN3", "LN4"}


def test_speech_manifest(fixtures_dir, tmp_path):
    out = tmp_path / "speech" / "manifest.jsonl"
    build_speech_demo(out, fixtures=str(fixtures_dir))
    recs = read_jsonl(out)
    assert len(recs) >= 8 and all(r["sampling_rate"] == 16000 for r in recs)
    assert {"cmu_arctic_us_aew_a0001", "cmu_arctic_us_axb_a0004"} <= {r["id"] for r in recs}
    x, fs = read_audio(recs[0]["path"])
    assert fs == 16000 and x.shape == (1, recs[0]["num_samples"])
