"""LOCATA adapter. LOCATA audio and positions are not in any public repository (only loaders,
e.g. cevers/sap_locata_io), so the test builds the LOCATA layout
(<dev|eval>/task<N>/recording<M>/<array>/audio_array_<array>.wav, audio_source_<name>.wav,
position_array_<array>.txt, position_source_<name>.txt, required_time.txt) from REAL recordings
of shared/fixtures: a CMU ARCTIC utterance convolved with the measured dEchorate RIRs (whose
calibrated microphone and source positions become the LOCATA positions)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from audiopipe.corpora._base import CorpusLayoutError
from audiopipe.corpora.locata import prepare_locata
from audiopipe.io import read_audio, read_jsonl
from tests.corpora._corpora_real import dechorate, speech, write_wav

TIME = ["year", "month", "day", "hour", "minute", "second"]
ROT = [f"rotation_{i}{j}" for i in (1, 2, 3) for j in (1, 2, 3)]


def _table(path, header, rows):
    path.write_text("\t".join(header) + "\n" + "\n".join("\t".join(f"{v:.6f}" for v in r) for r in rows) + "\n")


def _times(n):
    return [[2017, 3, 1, 10, 0, 0.1 * k] for k in range(n)]


def _array_folder(adir, array, mics, src, rirs, x48, moving=False, n=10, mic_cols=True):
    adir.mkdir(parents=True)
    y = scipy.signal.fftconvolve(x48[None, :], rirs, axes=1)
    write_wav(adir / f"audio_array_{array}.wav", y / np.abs(y).max() * 0.9, 48000)
    write_wav(adir / "audio_source_talker1.wav", x48, 48000)
    centre = mics.mean(axis=0)
    header = TIME + ["x", "y", "z", "ref_vec_x", "ref_vec_y", "ref_vec_z"] + ROT
    if mic_cols:
        header += [f"mic{i + 1}_{a}" for i in range(len(mics)) for a in "xyz"]
    rows = []
    for k, t in enumerate(_times(n)):
        shift = np.array([0.05 * k, 0, 0]) if moving else np.zeros(3)
        r = t + list(centre + shift) + [1, 0, 0] + list(np.eye(3).ravel())
        rows.append(r + (list((mics + shift).ravel()) if mic_cols else []))
    _table(adir / f"position_array_{array}.txt", header, rows)
    _table(adir / "position_source_talker1.txt", TIME + ["x", "y", "z", "ref_vec_x", "ref_vec_y", "ref_vec_z"],
           [t + list(src) + [1, 0, 0] for t in _times(n)])
    _table(adir / "required_time.txt", TIME + ["valid_flag"], [t + [1] for t in _times(n)])


def _tree(fixtures_dir, root, **kw):
    d = dechorate(fixtures_dir)
    _, x, fs = speech(fixtures_dir)[0]
    x48 = scipy.signal.resample_poly(x, 3, 1)[: 2 * 48000]
    rir = d["rir"][:, :9600]
    dummy = [0, 6, 1, 7]  # capsules 1, 2 (array 1) and 6, 7 (array 2) of the .mat
    _array_folder(root / "dev/task1/recording1/dummy", "dummy", d["mics"][dummy], d["src"], rir[dummy], x48, **kw)
    _array_folder(root / "eval/task5/recording2/benchmark2", "benchmark2", d["mics"], d["src"], rir, x48, moving=True)
    return d


def test_layout_positions_and_tdoa(fixtures_dir, tmp_path):
    d = _tree(fixtures_dir, tmp_path / "locata")
    recs = {r["id"]: r for r in read_jsonl(prepare_locata(tmp_path / "locata", tmp_path / "out"))}
    a = recs["locata_dev_task1_recording1_dummy"]
    b = recs["locata_eval_task5_recording2_benchmark2"]
    assert (a["num_channels"], b["num_channels"], a["sampling_rate"]) == (4, 12, 48000)
    assert (a["task"], a["recording"], a["split"], a["array_moving"], b["array_moving"]) == (1, 1, "dev", False, True)
    assert a["num_required_times"] == 10 and a["room_size"] == [7.1, 9.8, 3.0]
    (s,) = a["sources"]
    assert s["name"] == "talker1" and s["static"] and s["path"].endswith("audio_source_talker1.wav")
    np.testing.assert_allclose(s["source_position"], d["src"], atol=1e-6)
    mics = np.array(a["mic_positions"])
    np.testing.assert_allclose(mics, d["mics"][[0, 6, 1, 7]], atol=1e-6)
    # the manifest geometry is that of the audio: the strongest peak of the RIR estimated from
    # the array recording and the source signal (Wiener deconvolution) is the direct path, at the
    # source-microphone distance over the speed of sound
    y, fs = read_audio(a["path"])
    x, _ = read_audio(s["path"])
    n = y.shape[1] + x.shape[1]
    S = np.fft.rfft(x[0], n=n)
    H = np.fft.rfft(y, n=n) * np.conj(S) / (np.abs(S) ** 2 + 1e-3 * np.mean(np.abs(S) ** 2))
    lags = np.argmax(np.abs(np.fft.irfft(H, n=n)[:, : fs // 10]), axis=1)
    dist = np.linalg.norm(mics - np.array(s["source_position"]), axis=1)  # 1.33, 1.30, 2.58, 2.62 m
    np.testing.assert_allclose(lags / fs, dist / 343.0, atol=0.1e-3)  # delays 3.8-7.6 ms


@pytest.mark.parametrize("fault", ["required", "channels", "miccol", "array", "task", "srcpos"])
def test_malformed(fixtures_dir, tmp_path, fault):
    root = tmp_path / "locata"
    _tree(fixtures_dir, root, mic_cols=fault != "miccol")
    adir = root / "dev/task1/recording1/dummy"
    if fault == "required":
        (adir / "required_time.txt").unlink()
        msg = r"dummy/required_time\.txt: missing file"
    elif fault == "channels":
        write_wav(adir / "audio_array_dummy.wav", np.zeros((3, 4800)), 48000)
        msg = r"audio_array_dummy\.wav: has 3 channel\(s\), expected 4"
    elif fault == "miccol":
        msg = r"position_array_dummy\.txt: missing column\(s\) \['mic1_x'"
    elif fault == "array":
        adir.rename(adir.parent / "kinect")
        msg = r"recording1/kinect: unknown LOCATA array 'kinect'"
    elif fault == "task":
        (root / "dev/task1").rename(root / "dev/t1")
        msg = r"dev/t1: expected a task<N> folder"
    else:
        (adir / "position_source_talker1.txt").unlink()
        msg = r"position_source_talker1\.txt: missing file"
    with pytest.raises(CorpusLayoutError, match=msg):
        prepare_locata(root, tmp_path / "out")
