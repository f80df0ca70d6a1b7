"""Two-microphone segments of LOCATA recordings with their TDOA (SAR-SSL's real-data TDOA task).

Source: SAR-SSL reference code (``Audio-WestlakeU/SAR-SSL``), ``code/data_generation/gen_LOCATA.py``
and ``utils_LOCATA.py`` (``LOCATADataset``), and the paper's real-world experiments (arXiv
2312.00476): the TDOA task is trained and tested on LOCATA segments of ``T = 1.04`` s.

One example:

1. A recording (array folder) of the split's LOCATA part is drawn uniformly, then one of its
   microphone pairs whose spacing lies in ``mic_dist_range`` (SAR-SSL's ``prob_mode=['']``:
   every recording weighs the same, whatever its number of pairs). Only the single-source tasks
   (SAR-SSL: 1, 3, 5) and the chosen arrays (SAR-SSL: ``dicit``, ``benchmark2``, ``eigenmike``)
   take part.
2. The leading silence is skipped: its length is the time of the first sample of channel 1 (in
   the first 4 s) above 0.15 times that stretch's peak (``_calculate_silence_beginning``).
3. The segment start is uniform in the split's share of the rest of the recording:
   ``train`` = first 80 % of the ``eval`` recordings, ``val`` = last 20 % of them, ``test`` =
   all of each ``dev`` recording. A recording shorter than 10 s gives ``train`` its first half and
   ``val`` its second half (the reference's rule). Recordings shorter than ``2 * 1.1`` s after the
   silence, or whose share cannot hold one segment, are left out and logged.
4. The two channels are read at the file's rate, resampled to ``sampling_rate`` with
   ``scipy.signal.resample_poly`` and divided by their joint peak.
5. Label: the TDOA of microphone 2 relative to microphone 1, ``(|s - m_2| - |s - m_1|) / c``
   (:func:`audiopipe.acoustics.params.tdoa`'s convention), computed at every position time
   stamp from the source trajectory and the microphone trajectory (so a moving array, tasks 5-6,
   and a moving talker, tasks 3 and 5, are followed), interpolated linearly to every output
   sample, and averaged over the segment (SAR-SSL ``src_single_static=True``); ``tdoa_samples``
   is at ``sampling_rate``. The other labels (DRR, T60, C50, absorption) are NaN: LOCATA has no
   RIRs.

Difference from the reference: SAR-SSL recomputes the microphone positions from its own
array-relative tables rotated by the first ``rotation_*`` matrix (and moved with the array in
tasks 5-6); audiopipe reads the room-frame ``mic<i>_x/y/z`` columns of ``position_array_*.txt``
at every time stamp, the positions the LOCATA I/O tools (``sap_locata_io``) use. Its eigenmike
table repeats a capsule position (rows 6 and 8), so the two can differ there.

Determinism: example ``i`` of set ``s`` uses ``numpy.random.default_rng(stable_seed(seed, s, i))``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from audiopipe.corpora._base import mic_pairs
from audiopipe.corpora.locata import read_mic_trajectory, read_required_times, read_source_trajectory
from audiopipe.io import stable_seed
from audiopipe.signals.examples import shard_range, stack_examples
from audiopipe.signals.shards import LABELS

log = logging.getLogger(__name__)

#: split -> (LOCATA part, (start, end) fraction of each recording after its leading silence)
SPLITS = {"train": ("eval", (0.0, 0.8)), "val": ("eval", (0.8, 1.0)), "test": ("dev", (0.0, 1.0))}
#: SAR-SSL: a recording must last at least 2 x 1.1 s after its leading silence
MIN_HALF_S = 1.1
#: SAR-SSL: recordings shorter than this (s) split train/val by halves
SHORT_RECORDING_S = 10.0


@dataclass(frozen=True)
class LocataRecording:
    """One array recording of the pool, with its usable microphone pairs.

    Attributes
    ----------
    record : dict
        The ``prepare_locata`` manifest record.
    pairs : list of (int, int)
        Channel pairs (0-based) whose spacing lies in the pool's range.
    silence_s : float
        Leading silence skipped (s).
    window : (int, int)
        First and last allowed start sample (at the file's rate) of a segment.
    """

    record: dict
    pairs: list
    silence_s: float
    window: tuple


def leading_silence_s(path: str | Path, max_s: float = 4.0, threshold: float = 0.15) -> float:
    """Length (s) of a recording's leading silence: the time of the first sample of channel 1,
    within the first ``max_s`` s, above ``threshold`` times that stretch's peak (SAR-SSL
    ``LOCATADataset._calculate_silence_beginning``).

    Raises
    ------
    soundfile.LibsndfileError
        If the file cannot be read.
    """
    info = sf.info(str(path))
    x, fs = sf.read(str(path), frames=int(info.samplerate * max_s), dtype="float32", always_2d=True)
    ch = x[:, 0]
    return float(np.argmax(ch > ch.max() * threshold)) / fs


def segment_window(num_samples: int, fs: int, silence_s: float, fraction: tuple[float, float],
                   duration_s: float) -> tuple[int, int] | None:
    """First and last start sample of a ``duration_s`` segment in a split's share of a recording.

    ``fraction`` applies to the part after the leading silence; a part shorter than
    :data:`SHORT_RECORDING_S` uses its first half when the fraction's centre is below 0.5, else
    its second half (SAR-SSL). Returns ``None`` when the part is shorter than ``2 * 1.1`` s or
    the share cannot hold one segment.
    """
    usable = num_samples / fs - silence_s
    n = int(usable * fs)
    want = int(duration_s * fs)
    if n < want or usable < 2 * MIN_HALF_S:
        return None
    lo_f, hi_f = fraction
    if usable < SHORT_RECORDING_S:
        lo_f, hi_f = (0.0, 0.5) if (lo_f + hi_f) / 2 < 0.5 else (0.5, 1.0)
    lo = round(n * lo_f + fs * silence_s)
    hi = round(n * hi_f + fs * silence_s) - want
    return (lo, hi) if hi > lo else None


def locata_pool(records: list[dict], split: str, *, tasks=(1, 3, 5),
                arrays=("dicit", "benchmark2", "eigenmike"),
                dist_range: tuple[float, float] = (0.03, 0.20), duration_s: float = 1.04,
                source: str = "") -> list[LocataRecording]:
    """The recordings (and microphone pairs) a split draws its segments from.

    Parameters
    ----------
    records : list of dict
        ``prepare_locata`` manifest records (``kind == "array_recording"``).
    split : {"train", "val", "test"}
        See :data:`SPLITS`.
    tasks, arrays : sequence
        LOCATA tasks and arrays to use.
    dist_range : tuple of float
        Microphone spacing range in m (first time stamp).
    duration_s : float
        Segment length in s.
    source : str
        Manifest name for messages.

    Returns
    -------
    list of LocataRecording
        Sorted by record id.

    Raises
    ------
    KeyError
        Unknown split.
    ValueError
        A selected recording has not exactly one source, or no recording is left.
    """
    if split not in SPLITS:
        raise KeyError(f"unknown LOCATA split {split!r}; expected one of {sorted(SPLITS)}")
    part, fraction = SPLITS[split]
    pool = []
    for r in sorted(records, key=lambda r: r["id"]):
        if r.get("kind") != "array_recording" or r["split"] != part or int(r["task"]) not in tasks \
                or r["array"] not in arrays:
            continue
        if len(r["sources"]) != 1:
            raise ValueError(f"{source}: record {r['id']!r} has {len(r['sources'])} sources; the TDOA task "
                             f"uses single-source tasks (SAR-SSL: 1, 3, 5), got tasks {list(tasks)}")
        pairs = mic_pairs(r["mic_positions"], tuple(dist_range))
        if not pairs:
            log.info("%s: no microphone pair in %s m, left out", r["id"], list(dist_range))
            continue
        sil = leading_silence_s(r["path"])
        win = segment_window(int(r["num_samples"]), int(r["sampling_rate"]), sil, fraction, duration_s)
        if win is None:
            log.info("%s: too short for %s-s %s segments after %.2f s of silence, left out",
                     r["id"], duration_s, split, sil)
            continue
        pool.append(LocataRecording(r, pairs, sil, win))
    if not pool:
        raise ValueError(f"{source}: no LOCATA {part} recording of tasks {list(tasks)} and arrays "
                         f"{list(arrays)} can give {duration_s}-s {split} segments")
    return pool


def tdoa_track(record: dict, pair: tuple[int, int], times_s: np.ndarray,
               sound_speed: float = 343.0) -> np.ndarray:
    """TDOA (s) of ``pair`` at ``times_s`` (s from the first audio sample).

    The TDOA is computed at the position time stamps of the array and source files and
    interpolated linearly (held constant outside them).

    Raises
    ------
    audiopipe.corpora.CorpusLayoutError
        A position or time file is missing or malformed.
    """
    adir = Path(record["path"]).parent
    t0 = read_required_times(Path(record["required_time_path"]))[0]
    ta, mics = read_mic_trajectory(adir / f"position_array_{record['array']}.txt", int(record["num_channels"]))
    src = record["sources"][0]
    ts, s = read_source_trajectory(Path(src["position_path"]))
    grid = np.union1d(ta, ts) - t0
    m1 = np.stack([np.interp(grid, ta - t0, mics[:, pair[0], a]) for a in range(3)], -1)
    m2 = np.stack([np.interp(grid, ta - t0, mics[:, pair[1], a]) for a in range(3)], -1)
    sp = np.stack([np.interp(grid, ts - t0, s[:, a]) for a in range(3)], -1)
    tau = (np.linalg.norm(sp - m2, axis=-1) - np.linalg.norm(sp - m1, axis=-1)) / sound_speed
    return np.interp(times_s, grid, tau)


def locata_example(rng: np.random.Generator, pool: list[LocataRecording], duration_s: float, fs_out: int,
                   sound_speed: float = 343.0) -> tuple[np.ndarray, dict, int, dict]:
    """One segment: ``(signal (2, duration_s * fs_out), labels, room id 0, provenance)``."""
    rec = pool[int(rng.integers(len(pool)))]
    pair = rec.pairs[int(rng.integers(len(rec.pairs)))]
    r = rec.record
    fs = int(r["sampling_rate"])
    want = int(duration_s * fs)
    st = int(rng.integers(rec.window[0], rec.window[1]))
    x, _ = sf.read(r["path"], start=st, stop=st + want, dtype="float32", always_2d=True)
    x = x[:, list(pair)].T.astype(np.float64)
    if fs != fs_out:
        q = Fraction(fs_out, fs)
        x = scipy.signal.resample_poly(x, q.numerator, q.denominator, axis=1)
    n_out = int(round(duration_s * fs_out))
    x = x[:, :n_out]
    if x.shape[1] < n_out:
        x = np.pad(x, ((0, 0), (0, n_out - x.shape[1])))
    peak = float(np.abs(x).max())
    if peak > 0:
        x = x / peak
    t = np.arange(n_out) / fs_out + st / fs
    tau = tdoa_track(r, pair, t, sound_speed)
    tdoa_s = float(tau.mean())
    labels = {k: float("nan") for k in LABELS}
    labels.update(tdoa_s=tdoa_s, tdoa_samples=tdoa_s * fs_out)
    mics = np.asarray(r["mic_positions"])
    prov = {
        "recording": r["id"], "path": r["path"], "task": r["task"], "array": r["array"],
        "mic_pair": list(pair), "mic_spacing_m": float(np.linalg.norm(mics[pair[1]] - mics[pair[0]])),
        "source": r["sources"][0]["name"], "start_s": st / fs, "silence_s": rec.silence_s,
        "tdoa_s_min": float(tau.min()), "tdoa_s_max": float(tau.max()), "peak": peak,
    }
    return x.astype(np.float32), labels, 0, prov


def locata_shard(records: list[dict], *, seed: int, set_name: str, split: str, n_examples: int, n_shards: int,
                 shard: int, duration_s: float = 1.04, sampling_rate: int = 16000, tasks=(1, 3, 5),
                 arrays=("dicit", "benchmark2", "eigenmike"), dist_range=(0.03, 0.20),
                 sound_speed: float = 343.0, source: str = ""):
    """The examples of one shard of a LOCATA segment set.

    Returns
    -------
    signals : numpy.ndarray, shape (n, 2, samples), float32
    labels : dict of numpy.ndarray (n,)
        :data:`audiopipe.signals.shards.LABELS`; only the TDOA is finite.
    room_id : numpy.ndarray (n,) int64
        All 0 (LOCATA is one room).
    provenance : list of dict
        Per example: recording, task, array, pair, spacing, start and silence (s), TDOA range
        over the segment (s), example index and seed.

    Raises
    ------
    KeyError, ValueError
        See :func:`locata_pool` and :func:`audiopipe.signals.examples.shard_range`.
    """
    pool = locata_pool(records, split, tasks=tasks, arrays=arrays, dist_range=dist_range,
                       duration_s=duration_s, source=source)
    examples = []
    for i in shard_range(n_examples, n_shards, shard):
        s = stable_seed(seed, set_name, i)
        x, lab, rid, prov = locata_example(np.random.default_rng(s), pool, duration_s, sampling_rate, sound_speed)
        prov.update(example=i, seed=s, split=split, manifest=source)
        examples.append((x, lab, rid, prov))
    return stack_examples(examples, int(round(duration_s * sampling_rate)))
