"""Two-microphone examples made from MEASURED RIRs (SAR-SSL's measured-RIR sets), sharded.

One example = a corpus room drawn uniformly, then one (RIR record, microphone pair) of that room
drawn uniformly among the pairs whose spacing lies in ``mic_dist_range``
(:func:`audiopipe.corpora._base.mic_pairs`), the two measured RIRs resampled to the set's rate
(``scipy.signal.resample_poly``, as SAR-SSL's ``gen_real_rir.py`` does), a speech excerpt
convolved with them, diffuse noise at a random SNR against the direct-path signal (as the
simulated sets, :mod:`audiopipe.signals.examples`), then everything divided by its peak.
Source: SAR-SSL reference code (Audio-WestlakeU/SAR-SSL), ``code/data_generation/gen_real_rir.py``
(pairs of every corpus filtered by spacing 0.03-0.20 m, RIRs resampled with ``resample_poly``)
and ``code_v1/data_generation_SIGfromMeasuredRIR.py`` / ``dataset.RandomMicSigDataset_FromRIR``
(speech convolved with a stored RIR, noise at an SNR). SAR-SSL draws the RIR uniformly over all
stored pair-RIRs and adds the corpus' recorded noise where it has one; audiopipe draws the room
first (so rooms with many microphones do not dominate) and adds generated diffuse noise.

Labels (:func:`measured_labels`) are measured on the resampled pair with the functions of
:mod:`audiopipe.acoustics.params`:

* Direct path of each channel: a measured RIR has no separate direct-path RIR, so its direct
  path is its peak, found by :func:`audiopipe.acoustics.params.direct_path_index`: by default the
  signed maximum ``argmax h`` (``direct_path="signed"``), as SAR-SSL's ``dpRIR_from_RIR`` which
  builds the direct-path RIR of every measured set of the reference code; ``direct_path="abs"``
  takes ``argmax |h|``. They are different samples when the largest excursion is negative: on the
  dEchorate fixture (48 kHz) 3 of 12 capsules peak at -1: their signed maximum lies 0.26-0.42 ms
  after the annotated arrival, where ``argmax |h|`` lies within 0.04 ms of it.
* TDOA: from the geometry (``tdoa_method="geometry"``) when the record gives microphone and
  source positions, with the record's ``speed_of_sound`` when it has one (as SAR-SSL's measured
  sets, which all have positions); otherwise audiopipe's own fallback, from the arrival peaks
  (``tdoa_method="peaks"``): ``(argmax|h_2| - argmax|h_1|) / fs``, whole samples. The arrival
  peak is ``argmax |h|`` whatever ``direct_path`` says: the signed maximum of an
  inverted-polarity capsule lies several samples after its arrival (on the dEchorate fixture at
  16 kHz it gives TDOAs of up to 8 samples for 4-cm pairs, whose true TDOA is at most 1.85), while
  ``argmax |h|`` misses the geometric TDOA by at most 1.8 samples there.
* DRR and C50 on the first channel around its direct-path sample (SAR-SSL
  ``AcousticScene.simulate`` with ``dpRIR_from_RIR``).
* T60: mean over the two channels of :func:`audiopipe.acoustics.params.t60_edc`.
* Absorption: Sabine's formula with the measured T60 and the room size (the record's, else the
  set's ``room_size``).

The corpus' own T60/DRR annotations and annotated direct-path times, when present, go into the
provenance (``annotated``), never into the labels.

Direct-path signal (the SNR reference): each channel's RIR restricted to ``+-drr_window_ms``
around its direct-path sample (SAR-SSL ``dpRIR_from_RIR``), convolved with the speech.

Determinism: example ``i`` of set ``s`` uses ``numpy.random.default_rng(stable_seed(seed, s, i))``,
so an example does not depend on how the set is sharded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.signal

from audiopipe.acoustics.params import absorption_sabine, c50_db, direct_path_index, drr_db, t60_edc, tdoa
from audiopipe.corpora._base import load_rir, mic_pairs
from audiopipe.io import stable_seed
from audiopipe.signals.examples import SimulationConfig, add_noise, shard_range, stack_examples
from audiopipe.signals.mix import convolve_rirs, speech_excerpt

TDOA_METHODS = ("geometry", "peaks")


@dataclass(frozen=True)
class PairEntry:
    """One (RIR record, microphone pair) of the pool.

    Attributes
    ----------
    record : dict
        The manifest record (``kind == "rir"``).
    pair : tuple of int
        Channel indices (0-based, into the record's channels).
    room_id : int
        Index of the record's room among the sorted rooms of the manifest.
    """

    record: dict
    pair: tuple[int, int]
    room_id: int


def room_key(record: dict) -> str:
    """The room a record belongs to: its ``corpus/room`` (``corpus/<id>`` when it names none)."""
    room = record.get("room")
    return f"{record.get('corpus', '?')}/{room if room is not None else record['id']}"


def pair_pool(records: list[dict], dist_range: tuple[float, float] = (0.03, 0.20),
              source: str = "") -> tuple[list[str], list[list[PairEntry]]]:
    """Rooms of a measured-RIR manifest and, per room, its (record, microphone pair) entries.

    Parameters
    ----------
    records : list of dict
        Manifest records; only ``kind == "rir"`` ones are used.
    dist_range : tuple of float
        Microphone spacing range in m (SAR-SSL: 0.03-0.20 m).
    source : str
        Manifest name for error messages.

    Returns
    -------
    rooms : list of str
        Sorted :func:`room_key` values; ``room_id`` indexes this list.
    entries : list of list of PairEntry
        ``entries[room_id]``: the room's entries, sorted by record id then pair.

    Raises
    ------
    ValueError
        If no record is an RIR, a record has no ``mic_positions``, or no pair of any record lies
        in ``dist_range``.
    """
    rirs = sorted((r for r in records if r.get("kind") == "rir"), key=lambda r: r["id"])
    if not rirs:
        raise ValueError(f"{source}: measured-RIR manifest holds no kind='rir' record")
    rooms = sorted({room_key(r) for r in rirs})
    entries: list[list[PairEntry]] = [[] for _ in rooms]
    for r in rirs:
        pos = r.get("mic_positions")
        if pos is None:
            raise ValueError(f"{source}: record {r['id']!r} has no mic_positions; pairs cannot be chosen by spacing")
        rid = rooms.index(room_key(r))
        entries[rid] += [PairEntry(r, p, rid) for p in mic_pairs(pos, tuple(dist_range))]
    keep = [i for i, e in enumerate(entries) if e]
    if not keep:
        raise ValueError(f"{source}: no microphone pair with spacing in {list(dist_range)} m")
    return [rooms[i] for i in keep], [[PairEntry(e.record, e.pair, k) for e in entries[i]] for k, i in enumerate(keep)]


def load_pair(entry: PairEntry, fs: int) -> tuple[np.ndarray, dict]:
    """The two measured RIRs of an entry at ``fs`` Hz and their geometry.

    Returns
    -------
    rir : numpy.ndarray, shape (2, samples), float64
        Resampled with ``scipy.signal.resample_poly`` when the corpus rate differs from ``fs``.
    info : dict
        ``mic_positions`` ((2, 3) m or None), ``source_position`` ((3,) m or None),
        ``sound_speed`` (m/s or None), ``rir_fs`` (Hz), ``annotated`` (corpus T60/DRR and
        direct-path times of the two channels, where given), ``room_size`` (m or None).

    Raises
    ------
    audiopipe.corpora.CorpusLayoutError
        If the stored RIR no longer matches its record.
    """
    m = load_rir(entry.record, list(entry.pair))
    rir = m.rir
    if m.sampling_rate != fs:
        q = Fraction(int(fs), int(m.sampling_rate))
        rir = scipy.signal.resample_poly(rir, q.numerator, q.denominator, axis=-1)
    annotated = {}
    if m.T60 is not None:
        annotated["T60_s"] = float(m.T60)
    if m.DRR is not None:
        annotated["DRR_db"] = [float(v) for v in np.ravel(m.DRR)]
    if m.direct_path_times is not None:
        annotated["direct_path_times_s"] = [float(v) for v in np.ravel(m.direct_path_times)]
    c = entry.record.get("speed_of_sound")
    return np.asarray(rir, np.float64), {
        "mic_positions": m.mic_positions,
        "source_position": m.source_position,
        "sound_speed": None if c is None else float(c),
        "rir_fs": int(m.sampling_rate),
        "annotated": annotated,
        "room_size": m.room_size,
    }


def measured_labels(rir: np.ndarray, fs: float, *, mic_pos=None, src_pos=None, room_size=None,
                    sound_speed: float = 343.0, drr_window_ms: float = 2.5, early_ms: float = 50.0,
                    absorption_surface: str = "total", direct_path: str = "signed") -> dict:
    """SAR-SSL labels of a measured two-microphone RIR.

    Parameters
    ----------
    rir : numpy.ndarray, shape (2, samples)
        Measured RIRs at ``fs``.
    fs : float
        Sampling rate in Hz.
    mic_pos : array-like, shape (2, 3), optional
        Microphone positions in m.
    src_pos : array-like, shape (3,), optional
        Source position in m (same frame). With ``mic_pos`` it gives the TDOA from the geometry;
        without, the TDOA comes from the direct-path peaks.
    room_size : array-like, shape (3,), optional
        Room size in m for the absorption; absorption is NaN without it.
    sound_speed : float
        m/s.
    drr_window_ms, early_ms : float
        DRR half-window and C50 early limit in ms.
    absorption_surface : {"total", "half"}
    direct_path : {"signed", "abs"}
        Direct-path peak picker (:func:`audiopipe.acoustics.params.direct_path_index`; SAR-SSL:
        ``"signed"``).

    Returns
    -------
    dict
        ``tdoa_s``, ``tdoa_samples``, ``tdoa_method`` (``geometry`` or ``peaks``), ``drr_db``,
        ``c50_db``, ``t60_s``, ``t60_fit_r``, ``absorption``, ``direct_index`` (direct-path sample
        of each channel by ``direct_path``: the DRR/C50 reference and the centre of the
        direct-path part), ``arrival_index`` (``argmax |h|`` of each channel, for the TDOA from
        peaks).

    Raises
    ------
    ValueError
        If ``rir`` is not ``(2, samples)``, a channel is all zeros or ``direct_path`` is unknown.
    """
    rir = np.asarray(rir, np.float64)
    if rir.ndim != 2 or rir.shape[0] != 2:
        raise ValueError(f"rir must have shape (2, samples), got {rir.shape}")
    if not np.all(np.any(rir != 0, axis=1)):
        raise ValueError("a measured RIR channel is all zeros")
    peaks = np.array([direct_path_index(ch, direct_path=direct_path) for ch in rir])
    arrivals = np.array([direct_path_index(ch, direct_path="abs") for ch in rir])
    if mic_pos is not None and src_pos is not None:
        tdoa_s, tdoa_n = tdoa(mic_pos, src_pos, sound_speed, fs)
        method = "geometry"
    else:
        tdoa_n = float(arrivals[1] - arrivals[0])
        tdoa_s, method = tdoa_n / fs, "peaks"
    t60s, rs = zip(*(t60_edc(ch, fs) for ch in rir))
    t60 = float(np.mean(t60s))
    ok = room_size is not None and math.isfinite(t60) and t60 > 0
    return {
        "tdoa_s": float(tdoa_s),
        "tdoa_samples": float(tdoa_n),
        "tdoa_method": method,
        "drr_db": drr_db(rir[0], fs, int(peaks[0]), drr_window_ms),
        "c50_db": c50_db(rir[0], fs, int(peaks[0]), early_ms),
        "t60_s": t60,
        "t60_fit_r": float(np.mean(rs)),
        "absorption": absorption_sabine(room_size, t60, absorption_surface) if ok else float("nan"),
        "direct_index": [int(p) for p in peaks],
        "arrival_index": [int(p) for p in arrivals],
    }


def direct_part(rir: np.ndarray, peaks, fs: float, window_ms: float) -> np.ndarray:
    """Each channel of ``rir`` (channels, samples) kept within ``+-window_ms`` of its peak, zero elsewhere.

    With ``peaks`` the signed maxima this is SAR-SSL's ``dpRIR_from_RIR`` (samples
    ``n_d - n_0 .. n_d + n_0``, ``n_0 = int(fs * window_ms / 1000)``).
    """
    n0 = int(fs * window_ms / 1000)
    out = np.zeros_like(rir)
    for c, p in enumerate(peaks):
        lo, hi = max(0, int(p) - n0), int(p) + n0 + 1
        out[c, lo:hi] = rir[c, lo:hi]
    return out


def make_measured_example(rng: np.random.Generator, entries: list[list[PairEntry]], cfg: SimulationConfig,
                          records: list[dict], n_samples: int, *, default_room_size=None,
                          default_sound_speed: float = 343.0, rir_cache: dict | None = None,
                          cache: dict | None = None) -> tuple[np.ndarray, dict, dict, int]:
    """One example from a measured-RIR pool.

    Parameters
    ----------
    rng : numpy.random.Generator
    entries : list of list of PairEntry
        :func:`pair_pool` output (per room).
    cfg : SimulationConfig
        Sampling rate, noise settings and label windows (the simulated sets' settings).
    records : list of dict
        Speech manifest records.
    n_samples : int
    default_room_size : array-like, shape (3,), optional
        Room size in m when the record gives none.
    default_sound_speed : float
        m/s when the record gives none.
    rir_cache, cache : dict, optional
        Loaded-RIR and speech-audio caches.

    Returns
    -------
    signals : numpy.ndarray, shape (2, n_samples), float32
        Peak-normalised to 1.
    labels : dict
        :func:`measured_labels` output.
    provenance : dict
        Corpus, manifest record id and file, channels, positions, labels method, annotations,
        noise, SNR and speech.
    room_id : int

    Raises
    ------
    ValueError
        On an unknown noise type, a silent example, or a room without a size.
    """
    fs = cfg.sampling_rate
    rid = int(rng.integers(len(entries)))
    entry = entries[rid][int(rng.integers(len(entries[rid])))]
    key = (entry.record["id"], entry.pair)
    rir_cache = {} if rir_cache is None else rir_cache
    if key not in rir_cache:
        rir_cache[key] = load_pair(entry, fs)
    rir, info = rir_cache[key]
    room_size = info["room_size"] if info["room_size"] is not None else default_room_size
    if room_size is None:
        raise ValueError(f"record {entry.record['id']!r} ({entry.record['path']}) gives no room_size and the "
                         "measured set sets none: the absorption label needs one")
    c = info["sound_speed"] or float(default_sound_speed)
    labels = measured_labels(rir, fs, mic_pos=info["mic_positions"], src_pos=info["source_position"],
                             room_size=room_size, sound_speed=c, drr_window_ms=cfg.drr_window_ms,
                             early_ms=cfg.c50_early_ms, absorption_surface=cfg.absorption_surface,
                             direct_path=cfg.direct_path)
    dp = direct_part(rir, labels["direct_index"], fs, cfg.drr_window_ms)
    speech, sp_prov = speech_excerpt(rng, records, n_samples, fs, cache=cache)
    reverberant, direct = convolve_rirs(speech, rir.astype(np.float32), dp.astype(np.float32))
    x, snr = add_noise(rng, cfg, reverberant, direct, info["mic_positions"], fs, c)
    peak = float(np.max(np.abs(x)))
    if peak == 0:
        raise ValueError(f"example is silent (RIR {entry.record['id']!r}, speech {sp_prov['ids']})")
    rec = entry.record
    prov = {
        "corpus": rec.get("corpus"),
        "rir": {
            "id": rec["id"], "path": str(rec["path"]), "format": rec.get("format"), "key": rec.get("key"),
            "room": rec.get("room"), "channels": list(entry.pair),
            "mic_ids": [rec["mic_ids"][k] for k in entry.pair] if rec.get("mic_ids") else None,
            "rir_fs": info["rir_fs"], "fs": fs, "resampled": info["rir_fs"] != fs,
            "rir_samples": int(rir.shape[1]),
            "mic_positions": None if info["mic_positions"] is None else np.round(info["mic_positions"], 6).tolist(),
            "source_position": None if info["source_position"] is None else np.round(info["source_position"], 6).tolist(),
            "room_size": [float(v) for v in room_size], "room_size_from": "record" if info["room_size"] is not None else "params",
            "sound_speed": c,
        },
        "tdoa_method": labels["tdoa_method"],
        "direct_index": labels["direct_index"],
        "arrival_index": labels["arrival_index"],
        "t60_fit_r": round(float(labels["t60_fit_r"]), 6),
        "annotated": info["annotated"],
        "noise": {"type": cfg.noise_type, "field": cfg.noise_field, "snr_db": round(snr, 4)},
        "speech": sp_prov,
    }
    return (x / peak).astype(np.float32), labels, prov, entry.room_id


def measured_shard(rir_records: list[dict], records: list[dict], *, seed: int, set_name: str, n_examples: int,
                   n_shards: int, shard: int, duration_s: float, cfg: SimulationConfig,
                   dist_range: tuple[float, float] = (0.03, 0.20), room_size=None, sound_speed: float = 343.0,
                   source: str = "") -> tuple[np.ndarray, dict, np.ndarray, list[dict], list[str]]:
    """The examples of one shard of a measured-RIR set.

    Returns
    -------
    signals : numpy.ndarray, shape (n, 2, samples), float32
    labels : dict of numpy.ndarray (n,)
        The six labels of :data:`audiopipe.signals.shards.LABELS`.
    room_id : numpy.ndarray (n,) int64
        Index into ``rooms``.
    provenance : list of dict
    rooms : list of str
        :func:`room_key` of every room of the pool.
    """
    rooms, entries = pair_pool(rir_records, dist_range, source)
    n_samples = int(round(duration_s * cfg.sampling_rate))
    examples = []
    rir_cache: dict = {}
    cache: dict = {}
    for i in shard_range(n_examples, n_shards, shard):
        s = stable_seed(seed, set_name, i)
        x, lab, prov, rid = make_measured_example(np.random.default_rng(s), entries, cfg, records, n_samples,
                                                  default_room_size=room_size, default_sound_speed=sound_speed,
                                                  rir_cache=rir_cache, cache=cache)
        prov.update(example=i, room_id=rid, room_name=rooms[rid], seed=s, rir_manifest=source)
        examples.append((x, lab, rid, prov))
    return (*stack_examples(examples, n_samples), rooms)
