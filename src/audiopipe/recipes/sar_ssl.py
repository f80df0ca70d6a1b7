"""SAR-SSL (Yang & Li, arXiv 2312.00476): spatial acoustic representation learning.

Data: two-microphone signals with room-acoustic labels (TDOA, DRR, T60, C50, absorption), as
HDF5 shards (contract in :mod:`audiopipe.signals.shards`): simulated sets (pre-training,
validation, test, the downstream pool) from WSJ0 speech, measured-RIR sets (dEchorate, ACE, ...)
and LOCATA segments. Learning (:mod:`audiopipe.recipes._sar_ssl_learn`): STFT feature cache,
MC-Conformer pre-training by cross-channel signal reconstruction, one downstream job per plan
setting. Settings live under ``sar_ssl`` in ``params.yaml``; the corpora come from the generic
corpus rule, the plan tables from the generic table rule.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from audiopipe.io import read_jsonl, write_json
from audiopipe.pipeline.registry import Recipe, TableSpec
from audiopipe.recipes import _sar_ssl_learn as learn

log = logging.getLogger(__name__)

_SIM_KEYS = ("backend", "device", "ism_decay_db", "max_decay_db", "tail_decay", "fit_decay_db", "drr_window_ms", "c50_early_ms",
             "absorption_surface", "t60_tolerance_s", "t60_min_fit_r", "max_redraws", "direct_path", "sabine_window_ms")


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


_OTHER_KEYS = ("seed", "sampling_rate", "dtype", "room", "noise", "sets", "downstream", "measured", "locata")
_LOCATA_KEYS = ("tasks", "arrays", "mic_dist_range", "duration_s", "examples", "shards")
_MEASURED_KEYS = ("corpus", "examples", "shards", "duration_s", "mic_dist_range", "room_size")
#: the LOCATA segment splits (the keys of audiopipe.signals.locata.SPLITS, which defines them)
LOCATA_SPLITS = ("train", "val", "test")
#: WSJ0 split the speech of each set is drawn from (SAR-SSL: tr for training, dt, et)
SPEECH_SPLIT = {"pretrain": "train", "train": "train", "val": "val", "test": "test"}
_NOISE_KEYS = ("type", "field", "nfft", "snr_range")


def _configs(data: dict, device: str | None):
    """Room and simulation settings (RoomConfig, SimulationConfig) from ``sar_ssl.data``; an
    unknown key raises ``KeyError``."""
    from audiopipe.acoustics.rooms import RoomConfig
    from audiopipe.signals.examples import SimulationConfig

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
        ``duration`` in s, ``speaker`` and ``split``), e.g. the WSJ0 manifest. When records carry
        a ``split``, a set draws its speech from its split (:func:`speech_records`).
    output : Path
        Shard file to write (``.h5``).
    set_name : str
        ``pretrain``, ``val``, ``test``, ``train`` or ``downstream-rooms{R}-trial{t}`` (see
        ``data_sets``).
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

    from audiopipe.signals.examples import simulate_shard
    from audiopipe.signals.shards import write_shard

    torch.set_num_threads(max(1, int(threads)))
    sets = data_sets(params)
    if set_name not in sets:
        raise KeyError(f"unknown SAR-SSL set {set_name!r}; known: {sorted(sets)}")
    spec = sets[set_name]
    room_cfg, cfg = _configs(params, device or None)
    records = speech_records(speech_manifest, set_name)
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


def speech_records(manifest: Path, set_name: str) -> list[dict]:
    """Speech records a set draws from: those of its WSJ0 split (:data:`SPEECH_SPLIT`; the
    downstream and measured-RIR sets use ``train``) when the records carry a ``split``, else all.

    Raises
    ------
    ValueError
        If the manifest, or the set's split in it, is empty (naming both).
    """
    records = read_jsonl(manifest)
    if not records:
        raise ValueError(f"{manifest}: speech manifest is empty")
    if all("split" in r for r in records):
        split = SPEECH_SPLIT.get(set_name, "train")
        records = [r for r in records if r["split"] == split]
        if not records:
            raise ValueError(f"{manifest}: no utterance of split {split!r}, which set {set_name!r} draws from")
    return records


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


def simulate_measured(rir_manifest: Path, speech_manifest: Path, output: Path, set_name: str, shard: int,
                      params: dict, threads: int = 1) -> None:
    """Write one HDF5 shard of a measured-RIR set (speech convolved with measured RIR pairs).

    Same contract as ``simulate`` (:mod:`audiopipe.signals.shards`); ``room_id`` indexes the
    corpus rooms (sorted ``corpus/room`` names; each example's provenance names its room in ``room_name``); labels
    and provenance are described in :mod:`audiopipe.signals.measured`.

    Parameters
    ----------
    rir_manifest : Path
        Manifest of the measured-RIR corpus (the generic corpus rule).
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
    from audiopipe.signals.shards import write_shard

    torch.set_num_threads(max(1, int(threads)))
    sets = measured_sets(params)
    if set_name not in sets:
        raise KeyError(f"unknown SAR-SSL measured-RIR set {set_name!r}; known: {sorted(sets)}")
    spec = sets[set_name]
    room_cfg, cfg = _configs(params, None)
    records = speech_records(speech_manifest, set_name)
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
    spec = data.get("locata") or {}
    if not spec:
        return {}
    bad = sorted(set(spec) - set(_LOCATA_KEYS))
    if bad:
        raise KeyError(f"unknown sar_ssl.data.locata key(s) {bad}")
    missing = [k for k in ("examples", "shards") if k not in spec]
    if missing:
        raise KeyError(f"sar_ssl.data.locata lacks {missing}")
    bad = sorted(set(spec["examples"]) - set(LOCATA_SPLITS))
    if bad:
        raise KeyError(f"sar_ssl.data.locata.examples: unknown split(s) {bad}; expected {sorted(LOCATA_SPLITS)}")
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
        LOCATA manifest (the generic corpus rule).
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
    from audiopipe.signals.shards import write_shard

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
    from audiopipe.signals.shards import LABELS, read_shard

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




# ------------------------------------------------------------------------------- DAG helpers

#: signal shards of every set (simulated, measured-RIR, LOCATA) and their cached features
SIGNALS = "data/interim/sar_ssl/sim/{set}/shard-{shard}.h5"
FEATURES = "data/features/sar_ssl/{set}/shard-{shard}.h5"


def set_kind(section: dict, name: str) -> str:
    """``simulated``, ``measured`` or ``locata``: which stage writes a set's shards.

    Raises
    ------
    KeyError
        If no set of ``sar_ssl.data`` has that name.
    """
    data = section["data"]
    for kind, sets in (("simulated", data_sets(data)), ("measured", measured_sets(data)),
                       ("locata", locata_sets(data))):
        if name in sets:
            return kind
    raise KeyError(f"sar_ssl: no data set {name!r} (simulated: {sorted(data_sets(data))}, measured: "
                   f"{sorted(measured_sets(data))}, LOCATA: {sorted(locata_sets(data))})")


def set_names(section: dict, kind: str) -> list[str]:
    """Names of the sets of one kind (for the rules' wildcard constraints)."""
    data = section["data"]
    return sorted({"simulated": data_sets, "measured": measured_sets, "locata": locata_sets}[kind](data))


def set_pattern(section: dict, kind: str) -> str:
    """Regular expression matching exactly the set names of one kind (a rule's wildcard constraint)."""
    import re

    return "|".join(re.escape(n) for n in set_names(section, kind)) or "(?!)"


def data_params(data: dict, *keep: str) -> dict:
    """``sar_ssl.data`` without the ``measured`` and ``locata`` blocks not named in ``keep``: the
    params of a data rule, so that editing one kind of set does not rerun the others."""
    return {k: v for k, v in data.items() if k not in ("measured", "locata") or k in keep}


def shard_files(pattern: str, name: str, shards: int) -> list[str]:
    """The files of a set's shards (``pattern``: :data:`SIGNALS` or :data:`FEATURES`)."""
    return [pattern.format(set=name, shard=f"{k:04d}") for k in range(int(shards))]


def set_unavailable(pipeline, name: str) -> str | None:
    """Why a set's data cannot be had here (its corpus is missing), or None."""
    section = pipeline.config["sar_ssl"]
    kind = set_kind(section, name)
    if kind == "measured":
        return pipeline.corpus_unavailable(measured_sets(section["data"])[name]["corpus"])
    if kind == "locata":
        return pipeline.corpus_unavailable("locata")
    return None


def plan_inputs(pipeline, plan: str) -> dict[str, list[str]]:
    """Feature shards a downstream setting of ``plan`` reads, by role (train, val, test)."""
    section = pipeline.config["sar_ssl"]
    roles = learn.plan_sets(pipeline.plans["sar_ssl"][plan], section["downstream"]["sets"])
    return {role: shard_files(FEATURES, spec["set"], spec["shards"]) for role, spec in roles.items()}


def _unavailable(pipeline, plan) -> str | None:
    roles = learn.plan_sets(plan, pipeline.config["sar_ssl"]["downstream"]["sets"])
    for spec in roles.values():
        why = set_unavailable(pipeline, spec["set"])
        if why:
            return f"no data for set {spec['set']!r}: {why}"
    return None


def _extra_targets(pipeline) -> list[str]:
    """The simulated-data summary and the shards of every measured-RIR set whose corpus is here."""
    section = pipeline.config["sar_ssl"]
    out = ["results/sar_ssl/data/summary.json"]
    for name, spec in measured_sets(section["data"]).items():
        if set_unavailable(pipeline, name) is None:
            out += shard_files(SIGNALS, name, spec["shards"])
    return out


RECIPE = Recipe(
    name="sar_ssl",
    title="SAR-SSL (Yang & Li 2023): spatial acoustic representation learning, MC-Conformer",
    stages={"simulate": simulate, "simulate-measured": simulate_measured, "locata-segments": locata_segments,
            "summarize": summarize, "features": learn.features, "pretrain": learn.pretrain,
            "downstream": learn.downstream},
    factors={"task": "downstream task: TDOA, DRR, T60, C50 or ABS (absorption)",
             "mode": "finetune, lineareval (frozen encoder) or scratch",
             "n_rooms": "number of simulated training rooms", "trial": "repetition (another room draw, seed)",
             "fold": "leave-one-room-out fold (the test room)"},
    levels={"task": ("TDOA", "DRR", "T60", "C50", "ABS"), "mode": ("finetune", "lineareval", "scratch")},
    replicates=("trial", "fold"),
    table=TableSpec(metrics=("mae", "mae_train_mean"), x="n_rooms", hue="mode", panel="task"),
    corpora=("wsj0",),
    optional_corpora=lambda section: [m["corpus"] for m in measured_sets(section["data"]).values()] + ["locata"],
    extra_targets=_extra_targets,
    unavailable=_unavailable,
    check_plan=learn.check_plan,
)
