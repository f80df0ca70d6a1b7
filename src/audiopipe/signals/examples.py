"""Simulated two-microphone examples with labels: SAR-SSL's signal generation, sharded.

One example = a room (size, T60, wall weights) shared by ``examples_per_room`` examples, a
freshly drawn array and source in it, an RIR, a speech excerpt convolved with it, diffuse noise
at a random SNR against the direct-path signal, and the labels of :mod:`audiopipe.acoustics.params`.
Source: SAR-SSL reference code (Audio-WestlakeU/SAR-SSL), ``code_v1/dataset.py``
(``RandomMicSigDataset``: rooms drawn once per set, array/source redrawn per example,
``getRandomScene`` accepts an RIR only if the EDC T60 is within 0.05 s of the target and the fit
correlation ``|r| > 0.5``; ``AcousticScene.simulate``: noise at the SNR against the direct-path
signal, then everything divided by the peak) and ``code_v1/data_generation_SimulatedSIG.py``
(sets, rooms and examples per room).

Determinism: the rooms of a set come from ``stable_seed(seed, set, "rooms")`` and example ``i``
from ``stable_seed(seed, set, i)``, so an example does not depend on how the set is sharded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from audiopipe.acoustics import noise as anoise
from audiopipe.acoustics.params import rir_labels
from audiopipe.acoustics.rir import backend_delay, direct_path_rir, simulate_rir
from audiopipe.acoustics.rooms import RoomConfig, place_array_and_source, sample_room_acoustics
from audiopipe.io import stable_seed
from audiopipe.signals.mix import convolve_rirs, scale_noise_to_snr, speech_excerpt
from audiopipe.signals.shards import LABELS

NOISE_TYPES = ("diffuse_white", "spatial_white", "none")


@dataclass(frozen=True)
class SimulationConfig:
    """Everything but the speech that defines a simulated set (``params.yaml`` ``sar_ssl.data``).

    Attributes
    ----------
    sampling_rate : int
        Hz.
    backend : str
        RIR backend (``ism``, ``pyroomacoustics``, ``gpurir``).
    device : str
        torch device of the ``ism`` backend.
    ism_decay_db, max_decay_db : float
        Image-source and total decay in dB (12 and 40 in SAR-SSL).
    tail_decay : str
        ``sabine`` (gpuRIR's tail, SAR-SSL's data; default) or ``ism`` (envelope of the image-source
        energy; closer to the full image-source model, see :func:`audiopipe.acoustics.rir.ism_rirs`).
    fit_decay_db : float
        End of the image-energy envelope for ``tail_decay="ism"``.
    sabine_window_ms : float or None
        Level window of ``tail_decay="sabine"`` (gpuRIR: the last 10 ms of the image-source
        part; None: its whole second half, see :func:`audiopipe.acoustics.rir.ism_rirs`).
    noise_type : str
        ``diffuse_white`` (Habets generator, SAR-SSL default), ``spatial_white`` or ``none``.
    noise_field : str
        ``spherical`` or ``cylindrical`` coherence.
    noise_nfft : int
        STFT length of the noise generator.
    snr_range : list of float
        SNR range in dB against the direct-path signal.
    drr_window_ms, c50_early_ms : float
        Label windows in ms.
    absorption_surface : str
        ``total`` or ``half`` (see :func:`audiopipe.acoustics.params.absorption_sabine`).
    t60_tolerance_s : float
        Redraw array/source when the EDC T60 misses the target by more than this (SAR-SSL:
        0.05 s); 0 disables the check. The check assumes a Sabine-rate tail (gpuRIR, or ``ism``
        with ``tail_decay="sabine"``); disable it for ``tail_decay="ism"`` or pyroomacoustics,
        whose decay is not Sabine's, or most examples are redrawn.
    t60_min_fit_r : float
        Redraw when the EDC fit correlation ``|r|`` is below this (SAR-SSL: 0.5).
    max_redraws : int
        Redraws before the last example is kept (and flagged in its provenance).
    direct_path : str
        Direct-path peak picker of measured RIRs, which have no direct-path RIR: ``signed``
        (``argmax h``, SAR-SSL's ``dpRIR_from_RIR``; default) or ``abs`` (``argmax |h|``); see
        :func:`audiopipe.acoustics.params.direct_path_index`. Simulated sets use the argmax of the
        simulated direct-path RIR and ignore it.
    """

    sampling_rate: int = 16000
    backend: str = "ism"
    device: str = "cpu"
    ism_decay_db: float = 12.0
    max_decay_db: float = 40.0
    tail_decay: str = "sabine"
    fit_decay_db: float = 30.0
    sabine_window_ms: float | None = 10.0
    noise_type: str = "diffuse_white"
    noise_field: str = "spherical"
    noise_nfft: int = 256
    snr_range: tuple = (15.0, 30.0)
    drr_window_ms: float = 2.5
    c50_early_ms: float = 50.0
    absorption_surface: str = "total"
    t60_tolerance_s: float = 0.05
    t60_min_fit_r: float = 0.5
    max_redraws: int = 10
    direct_path: str = "signed"


def add_noise(rng: np.random.Generator, cfg, reverberant: np.ndarray, direct: np.ndarray,
              mic_positions: np.ndarray, fs: int, sound_speed: float) -> tuple[np.ndarray, float]:
    """Add the configured noise at an SNR drawn from ``cfg.snr_range`` against the direct path.

    Parameters
    ----------
    cfg
        Needs ``noise_type`` (``diffuse_white``: Habets diffuse field for the array geometry;
        ``spatial_white``; ``none``), ``snr_range`` (dB), ``noise_field``, ``noise_nfft``.
    reverberant, direct : np.ndarray
        ``(2, samples)`` microphone signal and its direct-path part (the SNR reference, as SAR-SSL).
    mic_positions : np.ndarray
        ``(2, 3)`` microphone positions (m), for the diffuse-field coherence.

    Returns
    -------
    x : np.ndarray
        ``(2, samples)`` noisy signal.
    snr : float
        The drawn SNR (dB).

    Raises
    ------
    ValueError
        If ``cfg.noise_type`` is unknown.
    """
    n_samples = reverberant.shape[-1]
    snr = float(cfg.snr_range[0] + rng.random() * (cfg.snr_range[1] - cfg.snr_range[0]))
    if cfg.noise_type == "diffuse_white":
        nz = anoise.diffuse_noise(rng, mic_positions, n_samples, fs, field=cfg.noise_field, nfft=cfg.noise_nfft,
                                  sound_speed=sound_speed)
    elif cfg.noise_type == "spatial_white":
        nz = rng.standard_normal((2, n_samples)).astype(np.float32)
    elif cfg.noise_type == "none":
        nz = None
    else:
        raise ValueError(f"unknown noise_type {cfg.noise_type!r}; choose one of {NOISE_TYPES}")
    return (reverberant if nz is None else reverberant + scale_noise_to_snr(direct, nz, snr)), snr


def make_example(rng: np.random.Generator, acoustics: tuple, room_cfg: RoomConfig, cfg: SimulationConfig,
                 records: list[dict], n_samples: int, cache: dict | None = None) -> tuple[np.ndarray, dict, dict]:
    """Simulate one example in a given room.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every random draw of this example.
    acoustics : tuple
        ``(dims, t60, weights, alpha)`` from :func:`audiopipe.acoustics.rooms.sample_room_acoustics`.
    room_cfg : RoomConfig
    cfg : SimulationConfig
    records : list of dict
        Speech manifest records.
    n_samples : int
        Example length in samples.
    cache : dict, optional
        Audio cache for :func:`audiopipe.signals.mix.speech_excerpt`.

    Returns
    -------
    signals : numpy.ndarray, shape (2, n_samples), float32
        Noisy reverberant microphone signals, peak-normalised to 1.
    labels : dict
        :func:`audiopipe.acoustics.params.rir_labels` output.
    provenance : dict
        Room, positions, T60 target, backend, noise type, SNR, speech ids and offset, RIR seed.
    """
    fs = cfg.sampling_rate
    dims, t60, weights, alpha = acoustics
    for redraw in range(cfg.max_redraws + 1):
        room = place_array_and_source(rng, room_cfg, dims, t60, weights, alpha)
        rir_seed = int(rng.integers(2**31))
        rir = simulate_rir(room, fs, cfg.backend, device=cfg.device, ism_decay_db=cfg.ism_decay_db,
                           max_decay_db=cfg.max_decay_db, seed=rir_seed, tail_decay=cfg.tail_decay,
                           fit_decay_db=cfg.fit_decay_db, sabine_window_ms=cfg.sabine_window_ms)
        dp = direct_path_rir(room, fs, delay_offset=backend_delay(cfg.backend))
        labels = rir_labels(rir, dp, fs, mic_pos=room.mic_pos, src_pos=room.src_pos, dims=room.dims,
                            sound_speed=room.sound_speed, drr_window_ms=cfg.drr_window_ms,
                            early_ms=cfg.c50_early_ms, absorption_surface=cfg.absorption_surface)
        ok = cfg.t60_tolerance_s <= 0 or (
            math.isfinite(labels["t60_s"]) and abs(labels["t60_s"] - t60) < cfg.t60_tolerance_s
            and abs(labels["t60_fit_r"]) > cfg.t60_min_fit_r)
        if ok:
            break
    speech, sp_prov = speech_excerpt(rng, records, n_samples, fs, cache=cache)
    reverberant, direct = convolve_rirs(speech, rir, dp)
    x, snr = add_noise(rng, cfg, reverberant, direct, room.mic_pos, fs, room.sound_speed)
    peak = float(np.max(np.abs(x)))
    if peak == 0:
        raise ValueError(f"example is silent (speech {sp_prov['ids']})")
    prov = {
        "room": {k: v for k, v in room.to_dict().items()},
        "t60_target_s": round(float(t60), 6),
        "backend": cfg.backend,
        "rir_seed": rir_seed,
        "rir_samples": int(rir.shape[1]),
        "t60_check": "ok" if ok else "failed",
        "redraws": redraw,
        "t60_fit_r": round(float(labels["t60_fit_r"]), 6),
        "noise": {"type": cfg.noise_type, "field": cfg.noise_field, "snr_db": round(snr, 4)},
        "speech": sp_prov,
    }
    return (x / peak).astype(np.float32), labels, prov


def set_rooms(seed: int, set_name: str, n_rooms: int, room_cfg: RoomConfig) -> list[tuple]:
    """The ``n_rooms`` room acoustics ``(dims, t60, weights, alpha)`` of a set (deterministic)."""
    rng = np.random.default_rng(stable_seed(seed, set_name, "rooms"))
    return [sample_room_acoustics(rng, room_cfg) for _ in range(n_rooms)]


def shard_range(n_examples: int, n_shards: int, shard: int) -> range:
    """Example indices of shard ``shard`` (contiguous, sizes differ by at most one).

    Raises
    ------
    ValueError
        If ``shard`` is not in ``[0, n_shards)``.
    """
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is out of range [0, {n_shards})")
    base, extra = divmod(n_examples, n_shards)
    start = shard * base + min(shard, extra)
    return range(start, start + base + (1 if shard < extra else 0))


def simulate_shard(records: list[dict], *, seed: int, set_name: str, n_rooms: int, examples_per_room: int,
                   n_shards: int, shard: int, duration_s: float, room_cfg: RoomConfig,
                   cfg: SimulationConfig) -> tuple[np.ndarray, dict, np.ndarray, list[dict]]:
    """Simulate the examples of one shard of a set.

    Returns
    -------
    signals : numpy.ndarray, shape (n, 2, samples), float32
    labels : dict of numpy.ndarray (n,)
    room_id : numpy.ndarray (n,) int64
    provenance : list of dict
    """
    rooms = set_rooms(seed, set_name, n_rooms, room_cfg)
    n_samples = int(round(duration_s * cfg.sampling_rate))
    idx = shard_range(n_rooms * examples_per_room, n_shards, shard)
    examples = []
    cache: dict = {}
    for i in idx:
        rid = i // examples_per_room
        rng = np.random.default_rng(stable_seed(seed, set_name, i))
        x, lab, prov = make_example(rng, rooms[rid], room_cfg, cfg, records, n_samples, cache)
        prov.update(example=i, room_id=rid, seed=stable_seed(seed, set_name, i))
        examples.append((x, lab, rid, prov))
    return stack_examples(examples, n_samples)



def stack_examples(examples: list[tuple[np.ndarray, dict, int, dict]], n_samples: int):
    """Stack ``(signal (2, n_samples), labels, room id, provenance)`` examples into shard arrays.

    Returns
    -------
    signals : np.ndarray
        ``(n, 2, n_samples)`` float32.
    labels : dict
        :data:`audiopipe.signals.shards.LABELS` -> ``(n,)`` float32.
    room_ids : np.ndarray
        ``(n,)`` int64.
    provenance : list of dict
    """
    labels = {k: np.array([e[1][k] for e in examples], np.float32) for k in LABELS}
    signals = np.stack([e[0] for e in examples]) if examples else np.zeros((0, 2, n_samples), np.float32)
    return signals, labels, np.array([e[2] for e in examples], np.int64), [e[3] for e in examples]
