"""TAU Spatial Room Impulse Response Database (TAU-SRIR DB) and TAU-SNoise DB (DCASE SELD).

Layout (SAR-SSL ``code/data_generation/gen_real_rir.py``, ``DCASERIRDataset``; the database
README, Politis, Adavanne & Virtanen, DCASE 2020; the DCASE2022 data generator)::

    <root>/TAU-SRIR_DB/rirdata.mat              rirdata.fs (Hz); rirdata.room(i).name;
                                                rirdata.room(i).rirs(traj, height).doa_xyz (points, 3)
    <root>/TAU-SRIR_DB/measinfo.mat             measinfo(i).name, .dimensions (m), ... (optional)
    <root>/TAU-SRIR_DB/rirs_<NN>_<room>.mat     rirs(traj, height).mic / .foa: (samples, 4, points)
    <root>/TAU-SNoise_DB/<NN>_<room>/ambience_<tetra|foa>_24k_edited.wav

The room files are MATLAB v7.3 (HDF5; SAR-SSL reads them with ``mat73``); audiopipe reads
them with h5py (following the MATLAB object references of the struct fields, only the
requested trajectory is read), and also accepts v5 files (scipy). ``rirdata.mat`` is read with
scipy as in SAR-SSL. RIRs are 24 kHz.

Geometry: the ``mic`` format is the tetrahedral Eigenmike sub-array, capsule directions from
``rirdata.tetra_mic_azel_deg`` and radius from ``rirdata.tetra_mic_radius_m`` (the fields SAR-SSL
reads), or the README's values when absent: (azimuth, elevation) = (45°, 35°), (−45°, −35°),
(135°, −35°), (−135°, 35°), radius 4.2 cm; ``mic_positions`` are relative to the array centre
and ``measinfo(i).micPosition`` (m), when given, is stored as ``array_position``. SAR-SSL feeds
the ``_deg`` angles to a conversion that expects radians and a polar angle; audiopipe converts
degrees and elevation as the README defines them. The source is given by the README's reference DOA ``doa_xyz`` (a
unit vector, acoustically estimated) — stored as ``source_doa`` — and ``source_position`` is
``None`` (the distance is per trajectory group in ``measinfo``, not per RIR).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import h5py
import numpy as np

from audiopipe.corpora._base import (
    CorpusLayoutError,
    base_record,
    loadmat,
    require_dir,
    require_file,
    wav_info,
    write_manifest,
)

TETRA_AZEL_DEG = ((45.0, 35.0), (-45.0, -35.0), (135.0, -35.0), (-135.0, 35.0))
TETRA_RADIUS_M = 0.042
_ROOM_FILE = re.compile(r"^rirs_(\d{2})_(\w+)\.mat$")
NOISE_NAME = {"mic": "tetra", "foa": "foa"}


def tetra_mic_positions(azel_deg=TETRA_AZEL_DEG, radius_m: float = TETRA_RADIUS_M) -> np.ndarray:
    """``(4, 3)`` tetrahedral capsule positions in m (x front, y left, z up) from
    (azimuth, elevation) in degrees and the radius in m."""
    az, el = np.deg2rad(np.asarray(azel_deg, dtype=float)).T
    return radius_m * np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=1)


def _is_hdf5(path: Path) -> bool:
    return h5py.is_hdf5(str(path))


def _load_v5(path: str) -> np.ndarray:
    """The ``rirs`` struct array of a v5 room file (cached per path and modification time)."""
    return _load_v5_cached(path, Path(path).stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _load_v5_cached(path: str, mtime_ns: int) -> np.ndarray:
    return loadmat(Path(path), ["rirs"])["rirs"]


def tau_room_shape(path: Path, array_format: str) -> list[list[tuple[int, int, int]]]:
    """Shapes ``(samples, channels, points)`` of every ``rirs(traj, height)`` entry of a room file.

    Raises
    ------
    CorpusLayoutError
        Unreadable file, no ``rirs`` struct, or no ``array_format`` field.
    """
    if _is_hdf5(path):
        with h5py.File(path, "r") as f:
            if "rirs" not in f or array_format not in f["rirs"]:
                raise CorpusLayoutError(f"{path}: missing struct field rirs.{array_format}")
            ds = f["rirs"][array_format]
            if ds.dtype != h5py.ref_dtype:  # a 1x1 struct stores its field data directly
                return [[tuple(reversed(ds.shape))]]
            refs = ds[()]  # MATLAB (traj, height) stored transposed: (height, traj)
            return [[tuple(reversed(f[refs[h, t]].shape)) for h in range(refs.shape[0])]
                    for t in range(refs.shape[1])]
    rirs = _load_v5(str(path))
    if array_format not in (rirs.dtype.names or ()):
        raise CorpusLayoutError(f"{path}: missing struct field rirs.{array_format}")
    return [[tuple(np.asarray(rirs[t, h][array_format]).shape) for h in range(rirs.shape[1])]
            for t in range(rirs.shape[0])]


def read_tau_point(path: Path, array_format: str, traj: int, height: int, point: int,
                   channels: list[int]) -> np.ndarray:
    """Read one SRIR ``(channels, samples)`` of trajectory ``traj``, height ``height``, point ``point``."""
    if _is_hdf5(path):
        with h5py.File(path, "r") as f:
            ds = f["rirs"][array_format]
            # stored (points, channels, samples)
            a = ds[point] if ds.dtype != h5py.ref_dtype else f[ds[height, traj]][point]
            return np.asarray(a, dtype=np.float64)[channels]
    a = np.asarray(_load_v5(str(path))[traj, height][array_format])
    if a.ndim == 2:
        a = a[:, :, None]
    return np.asarray(a[:, channels, point], dtype=np.float64).T


def _struct_field(s, name: str, path: Path, where: str):
    names = s.dtype.names or ()
    if name not in names:
        raise CorpusLayoutError(f"{path}: {where} has no field {name!r} (fields {list(names)})")
    return s[name]


def read_rirdata(path: Path) -> tuple[int, dict[str, list[list[np.ndarray]]], np.ndarray]:
    """Read ``rirdata.mat``: the sampling rate (Hz), ``room name -> [traj][height] doa_xyz``
    and the tetrahedral capsule positions ``(4, 3)`` in m."""
    m = loadmat(path, ["rirdata"])
    rd = m["rirdata"][0, 0]
    fs = int(np.asarray(_struct_field(rd, "fs", path, "rirdata")).squeeze())
    names = rd.dtype.names or ()
    azel = np.asarray(rd["tetra_mic_azel_deg"], dtype=float) if "tetra_mic_azel_deg" in names else TETRA_AZEL_DEG
    radius = float(np.asarray(rd["tetra_mic_radius_m"]).squeeze()) if "tetra_mic_radius_m" in names else TETRA_RADIUS_M
    if np.shape(azel) != (4, 2):
        raise CorpusLayoutError(f"{path}: rirdata.tetra_mic_azel_deg has shape {np.shape(azel)}, expected (4, 2)")
    mics = tetra_mic_positions(azel, radius)
    rooms = np.asarray(_struct_field(rd, "room", path, "rirdata")).ravel()
    out = {}
    for i, room in enumerate(rooms):
        name = str(np.asarray(_struct_field(room, "name", path, f"rirdata.room({i + 1})")).squeeze())
        rirs = np.asarray(_struct_field(room, "rirs", path, f"rirdata.room({i + 1})"))
        if rirs.ndim != 2:
            raise CorpusLayoutError(f"{path}: rirdata.room({i + 1}).rirs is not a (traj, height) struct array")
        out[name] = [
            [np.asarray(_struct_field(rirs[t, h], "doa_xyz", path, f"rirdata.room({i + 1}).rirs"), dtype=float)
             for h in range(rirs.shape[1])]
            for t in range(rirs.shape[0])
        ]
    return fs, out, mics


def read_measinfo(path: Path) -> dict[str, dict[str, list[float]]]:
    """``room name -> {"room_size": m, "array_position": m}`` from ``measinfo.mat``, each where
    given as three numbers (``dimensions``, ``micPosition``)."""
    m = loadmat(path, ["measinfo"])
    out = {}
    for i, s in enumerate(np.asarray(m["measinfo"]).ravel()):
        name = str(np.asarray(_struct_field(s, "name", path, f"measinfo({i + 1})")).squeeze())
        info = {}
        for field, key in (("dimensions", "room_size"), ("micPosition", "array_position")):
            if field in (s.dtype.names or ()):
                v = np.asarray(s[field], dtype=float).ravel()
                if v.size == 3:
                    info[key] = v.tolist()
        out[name] = info
    return out


def prepare_tau_srir(
    root: Path,
    output_dir: Path,
    array_format: str = "mic",
) -> Path:
    """Write the TAU-SRIR/TAU-SNoise manifest ``<output_dir>/tau_srir_recordings.jsonl.gz``.

    Parameters
    ----------
    root : path-like
        Folder holding ``TAU-SRIR_DB/`` (and optionally ``TAU-SNoise_DB/``).
    output_dir : path-like
        Where the manifest goes.
    array_format : str
        ``"mic"`` (tetrahedral array, SAR-SSL's choice) or ``"foa"`` (first-order Ambisonics;
        no microphone positions).

    Returns
    -------
    Path
        The manifest: one ``kind="rir"`` record per (room, trajectory, height, point)
        (``format="tau_srir_mat"``, 4 channels) with ``source_doa`` (unit vector),
        ``mic_positions`` (m, ``mic`` format, relative to the array centre), ``room_size`` and
        ``array_position`` (m, from measinfo when given);
        one ``kind="noise"`` record per room ambience file.

    Raises
    ------
    CorpusLayoutError
        Missing ``TAU-SRIR_DB``/``rirdata.mat``/room file; a room file whose name is not
        ``rirs_<NN>_<room>.mat``, whose room is not in ``rirdata.mat``, whose
        (trajectory, height) grid or point counts differ from the DOA table, or whose channel
        count is not 4; an ambience file that is not 4-channel.
    """
    if array_format not in NOISE_NAME:
        raise CorpusLayoutError(f"array_format {array_format!r}: use 'mic' or 'foa'")
    root = Path(root)
    sdir = require_dir(root / "TAU-SRIR_DB", "TAU-SRIR DB")
    fs, doas, tetra = read_rirdata(require_file(sdir / "rirdata.mat", "TAU-SRIR rirdata"))
    meas = read_measinfo(sdir / "measinfo.mat") if (sdir / "measinfo.mat").is_file() else {}
    mics = tetra if array_format == "mic" else None
    records = []
    room_files = sorted(sdir.glob("rirs_*"))
    if not room_files:
        raise CorpusLayoutError(f"{sdir}: no rirs_<NN>_<room>.mat file")
    for f in room_files:
        m = _ROOM_FILE.match(f.name)
        if m is None:
            raise CorpusLayoutError(f"{f}: room file name must be rirs_<NN>_<room>.mat")
        rank, room = m.groups()
        if room not in doas:
            raise CorpusLayoutError(f"{f}: room {room!r} is not in rirdata.mat (rooms {sorted(doas)})")
        shapes = tau_room_shape(f, array_format)
        grid = (len(shapes), len(shapes[0]) if shapes else 0)
        dgrid = (len(doas[room]), len(doas[room][0]) if doas[room] else 0)
        if grid != dgrid:
            raise CorpusLayoutError(f"{f}: (trajectory, height) grid {grid} differs from rirdata.mat {dgrid}")
        for t, row in enumerate(shapes):
            for h, (nsamp, nch, npts) in enumerate(row):
                doa = doas[room][t][h]
                if nch != 4:
                    raise CorpusLayoutError(f"{f}: rirs({t + 1},{h + 1}).{array_format} has {nch} channels, expected 4")
                if doa.shape != (npts, 3):
                    raise CorpusLayoutError(
                        f"{f}: rirs({t + 1},{h + 1}) has {npts} points but rirdata.mat doa_xyz is {doa.shape}"
                    )
                for p in range(npts):
                    records.append(
                        base_record(
                            id=f"tau_srir_{room}_t{t + 1}_h{h + 1}_p{p + 1:04d}",
                            path=f,
                            sampling_rate=fs,
                            num_samples=nsamp,
                            num_channels=nch,
                            corpus="tau_srir",
                            kind="rir",
                            format="tau_srir_mat",
                            array_format=array_format,
                            trajectory=t,
                            height=h,
                            point=p,
                            room=room,
                            room_rank=rank,
                            array="tetra" if array_format == "mic" else "foa",
                            mic_positions=mics,
                            source_position=None,
                            source_doa=doa[p],
                            room_size=meas.get(room, {}).get("room_size"),
                            array_position=meas.get(room, {}).get("array_position"),
                            T60=None,
                            DRR=None,
                        )
                    )
        ndir = root / "TAU-SNoise_DB" / f"{rank}_{room}"
        nf = ndir / f"ambience_{NOISE_NAME[array_format]}_24k_edited.wav"
        if ndir.is_dir():
            info = wav_info(require_file(nf, "TAU-SNoise ambience"), num_channels=4)
            records.append(
                base_record(
                    id=f"tau_snoise_{room}_{NOISE_NAME[array_format]}",
                    path=nf,
                    corpus="tau_srir",
                    kind="noise",
                    room=room,
                    array="tetra" if array_format == "mic" else "foa",
                    noise_type="ambience",
                    **{k: info[k] for k in ("sampling_rate", "num_samples", "num_channels")},
                )
            )
    return write_manifest(records, output_dir, "tau_srir")
