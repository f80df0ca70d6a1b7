"""Small signal shards in the acoustics stage's shard contract, built from REAL fixtures.

Until the acoustics branch writes simulated shards, the SAR-SSL tests, benchmark and demo build
their own: real 16 kHz speech (CMU ARCTIC clips, pyannote sample) convolved with the 12 measured
dEchorate RIRs (48 kHz, resampled to 16 kHz with ``scipy.signal.resample_poly``). Every ordered
microphone pair (i < j) of the 12 dEchorate capsules is one pseudo-"room" (``room_id``): they all
come from one physical room, so T60 and absorption barely vary between them — the data exercise
the code, they do not reproduce the paper's room diversity.

Labels are computed simply (not the acoustics helper's estimators):

* TDOA: difference of the annotated direct-path times ``T_direct`` (s; samples at 16 kHz);
* DRR: energy within +-2.5 ms of the direct path over the energy after it (channel 0, dB);
* C50: energy up to 50 ms after the direct path over the energy after that (channel 0, dB);
* T60: Schroeder backward integration of channel 0, line fit from -5 to -25 dB, times 3 (s);
* absorption: Sabine, ``0.161 V / (S T60)`` with the dEchorate room (5.705 x 5.965 x 2.355 m).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import h5py
import numpy as np
import scipy.io
import scipy.signal

from audiopipe.io import atomic_path, read_audio

FS = 16000
SPEECH = ("speech/cmu_arctic/cmu_arctic_us_aew_a0001.wav",
          "speech/cmu_arctic/cmu_arctic_us_axb_a0004.wav",
          "speech/pyannote_sample/sample.wav")
DECHORATE = "rir/dechorate/dechorate_room011111_src1_12mics_rirs.mat"
ROOM_DIMS = (5.705, 5.965, 2.355)


def load_dechorate(fixtures: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 12 dEchorate RIRs at 16 kHz ``(12, samples)`` and direct-path times (12,) in s."""
    m = scipy.io.loadmat(fixtures / DECHORATE)
    fs = int(m["fs"][0, 0])
    rirs = scipy.signal.resample_poly(m["rirs"][:, :, 0].T, FS, fs, axis=1)
    return rirs.astype(np.float64), m["T_direct"][0].astype(np.float64)


def rir_labels(h0: np.ndarray, t0: float, t1: float) -> dict[str, float]:
    """Simple acoustic labels of a microphone pair (see module docstring)."""
    d = int(round(t0 * FS))
    w = int(0.0025 * FS)
    e = h0.astype(np.float64) ** 2
    direct = e[max(d - w, 0):d + w + 1].sum()
    drr = 10 * np.log10(direct / e[d + w + 1:].sum())
    c = d + int(0.05 * FS)
    c50 = 10 * np.log10(e[:c].sum() / e[c:].sum())
    edc = np.cumsum(e[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    i5, i25 = np.argmax(edc_db <= -5), np.argmax(edc_db <= -25)
    slope = np.polyfit(np.arange(i5, i25) / FS, edc_db[i5:i25], 1)[0]
    t60 = -60.0 / slope
    lx, ly, lz = ROOM_DIMS
    vol, surf = lx * ly * lz, 2 * (lx * ly + lx * lz + ly * lz)
    return {"tdoa_s": t1 - t0, "tdoa_samples": (t1 - t0) * FS, "drr_db": drr, "t60_s": t60,
            "c50_db": c50, "absorption": min(0.161 * vol / (surf * t60), 1.0)}


def build_fixture_shards(fixtures: Path, out_dir: Path, *, rooms: dict[str, int] | None = None,
                         per_room: int = 4, seconds: float = 0.528, seed: int = 0,
                         int16_sets: tuple[str, ...] = ()) -> dict[str, Path]:
    """Write one shard per set; room ids are disjoint across sets.

    Parameters
    ----------
    fixtures : Path
        The shared fixtures directory.
    out_dir : Path
        Shards go to ``out_dir/<set>.h5``.
    rooms : dict
        Set name -> number of pseudo-rooms (default pretrain 16, train 16, val 4, test 4;
        66 pairs exist).
    per_room : int
        Examples per pseudo-room.
    seconds : float
        Signal duration (0.528 s gives 32 STFT frames).
    int16_sets : tuple of str
        Sets stored as int16 with a ``scale`` attribute (the contract's other option).
    """
    rooms = rooms or {"pretrain": 16, "train": 16, "val": 4, "test": 4}
    rirs, tdir = load_dechorate(Path(fixtures))
    speech = [read_audio(Path(fixtures) / s, sampling_rate=FS)[0][0] for s in SPEECH]
    pairs = list(itertools.combinations(range(12), 2))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pairs))
    if sum(rooms.values()) > len(pairs):
        raise ValueError(f"{sum(rooms.values())} rooms asked, {len(pairs)} microphone pairs exist")
    n_samp = int(round(seconds * FS))
    out, k = {}, 0
    for name, n_rooms in rooms.items():
        sig, lab, rid, prov = [], {key: [] for key in rir_labels(rirs[0], 0.004, 0.004)}, [], []
        for _ in range(n_rooms):
            pid = int(order[k])
            k += 1
            i, j = pairs[pid]
            labels = rir_labels(rirs[i], tdir[i], tdir[j])
            for _ in range(per_room):
                src = speech[rng.integers(len(speech))]
                start = int(rng.integers(0, len(src) - n_samp - rirs.shape[1]))
                s = src[start:start + n_samp + rirs.shape[1]]
                y = np.stack([scipy.signal.fftconvolve(s, rirs[c])[rirs.shape[1]:][:n_samp]
                              for c in (i, j)])
                y = y / (np.abs(y).max() + 1e-9) * 0.5
                sig.append(y.astype(np.float32))
                for key, v in labels.items():
                    lab[key].append(v)
                rid.append(pid)
                prov.append(json.dumps({"rir": DECHORATE, "mics": [i, j], "start": start,
                                        "note": "fixture shard built by tests"}))
        x = np.stack(sig)
        path = Path(out_dir) / f"{name}.h5"
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as f:
                if name in int16_sets:
                    scale = float(np.abs(x).max()) / 32767.0
                    d = f.create_dataset("signals", data=np.round(x / scale).astype(np.int16))
                    d.attrs["scale"] = scale
                else:
                    f.create_dataset("signals", data=x)
                for key, v in lab.items():
                    f.create_dataset(f"labels/{key}", data=np.asarray(v, np.float32))
                f.create_dataset("room_id", data=np.asarray(rid, np.int64))
                f.create_dataset("provenance", data=np.asarray(prov, dtype=object),
                                 dtype=h5py.string_dtype("utf-8"))
                f.attrs.update(sampling_rate=FS, seed=seed, set=name, backend="fixture-dechorate")
        out[name] = path
    return out
