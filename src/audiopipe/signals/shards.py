"""HDF5 shards of multi-channel examples with room-acoustic labels (SAR-SSL data contract).

One file per shard::

    signals          (n, 2, samples) float32, or int16 with attribute ``scale``
                     (float value = int16 value * scale)
    labels/tdoa_s, labels/tdoa_samples, labels/drr_db, labels/t60_s, labels/c50_db,
    labels/absorption                 each (n,) float32
    room_id          (n,) int64
    provenance       (n,) variable-length UTF-8 JSON strings
    file attributes  sampling_rate, seed, set, backend

The ``seed`` attribute is the set's base seed (``sar_ssl.data.seed``); every example's own seed,
``stable_seed(seed, set, example_index)``, is in its provenance record (key ``seed``), with the
room (size, T60 target, absorption, microphone and source positions), the RIR backend and tail
seed, the noise type, field and SNR, and the speech record ids, paths and ``offset`` (samples
into the concatenation of those records' selected spans).

Datasets are contiguous and uncompressed (DESIGN.md); the file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from audiopipe.io import _json_default, atomic_path

LABELS = ("tdoa_s", "tdoa_samples", "drr_db", "t60_s", "c50_db", "absorption")


def write_shard(path: str | Path, signals: np.ndarray, labels: dict, room_id, provenance: list[dict], *,
                sampling_rate: int, seed: int, set_name: str, backend: str, dtype: str = "float32") -> None:
    """Atomically write one shard.

    Parameters
    ----------
    path : path-like
        Output ``.h5`` file.
    signals : numpy.ndarray, shape (n, channels, samples)
    labels : dict
        Every name of :data:`LABELS` -> array-like (n,).
    room_id : array-like, shape (n,)
    provenance : list of dict
        One JSON-serialisable record per example.
    sampling_rate : int
        Hz.
    seed : int
        Base seed of the set.
    set_name : str
        ``pretrain``, ``val``, ``test`` or a downstream set name.
    backend : str
        RIR backend.
    dtype : {"float32", "int16"}
        Storage type of ``signals``; int16 stores ``round(x / scale)`` with
        ``scale = max|x| / 32767``.

    Raises
    ------
    ValueError
        On a shape mismatch, a missing label or an unknown dtype.
    """
    signals = np.asarray(signals, np.float32)
    n = signals.shape[0]
    if signals.ndim != 3:
        raise ValueError(f"signals must be (n, channels, samples), got {signals.shape}")
    missing = [k for k in LABELS if k not in labels]
    if missing:
        raise ValueError(f"labels missing {missing}")
    if len(provenance) != n or len(room_id) != n:
        raise ValueError(f"{n} signals but {len(provenance)} provenance records and {len(room_id)} room ids")
    if dtype not in ("float32", "int16"):
        raise ValueError(f"shard dtype must be 'float32' or 'int16', got {dtype!r}")
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            if dtype == "int16":
                peak = float(np.max(np.abs(signals))) if signals.size else 0.0
                scale = peak / 32767 if peak > 0 else 1.0
                d = f.create_dataset("signals", data=np.round(signals / scale).astype(np.int16))
                d.attrs["scale"] = scale
            else:
                f.create_dataset("signals", data=signals)
            g = f.create_group("labels")
            for k in LABELS:
                v = np.asarray(labels[k], np.float32)
                if v.shape != (n,):
                    raise ValueError(f"label {k!r} has shape {v.shape}, expected ({n},)")
                g.create_dataset(k, data=v)
            f.create_dataset("room_id", data=np.asarray(room_id, np.int64))
            f.create_dataset("provenance", data=[json.dumps(p, sort_keys=True, default=_json_default) for p in provenance],
                             dtype=h5py.string_dtype("utf-8"))
            f.attrs["sampling_rate"] = int(sampling_rate)
            f.attrs["seed"] = int(seed)
            f.attrs["set"] = str(set_name)
            f.attrs["backend"] = str(backend)


def read_shard(path: str | Path) -> dict:
    """Read a shard into memory: ``signals`` as float32 (int16 rescaled), ``labels`` dict,
    ``room_id``, ``provenance`` (list of dict) and ``attrs``.

    Raises
    ------
    ValueError
        If a dataset of the contract is missing (the message names the file and dataset).
    """
    with h5py.File(path, "r") as f:
        for k in ["signals", "room_id", "provenance"] + [f"labels/{x}" for x in LABELS]:
            if k not in f:
                raise ValueError(f"{path}: shard lacks dataset {k!r}")
        s = f["signals"]
        x = s[()].astype(np.float32) * (float(s.attrs["scale"]) if s.dtype == np.int16 else 1.0)
        return {
            "signals": x,
            "labels": {k: f[f"labels/{k}"][()] for k in LABELS},
            "room_id": f["room_id"][()],
            "provenance": [json.loads(p) for p in f["provenance"].asstr()[()]],
            "attrs": dict(f.attrs),
        }
