"""dEchorate (Di Carlo, Tandeitnik, Gannot, EURASIP JASMP 2021): calibrated measured RIRs.

Two on-disk forms are read, both from the same ``root`` folder:

1. The HDF5 release, as SAR-SSL reads it (``code/data_generation/gen_real_rir.py``,
   ``dEchorateRIRDataset``)::

       <root>/dEchorate_rir.h5        attrs["sampling_rate"]; dataset rir/<room code>/<source id>
                                      of shape (samples, 31): 30 capsules + 1 loopback column
       <root>/dEchorate_calibrated_elements_positions.csv

   ``<room code>`` is six 0/1 digits: reflective (1) or absorbing (0) floor, ceiling, west,
   south, east, north (SAR-SSL's comment; the same order as the annotation csv columns);
   ``<source id>`` 1–6 are the directional sources, 7–9 the omnidirectional ones.

2. MATLAB RIR files as the dEchorate repository ships them
   (``recipes/room_geometry_estimation/data_rooge.mat``)::

       <root>/*.mat   rirs (samples, mics, sources), fs, mics (3, mics) m, src (3, sources) m,
                      optional c (m/s), T_direct (1, mics) s, T_reflct (echoes, mics) s

   The room code is taken from a ``room<6 digits>`` part of the file name when there is one.

``dEchorate_calibrated_elements_positions.csv`` (``Chutlhu/dEchorate`` ``data/``; columns
``id, type, channel, x, y, z, aiming_at, array``; types ``directional``, ``omnidirectional``,
``diffuse``, ``mic``, ``array``) gives the 30 calibrated capsule positions (m) and the sources.
``dEchorate_recordings_annotation.csv`` (columns ``filename, sources, id, channel, signal,
floor, ceiling, west, south, east, north, fornitures, temperature, silence dB, artifacts``) is
read when present: each RIR record gets the temperature (°C) and artifact flag of its chirp
recording.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from audiopipe.corpora._base import (
    CorpusLayoutError,
    base_record,
    check_positions,
    loadmat,
    require_columns,
    require_dir,
    require_file,
    write_manifest,
)

POSITIONS_CSV = "dEchorate_calibrated_elements_positions.csv"
ANNOTATION_CSV = "dEchorate_recordings_annotation.csv"
RIR_H5 = "dEchorate_rir.h5"
POSITION_COLUMNS = ("id", "type", "x", "y", "z", "array")
ANNOTATION_COLUMNS = ("sources", "id", "signal", "floor", "ceiling", "west", "south", "east",
                      "north", "temperature", "artifacts")
SURFACES = ("floor", "ceiling", "west", "south", "east", "north")
NUM_MICS = 30
_ROOM = re.compile(r"room(\d{6})")


def read_positions(path: Path) -> tuple[np.ndarray, np.ndarray, dict[int, tuple[str, np.ndarray]]]:
    """Read the calibrated positions csv.

    Returns
    -------
    mics : numpy.ndarray
        ``(30, 3)`` capsule positions in m, ordered by capsule id 1..30.
    mic_array : numpy.ndarray
        ``(30,)`` array index (1..6) of each capsule.
    sources : dict
        ``source id -> (type, (3,) position in m)`` for the directional (1–6) and
        omnidirectional (7–9) sources.

    Raises
    ------
    CorpusLayoutError
        Missing file or column, or capsule ids other than 1..30.
    """
    require_file(path, "dEchorate calibrated positions")
    df = pd.read_csv(path)
    require_columns(df, POSITION_COLUMNS, path)
    m = df[df["type"] == "mic"].sort_values("id")
    ids = m["id"].astype(int).tolist()
    if ids != list(range(1, NUM_MICS + 1)):
        raise CorpusLayoutError(f"{path}: mic ids are {ids}, expected 1..{NUM_MICS}")
    mics = check_positions(m[["x", "y", "z"]].to_numpy(), NUM_MICS, path, "mic x,y,z")
    arrays = m["array"].astype(int).to_numpy()
    srcs = {}
    for _, r in df[df["type"].isin(["directional", "omnidirectional"])].iterrows():
        pos = check_positions([[r["x"], r["y"], r["z"]]], 1, path, f"source {r['id']} x,y,z")[0]
        srcs[int(r["id"])] = (str(r["type"]), pos)
    return mics, arrays, srcs


def read_recording_annotations(path: Path) -> dict[tuple[str, int], dict]:
    """``(room code, source id) -> {"temperature": °C, "artifacts": int}`` of the chirp recordings.

    Raises
    ------
    CorpusLayoutError
        Missing column, or a surface flag that is not 0/1 (naming the row).
    """
    df = pd.read_csv(path)
    require_columns(df, ANNOTATION_COLUMNS, path)
    out = {}
    for i, r in df[df["signal"] == "chirp"].iterrows():
        flags = [str(r[s]).strip() for s in SURFACES]
        if any(f not in ("0", "1") for f in flags):
            raise CorpusLayoutError(f"{path}: row {i + 2}: surface flags {flags} are not 0/1")
        out[("".join(flags), int(r["id"]))] = {
            "temperature": float(r["temperature"]),
            "artifacts": int(r["artifacts"]),
        }
    return out


def _match(points: np.ndarray, ref: np.ndarray, tol: float = 1e-3) -> list[int | None]:
    """Index (0-based) of the reference point within ``tol`` m of each point, or None."""
    d = np.linalg.norm(points[:, None, :] - ref[None, :, :], axis=-1)
    j = d.argmin(axis=1)
    return [int(k) if d[i, k] <= tol else None for i, k in enumerate(j)]


def _h5_records(path: Path, mics: np.ndarray, arrays: np.ndarray, srcs: dict, annos: dict) -> list[dict]:
    out = []
    with h5py.File(path, "r") as f:
        if "sampling_rate" not in f.attrs:
            raise CorpusLayoutError(f"{path}: missing attribute 'sampling_rate'")
        fs = int(np.asarray(f.attrs["sampling_rate"]).squeeze())
        if "rir" not in f:
            raise CorpusLayoutError(f"{path}: missing group 'rir'")
        for room in sorted(f["rir"]):
            if not re.fullmatch(r"\d{6}", room):
                raise CorpusLayoutError(f"{path}: group rir/{room} is not a 6-digit room code")
            for key in sorted(f["rir"][room], key=lambda k: int(k) if k.isdigit() else -1):
                name = f"rir/{room}/{key}"
                if not key.isdigit() or int(key) not in srcs:
                    raise CorpusLayoutError(f"{path}: dataset {name}: source id {key!r} not in {POSITIONS_CSV}")
                shape = f[name].shape
                if len(shape) != 2 or shape[1] != NUM_MICS + 1:
                    raise CorpusLayoutError(
                        f"{path}: dataset {name} has shape {shape}, expected (samples, {NUM_MICS + 1})"
                    )
                sid = int(key)
                out.append(
                    base_record(
                        id=f"dechorate_{room}_src{sid}",
                        path=path,
                        sampling_rate=fs,
                        num_samples=shape[0],
                        num_channels=NUM_MICS,
                        corpus="dechorate",
                        kind="rir",
                        format="hdf5",
                        key=name,
                        room=room,
                        array="all",
                        mic_ids=list(range(1, NUM_MICS + 1)),
                        mic_array=arrays,
                        mic_positions=mics,
                        source_id=sid,
                        source_type=srcs[sid][0],
                        source_position=srcs[sid][1],
                        room_size=None,
                        T60=None,
                        DRR=None,
                        **annos.get((room, sid), {}),
                    )
                )
    return out


def _mat_records(path: Path, mics_ref, arrays, srcs: dict, annos: dict) -> list[dict]:
    m = loadmat(path, ["rirs", "fs", "mics", "src"])
    rirs = np.asarray(m["rirs"])
    if rirs.ndim == 2:
        rirs = rirs[:, :, None]
    if rirs.ndim != 3:
        raise CorpusLayoutError(f"{path}: rirs has shape {rirs.shape}, expected (samples, mics, sources)")
    _, nmic, nsrc = rirs.shape
    mics = check_positions(np.asarray(m["mics"]).T, nmic, path, "mics (3, mics)")
    src = check_positions(np.asarray(m["src"]).T, nsrc, path, "src (3, sources)")
    fs = int(np.asarray(m["fs"]).squeeze())
    room_m = _ROOM.search(path.stem)
    room = room_m.group(1) if room_m else None
    mic_ids = [None if j is None else j + 1 for j in _match(mics, mics_ref)] if mics_ref is not None else [None] * nmic
    src_ids_ref = sorted(srcs)
    src_ids = (
        [None if j is None else src_ids_ref[j] for j in _match(src, np.stack([srcs[k][1] for k in src_ids_ref]))]
        if srcs else [None] * nsrc
    )
    extra = {}
    if "c" in m:
        extra["speed_of_sound"] = float(np.asarray(m["c"]).squeeze())
    if "T_direct" in m:
        td = np.asarray(m["T_direct"], dtype=float)
        if td.shape != (1, nmic):
            raise CorpusLayoutError(f"{path}: T_direct has shape {td.shape}, expected (1, {nmic})")
        extra["direct_path_times"] = td[0]
    if "T_reflct" in m:
        tr = np.asarray(m["T_reflct"], dtype=float)
        if tr.ndim != 2 or tr.shape[1] != nmic:
            raise CorpusLayoutError(f"{path}: T_reflct has shape {tr.shape}, expected (echoes, {nmic})")
        extra["echo_times"] = tr.T  # (mics, echoes)
    out = []
    for s in range(nsrc):
        sid = src_ids[s]
        out.append(
            base_record(
                id=f"dechorate_mat_{path.stem}_src{s}",
                path=path,
                sampling_rate=fs,
                num_samples=rirs.shape[0],
                num_channels=nmic,
                corpus="dechorate",
                kind="rir",
                format="mat",
                key="rirs",
                source_index=s,
                room=room,
                array="mat",
                mic_ids=mic_ids,
                mic_array=[None if i is None else int(arrays[i - 1]) for i in mic_ids] if arrays is not None else None,
                mic_positions=mics,
                source_id=sid,
                source_type=None if sid is None else srcs[sid][0],
                source_position=src[s],
                room_size=None,
                T60=None,
                DRR=None,
                **extra,
                **(annos.get((room, sid), {}) if room and sid else {}),
            )
        )
    return out


def prepare_dechorate(root: Path, output_dir: Path) -> Path:
    """Write the dEchorate manifest ``<output_dir>/dechorate_recordings.jsonl.gz``.

    Parameters
    ----------
    root : path-like
        Folder holding ``dEchorate_calibrated_elements_positions.csv`` and ``dEchorate_rir.h5``
        and/or ``*.mat`` RIR files (and optionally ``dEchorate_recordings_annotation.csv``).
    output_dir : path-like
        Where the manifest goes.

    Returns
    -------
    Path
        The manifest: one ``kind="rir"`` record per (room code, source) of the HDF5 file
        (``format="hdf5"``, 30 channels, loopback dropped) and per source of each .mat
        (``format="mat"``), with ``mic_positions`` (m), ``mic_ids`` (1..30), ``mic_array``
        (1..6), ``source_id``, ``source_type``, ``source_position`` (m), ``room`` (room code),
        and, from the .mat, ``direct_path_times`` (s per mic), ``echo_times`` (s,
        ``(mics, echoes)``) and ``speed_of_sound`` (m/s).

    Raises
    ------
    CorpusLayoutError
        Missing positions csv or column; neither ``dEchorate_rir.h5`` nor a .mat present; an
        HDF5 dataset that is not ``(samples, 31)`` or names an unknown source; a .mat missing
        ``rirs``/``fs``/``mics``/``src`` or with inconsistent shapes; a bad annotation column.
    """
    root = require_dir(Path(root), "dEchorate root")
    mics, arrays, srcs = read_positions(root / POSITIONS_CSV)
    annos = read_recording_annotations(root / ANNOTATION_CSV) if (root / ANNOTATION_CSV).is_file() else {}
    records = []
    if (root / RIR_H5).exists():
        records += _h5_records(root / RIR_H5, mics, arrays, srcs, annos)
    mats = sorted(root.glob("*.mat"))
    for p in mats:
        records += _mat_records(p, mics, arrays, srcs, annos)
    if not records:
        raise CorpusLayoutError(f"{root / RIR_H5}: missing (and no *.mat RIR file in {root})")
    return write_manifest(records, output_dir, "dechorate")
