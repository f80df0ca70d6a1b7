"""prepare_clarity on the real CEC2 fixture (S06001) and on broken copies of it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from audiopipe.corpora.clarity import ClarityLayoutError, prepare_clarity_split
from audiopipe.io import AudioFileError, read_jsonl

REFS = ("target", "target_anechoic")


@pytest.fixture
def clarity_copy(fixtures_dir, tmp_path):
    """A writable copy of the real Clarity fixture tree (metadata and dev scenes)."""
    src = fixtures_dir / "clarity" / "clarity_data"
    dst = tmp_path / "cec2" / "clarity_data"
    shutil.copytree(src / "metadata", dst / "metadata")
    shutil.copytree(src / "dev" / "scenes", dst / "dev" / "scenes")
    return tmp_path / "cec2"


def test_real_fixture_manifest(fixtures_dir, tmp_path):
    out = prepare_clarity_split(fixtures_dir / "clarity", "dev", tmp_path, required=REFS)
    (rec,) = read_jsonl(out)
    assert rec["id"] == "S06001" and rec["room"] == "R06001"
    assert rec["sampling_rate"] == 44100 and rec["num_channels"] == 2
    # the reverberant target is the older 259532-sample render, the anechoic one 287990 samples
    assert rec["num_samples"] == 259532
    assert rec["num_samples_by_role"]["target_anechoic_CH1"] == 287990
    assert rec["duration"] == pytest.approx(259532 / 44100)
    assert rec["listeners"] == ["L0064"]
    assert rec["snr_db"] == pytest.approx(2.558)
    assert rec["target"]["name"] == "T010_G0N_02468"
    assert {i["name"] for i in rec["interferers"]} == {"CIN_fan_014.wav", "som_04766_05.wav"}
    assert rec["signals"]["target"]["CH1"].endswith("S06001_target_CH1.wav")
    assert rec["provenance"] == "CEC2"


def test_manifest_is_idempotent(fixtures_dir, tmp_path):
    a = prepare_clarity_split(fixtures_dir / "clarity", "dev", tmp_path / "a", required=REFS).read_bytes()
    b = prepare_clarity_split(fixtures_dir / "clarity", "dev", tmp_path / "b", required=REFS).read_bytes()
    assert a == b


def test_missing_mixture_named(fixtures_dir, tmp_path):
    # the fixture holds no S06001 mixture (see its README): the default roles require one
    with pytest.raises(AudioFileError, match=r"S06001_mix_CH1\.wav.*missing"):
        prepare_clarity_split(fixtures_dir / "clarity", "dev", tmp_path)


def test_truncated_wav_named(clarity_copy, tmp_path):
    p = clarity_copy / "clarity_data/dev/scenes/S06001_target_anechoic_CH1.wav"
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioFileError, match=r"S06001_target_anechoic_CH1\.wav.*truncated"):
        prepare_clarity_split(clarity_copy, "dev", tmp_path / "m", required=REFS)


def test_corrupt_wav_named(clarity_copy, tmp_path):
    p = clarity_copy / "clarity_data/dev/scenes/S06001_target_CH1.wav"
    p.write_bytes(b"not a wav file at all" * 10)
    with pytest.raises(AudioFileError, match=r"S06001_target_CH1\.wav.*unreadable"):
        prepare_clarity_split(clarity_copy, "dev", tmp_path / "m", required=REFS)


def test_wrong_rate_named(clarity_copy, tmp_path):
    p = clarity_copy / "clarity_data/dev/scenes/S06001_target_CH1.wav"
    x, _ = sf.read(p)
    sf.write(p, x, 16000)
    with pytest.raises(AudioFileError, match=r"S06001_target_CH1\.wav.*16000 Hz, expected 44100"):
        prepare_clarity_split(clarity_copy, "dev", tmp_path / "m", required=REFS)


def test_wrong_channel_count_named(clarity_copy, tmp_path):
    p = clarity_copy / "clarity_data/dev/scenes/S06001_target_CH1.wav"
    x, fs = sf.read(p)
    sf.write(p, x[:, 0], fs)
    with pytest.raises(AudioFileError, match=r"S06001_target_CH1\.wav.*1 channel"):
        prepare_clarity_split(clarity_copy, "dev", tmp_path / "m", required=REFS)


def test_missing_file_named(clarity_copy, tmp_path):
    (clarity_copy / "clarity_data/dev/scenes/S06001_target_anechoic_CH1.wav").unlink()
    with pytest.raises(AudioFileError, match=r"S06001_target_anechoic_CH1\.wav.*missing"):
        prepare_clarity_split(clarity_copy, "dev", tmp_path / "m", required=REFS)


def test_scene_without_listeners_named(clarity_copy, tmp_path):
    p = clarity_copy / "clarity_data/metadata/scenes_listeners.dev.json"
    p.write_text(json.dumps({"S09999": ["L0001"]}))
    with pytest.raises(ClarityLayoutError, match=r"scenes_listeners\.dev\.json.*S06001"):
        prepare_clarity_split(clarity_copy, "dev", tmp_path / "m", required=REFS)


def test_scene_key_missing_named(clarity_copy, tmp_path):
    p = clarity_copy / "clarity_data/metadata/scenes.dev.json"
    scenes = json.loads(p.read_text())
    del scenes[0]["SNR"]
    p.write_text(json.dumps(scenes))
    with pytest.raises(ClarityLayoutError, match=r"scenes\.dev\.json.*'SNR'"):
        prepare_clarity_split(clarity_copy, "dev", tmp_path / "m", required=REFS)


def test_failed_prepare_keeps_previous_manifest(clarity_copy, tmp_path):
    out = prepare_clarity_split(clarity_copy, "dev", tmp_path / "m", required=REFS)
    before = out.read_bytes()
    (clarity_copy / "clarity_data/dev/scenes/S06001_target_CH1.wav").unlink()
    with pytest.raises(AudioFileError):
        prepare_clarity_split(clarity_copy, "dev", tmp_path / "m", required=REFS)
    assert out.read_bytes() == before
    assert not list((tmp_path / "m").glob("*.tmp*"))


def test_reads_int16_and_float_alike(fixtures_dir):
    """int16 scene files and float32 target files are both scaled to [-1, 1] by soundfile."""
    from audiopipe.io import read_audio

    scene, _ = read_audio(fixtures_dir / "clarity/clarity_data/dev/scenes/S06001_target_CH1.wav")
    dry, _ = read_audio(fixtures_dir / "clarity/clarity_data/dev/targets/T010_G0N_02468.wav")
    assert scene.dtype == dry.dtype == np.float32
    assert 0.01 < np.abs(scene).max() <= 1.0 and 0.01 < np.abs(dry).max() <= 1.0
