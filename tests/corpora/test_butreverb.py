"""BUT ReverbDB adapter. The BUT ReverbDB audio is not in any public repository, so the test
builds its RIR-only layout (RIRs/<room>/env_meta.txt, MicID01/<speaker setup>/<mic>/mic_meta.txt
and RIR/IR_sweep_15s_45Hzto22kHz_FS16kHz.v00.wav) from REAL recordings of shared/fixtures: the
measured dEchorate RIRs resampled to 16 kHz (spherical-array microphones) and the 16 kHz
audiomentations IR (a microphone of another type)."""

from __future__ import annotations

import numpy as np
import pytest

from audiopipe.corpora._base import CorpusLayoutError, load_rir
from audiopipe.corpora.butreverb import prepare_butreverb
from audiopipe.io import read_jsonl
from tests.corpora._corpora_real import audiomentations_ir, dechorate_at, write_wav

RIR_NAME = "IR_sweep_15s_45Hzto22kHz_FS16kHz.v00.wav"
SPK = "SpkID01_20190503_S"


def _mic_meta(mid, type_id, pos, t60, src=(1.0, 2.0, 1.5)):
    lines = [f"$EnvMicID\t{mid}", f"$EnvMic{mid}TypeID\t{type_id}", f"$EnvMic{mid}RelRT60\t{t60}"]
    lines += [f"$EnvMic{mid}{k}\t{v}" for k, v in zip(("Depth", "Width", "Height"), pos, strict=True)]
    lines += [f"$EnvSpk1{k}\t{v}" for k, v in zip(("Depth", "Width", "Height"), src, strict=True)]
    return "# BUT ReverbDB mic metadata\n" + "\n".join(lines) + "\n"


def _tree(fixtures_dir, root):
    rirs = dechorate_at(fixtures_dir, 16000, 0.3)
    other, fs_o = audiomentations_ir(fixtures_dir)
    room = root / "RIRs/VUT_FIT_C236"
    room.mkdir(parents=True)
    (room / "env_meta.txt").write_text("$EnvName\tC236\n$EnvDepth\t7.0\n$EnvWidth\t4.1\n$EnvHeight\t3.6\n")
    spec = {1: ("01-1", (3.0, 2.0, 1.2), 0.60, rirs[0]), 2: ("01-2", (3.05, 2.0, 1.2), 0.62, rirs[6]),
            3: ("01-3", (3.0, 2.05, 1.2), 0.64, rirs[1]), 4: ("03-1", (5.0, 1.0, 1.0), 0.70, other[0])}
    for mid, (tid, pos, t60, x) in spec.items():
        d = room / "MicID01" / SPK / f"{mid:02d}"
        d.mkdir(parents=True)
        (d / "mic_meta.txt").write_text(_mic_meta(mid, tid, pos, t60))
        write_wav(d / "RIR" / RIR_NAME, x, 16000)
    return spec


def test_layout_arrays_and_load(fixtures_dir, tmp_path):
    spec = _tree(fixtures_dir, tmp_path / "but")
    recs = {r["id"]: r for r in read_jsonl(prepare_butreverb(tmp_path / "but", tmp_path / "out"))}
    sph = recs[f"butreverb_VUT_FIT_C236_{SPK}_spherical"]
    other = recs[f"butreverb_VUT_FIT_C236_{SPK}_type03"]
    assert sph["mic_ids"] == [1, 2, 3] and other["mic_ids"] == [4]
    assert sph["T60"] == pytest.approx(0.62) and sph["T60_per_channel"] == [0.6, 0.62, 0.64]
    assert sph["room_size"] == [7.0, 4.1, 3.6] and sph["source_position"] == [1.0, 2.0, 1.5]
    assert (sph["num_channels"], sph["sampling_rate"], sph["num_samples"]) == (3, 16000, 4800)
    m = load_rir(sph, channels=[2, 0])
    np.testing.assert_allclose(m.rir, np.stack([spec[3][3], spec[1][3]]), atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(m.mic_positions[0] - m.mic_positions[1]), 0.05)
    assert other["num_samples"] == len(spec[4][3])


@pytest.mark.parametrize("fault", ["nometa", "micid", "key", "stereo", "ext", "length"])
def test_malformed(fixtures_dir, tmp_path, fault):
    root = tmp_path / "but"
    spec = _tree(fixtures_dir, root)
    mdir = root / "RIRs/VUT_FIT_C236/MicID01" / SPK / "02"
    if fault == "nometa":
        (mdir / "mic_meta.txt").unlink()
        msg = r"02/mic_meta\.txt: missing file"
    elif fault == "micid":
        (mdir / "mic_meta.txt").write_text(_mic_meta(5, "01-5", (1, 1, 1), 0.6))
        msg = r"02/mic_meta\.txt: \$EnvMicID = 5 but the folder is 02"
    elif fault == "key":
        (mdir / "mic_meta.txt").write_text(_mic_meta(2, "01-2", (1, 1, 1), 0.6).replace("RelRT60", "RelRT30"))
        msg = r"02/mic_meta\.txt: missing key \$EnvMic2RelRT60"
    elif fault == "stereo":
        write_wav(mdir / "RIR" / RIR_NAME, np.stack([spec[2][3], spec[2][3]]), 16000)
        msg = r"v00\.wav: has 2 channel\(s\), expected 1"
    elif fault == "ext":
        (mdir / "RIR" / "IR.v00.npy").write_bytes(b"x")
        msg = r"RIR/IR\.v00\.npy: unexpected file in RIR folder"
    else:
        write_wav(mdir / "RIR" / RIR_NAME, spec[2][3][:1000], 16000)
        msg = r"SpkID01_20190503_S: RIRs of array type 01 differ in sampling rate \[16000\] or length"
    with pytest.raises(CorpusLayoutError, match=msg):
        prepare_butreverb(root, tmp_path / "out")
