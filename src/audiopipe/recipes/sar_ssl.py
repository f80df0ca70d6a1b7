"""SAR-SSL (Yang & Li, arXiv 2312.00476): spatial acoustic representation learning.

Simulated two-microphone signals with room-acoustic labels (TDOA, DRR, T60, C50, absorption),
written as HDF5 shards (contract in :mod:`audiopipe.signals.shards`): the pretraining,
validation and test sets and the downstream sets with 2/4/.../256 rooms and several trials.
Settings live under ``sar_ssl.data`` in ``params.yaml``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from audiopipe.acoustics.rooms import RoomConfig
from audiopipe.io import read_jsonl, write_json
from audiopipe.signals.examples import SimulationConfig, simulate_shard
from audiopipe.signals.shards import LABELS, read_shard, write_shard

log = logging.getLogger(__name__)

_SIM_KEYS = ("backend", "device", "ism_decay_db", "max_decay_db", "tail_decay", "fit_decay_db", "drr_window_ms", "c50_early_ms",
             "absorption_surface", "t60_tolerance_s", "t60_min_fit_r", "max_redraws")


def data_sets(data: dict) -> dict[str, dict]:
    """All simulated sets of ``sar_ssl.data``: name -> ``rooms``, ``examples_per_room``,
    ``shards``, ``duration_s``.

    Downstream sets are named ``downstream-rooms{R}-trial{t}`` for every ``R`` in
    ``downstream.room_counts`` and ``t`` in ``0 .. downstream.trials - 1``.

    Raises
    ------
    KeyError
        If ``sets`` or ``downstream`` is missing.
    """
    out = {name: dict(spec) for name, spec in data["sets"].items()}
    ds = data["downstream"]
    for r in ds["room_counts"]:
        for t in range(int(ds["trials"])):
            out[f"downstream-rooms{int(r)}-trial{t}"] = {
                "rooms": int(r), "examples_per_room": int(ds["examples_per_room"]),
                "shards": int(ds["shards"]), "duration_s": float(ds["duration_s"])}
    return out


_OTHER_KEYS = ("seed", "sampling_rate", "speech_manifest", "dtype", "room", "noise", "sets", "downstream", "measured",
               "locata")
_LOCATA_KEYS = ("root", "demo", "tasks", "arrays", "mic_dist_range", "duration_s", "examples", "shards")
_MEASURED_KEYS = ("corpus", "root", "in_fixtures", "examples", "shards", "duration_s", "mic_dist_range", "room_size",
                  "arrays")
_NOISE_KEYS = ("type", "field", "nfft", "snr_range")


def _configs(data: dict, device: str | None) -> tuple[RoomConfig, SimulationConfig]:
    """Room and simulation settings from ``sar_ssl.data``; an unknown key raises ``KeyError``."""
    bad = sorted(set(data) - set(_SIM_KEYS) - set(_OTHER_KEYS))
    if bad:
        raise KeyError(f"unknown sar_ssl.data key(s) {bad}")
    noise = data.get("noise", {})
    bad = sorted(set(noise) - set(_NOISE_KEYS))
    if bad:
        raise KeyError(f"unknown sar_ssl.data.noise key(s) {bad}")
    room_cfg = RoomConfig.from_dict(data.get("room"))
    sim = {k: data[k] for k in _SIM_KEYS if k in data}
    sim.update(noise_type=noise.get("type", "diffuse_white"), noise_field=noise.get("field", "spherical"),
               noise_nfft=int(noise.get("nfft", 256)), snr_range=tuple(noise.get("snr_range", (15.0, 30.0))),
               sampling_rate=int(data.get("sampling_rate", 16000)))
    if device:
        sim["device"] = device
    return room_cfg, SimulationConfig(**sim)


def simulate(speech_manifest: Path, output: Path, set_name: str, shard: int, params: dict,
             device: str = "", threads: int = 1) -> None:
    """Simulate one HDF5 shard of a SAR-SSL set (RIRs, speech, diffuse noise, labels).

    Parameters
    ----------
    speech_manifest : Path
        JSONL(.gz) manifest of source speech (``path``, ``sampling_rate``; optional ``start``,
        ``duration`` in s and ``speaker``), e.g. the WSJ0 or demo-speech manifest.
    output : Path
        Shard file to write (``.h5``).
    set_name : str
        ``pretrain``, ``val``, ``test`` or ``downstream-rooms{R}-trial{t}`` (see ``data_sets``).
    shard : int
        Shard index within the set.
    params : dict
        The ``sar_ssl.data`` section of params.yaml.
    device : str
        torch device for the ``ism`` backend (default: ``params["device"]``).
    threads : int
        torch intra-op threads (1 per Snakemake job).

    Raises
    ------
    KeyError
        Unknown set name, or a required params key is missing.
    ValueError
        Bad shard index or an invalid speech record.
    """
    import torch

    torch.set_num_threads(max(1, int(threads)))
    sets = data_sets(params)
    if set_name not in sets:
        raise KeyError(f"unknown SAR-SSL set {set_name!r}; known: {sorted(sets)}")
    spec = sets[set_name]
    room_cfg, cfg = _configs(params, device or None)
    records = read_jsonl(speech_manifest)
    if not records:
        raise ValueError(f"{speech_manifest}: speech manifest is empty")
    seed = int(params["seed"])
    signals, labels, room_id, prov = simulate_shard(
        records, seed=seed, set_name=set_name, n_rooms=int(spec["rooms"]),
        examples_per_room=int(spec["examples_per_room"]), n_shards=int(spec["shards"]), shard=int(shard),
        duration_s=float(spec["duration_s"]), room_cfg=room_cfg, cfg=cfg)
    speech_root = {str(r.get("id", r["path"])): str(r["path"]) for r in records}
    for p in prov:
        p["speech"]["paths"] = [speech_root.get(i, i) for i in p["speech"]["ids"]]
    write_shard(output, signals, labels, room_id, prov, sampling_rate=cfg.sampling_rate,
                seed=seed, set_name=set_name, backend=cfg.backend,
                dtype=str(params.get("dtype", "float32")))
    log.info("%s: %d examples of set %s (shard %d)", output, len(prov), set_name, shard)


def measured_sets(data: dict) -> dict[str, dict]:
    """The measured-RIR sets of ``sar_ssl.data.measured``: name -> ``corpus``, ``root`` (under the
    fixtures folder when ``in_fixtures``; resolved by the Snakemake rule), ``examples``, ``shards``, ``duration_s``, ``mic_dist_range`` (m), ``room_size`` (m, optional).

    Raises
    ------
    KeyError
        If a set has an unknown key or lacks ``corpus``, ``examples``, ``shards`` or ``duration_s``.
    """
    out = {}
    for name, spec in (data.get("measured") or {}).items():
        bad = sorted(set(spec) - set(_MEASURED_KEYS))
        if bad:
            raise KeyError(f"unknown sar_ssl.data.measured.{name} key(s) {bad}")
        missing = [k for k in ("corpus", "examples", "shards", "duration_s") if k not in spec]
        if missing:
            raise KeyError(f"sar_ssl.data.measured.{name} lacks {missing}")
        out[name] = dict(spec)
    return out


def prepare_measured(corpus: str, root: Path, output_dir: Path, arrays: list[str] | None = None) -> None:
    """Write the manifest of a measured-RIR corpus with its ``prepare_<corpus>`` adapter.

    Parameters
    ----------
    corpus : str
        ``dechorate``, ``ace``, ``mir``, ``meshrir``, ``butreverb``, ``tau_srir`` or ``locata``.
    root : Path
        Corpus root folder.
    output_dir : Path
        Folder of ``<corpus>_recordings.jsonl.gz``.
    arrays : list of str, optional
        Arrays to read, for the adapters that take them (``ace``; SAR-SSL uses Chromebook,
        Mobile, Lin8Ch and EM32, but audiopipe has no trusted EM32 geometry, see
        :mod:`audiopipe.corpora.ace`).

    Raises
    ------
    KeyError
        Unknown corpus.
    ValueError
        ``arrays`` given for a corpus whose adapter does not take them.
    audiopipe.corpora.CorpusLayoutError
        The tree does not have the corpus layout.
    """
    import inspect

    import audiopipe.corpora as corpora

    fn = getattr(corpora, f"prepare_{corpus}", None)
    if fn is None or corpus not in ("dechorate", "ace", "mir", "meshrir", "butreverb", "tau_srir", "locata"):
        raise KeyError(f"unknown measured-RIR corpus {corpus!r}")
    kw = {}
    if arrays:
        if "arrays" not in inspect.signature(fn).parameters:
            raise ValueError(f"--arrays given, but the {corpus} adapter reads every array")
        kw["arrays"] = tuple(arrays)
    out = fn(Path(root), Path(output_dir), **kw)
    log.info("%s: manifest of %s at %s", out, corpus, root)


def simulate_measured(rir_manifest: Path, speech_manifest: Path, output: Path, set_name: str, shard: int,
                      params: dict, threads: int = 1) -> None:
    """Write one HDF5 shard of a measured-RIR set (speech convolved with measured RIR pairs).

    Same contract as ``simulate`` (:mod:`audiopipe.signals.shards`); ``room_id`` indexes the
    corpus rooms (sorted ``corpus/room`` names; each example's provenance names its room in ``room_name``); labels
    and provenance are described in :mod:`audiopipe.signals.measured`.

    Parameters
    ----------
    rir_manifest : Path
        Measured-RIR manifest written by ``prepare-measured``.
    speech_manifest : Path
        JSONL(.gz) manifest of source speech.
    output : Path
        Shard file to write (``.h5``).
    set_name : str
        A set of ``sar_ssl.data.measured``.
    shard : int
        Shard index within the set.
    params : dict
        The ``sar_ssl.data`` section of params.yaml (noise, label windows, seed, rate, dtype).
    threads : int
        torch intra-op threads (1 per Snakemake job).

    Raises
    ------
    KeyError
        Unknown set name.
    ValueError
        Bad shard index, an empty manifest, or a room without a size.
    """
    import torch

    from audiopipe.signals.measured import measured_shard

    torch.set_num_threads(max(1, int(threads)))
    sets = measured_sets(params)
    if set_name not in sets:
        raise KeyError(f"unknown SAR-SSL measured-RIR set {set_name!r}; known: {sorted(sets)}")
    spec = sets[set_name]
    room_cfg, cfg = _configs(params, None)
    records = read_jsonl(speech_manifest)
    if not records:
        raise ValueError(f"{speech_manifest}: speech manifest is empty")
    seed = int(params["seed"])
    signals, labels, room_id, prov, rooms = measured_shard(
        read_jsonl(rir_manifest), records, seed=seed, set_name=set_name, n_examples=int(spec["examples"]),
        n_shards=int(spec["shards"]), shard=int(shard), duration_s=float(spec["duration_s"]), cfg=cfg,
        dist_range=tuple(spec.get("mic_dist_range", (0.03, 0.20))), room_size=spec.get("room_size"),
        sound_speed=room_cfg.sound_speed, source=str(rir_manifest))
    speech_root = {str(r.get("id", r["path"])): str(r["path"]) for r in records}
    for p in prov:
        p["speech"]["paths"] = [speech_root.get(i, i) for i in p["speech"]["ids"]]
    write_shard(output, signals, labels, room_id, prov, sampling_rate=cfg.sampling_rate, seed=seed,
                set_name=set_name, backend=f"measured:{spec['corpus']}", dtype=str(params.get("dtype", "float32")))
    log.info("%s: %d examples of measured set %s (shard %d; rooms %s)", output, len(prov), set_name, shard, rooms)


def locata_sets(data: dict) -> dict[str, dict]:
    """The LOCATA segment sets of ``sar_ssl.data.locata``: ``locata-<split>`` -> ``split``,
    ``examples``, ``shards`` for every split of its ``examples`` (``train``, ``val``, ``test``).

    Raises
    ------
    KeyError
        An unknown key or split, or a missing ``examples``/``shards``.
    """
    from audiopipe.signals.locata import SPLITS

    spec = data.get("locata") or {}
    if not spec:
        return {}
    bad = sorted(set(spec) - set(_LOCATA_KEYS))
    if bad:
        raise KeyError(f"unknown sar_ssl.data.locata key(s) {bad}")
    missing = [k for k in ("examples", "shards") if k not in spec]
    if missing:
        raise KeyError(f"sar_ssl.data.locata lacks {missing}")
    bad = sorted(set(spec["examples"]) - set(SPLITS))
    if bad:
        raise KeyError(f"sar_ssl.data.locata.examples: unknown split(s) {bad}; expected {sorted(SPLITS)}")
    return {f"locata-{split}": {"split": split, "examples": int(n), "shards": int(spec["shards"])}
            for split, n in spec["examples"].items()}


def locata_segments(manifest: Path, output: Path, set_name: str, shard: int, params: dict) -> None:
    """Write one HDF5 shard of two-microphone LOCATA segments with their TDOA (real-data TDOA
    task; :mod:`audiopipe.signals.locata`).

    Same contract as ``simulate`` (:mod:`audiopipe.signals.shards`); only the TDOA labels are
    finite, ``room_id`` is 0.

    Parameters
    ----------
    manifest : Path
        LOCATA manifest written by ``prepare-measured --corpus locata``.
    output : Path
        Shard file to write (``.h5``).
    set_name : str
        ``locata-train``, ``locata-val`` or ``locata-test`` (see ``locata_sets``).
    shard : int
        Shard index within the set.
    params : dict
        The ``sar_ssl.data`` section of params.yaml (its ``locata`` block, ``seed``,
        ``sampling_rate``, ``dtype``, ``room.sound_speed``).

    Raises
    ------
    KeyError
        Unknown set name.
    ValueError
        Bad shard index, a recording with several sources, or no usable recording.
    """
    from audiopipe.signals.locata import locata_shard

    sets = locata_sets(params)
    if set_name not in sets:
        raise KeyError(f"unknown SAR-SSL LOCATA set {set_name!r}; known: {sorted(sets)}")
    spec, loc = sets[set_name], params["locata"]
    records = read_jsonl(manifest)
    seed, fs = int(params["seed"]), int(params.get("sampling_rate", 16000))
    signals, labels, room_id, prov = locata_shard(
        records, seed=seed, set_name=set_name, split=spec["split"], n_examples=spec["examples"],
        n_shards=spec["shards"], shard=int(shard), duration_s=float(loc.get("duration_s", 1.04)),
        sampling_rate=fs, tasks=tuple(loc.get("tasks", (1, 3, 5))),
        arrays=tuple(loc.get("arrays", ("dicit", "benchmark2", "eigenmike"))),
        dist_range=tuple(loc.get("mic_dist_range", (0.03, 0.20))),
        sound_speed=float((params.get("room") or {}).get("sound_speed", 343.0)), source=str(manifest))
    write_shard(output, signals, labels, room_id, prov, sampling_rate=fs, seed=seed, set_name=set_name,
                backend="recorded:locata", dtype=str(params.get("dtype", "float32")))
    tdoa = labels["tdoa_samples"]
    log.info("%s: %d LOCATA segments of set %s (shard %d), TDOA %.2f..%.2f samples", output, len(prov),
             set_name, shard, float(tdoa.min()) if len(tdoa) else float("nan"),
             float(tdoa.max()) if len(tdoa) else float("nan"))


def summarize(shards: list[Path], output: Path) -> None:
    """Summarise simulated shards: examples, rooms and label mean/std/min/max per set.

    Parameters
    ----------
    shards : list of Path
        Shard files written by ``simulate``.
    output : Path
        JSON file to write.

    Raises
    ------
    ValueError
        If a shard breaks the contract or holds non-finite labels.
    """
    per_set: dict[str, dict] = {}
    for path in shards:
        s = read_shard(path)
        name = str(s["attrs"]["set"])
        d = per_set.setdefault(name, {"shards": 0, "examples": 0, "rooms": set(), "labels": {k: [] for k in LABELS}})
        d["shards"] += 1
        d["examples"] += int(s["signals"].shape[0])
        d["rooms"].update(int(r) for r in s["room_id"])
        for k in LABELS:
            v = s["labels"][k]
            if not np.all(np.isfinite(v)):
                raise ValueError(f"{path}: label {k} holds non-finite values")
            d["labels"][k].extend(v.tolist())
    out = {}
    for name, d in sorted(per_set.items()):
        out[name] = {"shards": d["shards"], "examples": d["examples"], "rooms": len(d["rooms"]),
                     "labels": {k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "min": float(np.min(v)),
                                    "max": float(np.max(v))} for k, v in d["labels"].items() if v}}
    write_json(output, out)


STAGES = {
    "simulate": simulate,
    "prepare-measured": prepare_measured,
    "simulate-measured": simulate_measured,
    "locata-segments": locata_segments,
    "summarize": summarize,
}


def _learning_stages() -> dict:
    """Feature cache, pre-training, downstream and table stages (audiopipe.recipes.sar_ssl_learn)."""
    from audiopipe.recipes.sar_ssl_learn import STAGES as learn

    clash = set(learn) & set(STAGES)
    if clash:
        raise RuntimeError(f"sar_ssl stage names defined twice: {sorted(clash)}")
    return learn


STAGES.update(_learning_stages())
