"""Bar-Ilan multichannel impulse response database (MIRD; Hadad et al., IWAENC 2014).

Layout (SAR-SSL ``code/data_generation/gen_real_rir.py``, ``MIRRIRDataset``)::

    <root>/Impulse_response_Acoustic_Lab_Bar-Ilan_University/
        Impulse_response_Acoustic_Lab_Bar-Ilan_University_(Reverberation_0.160s)_3-3-3-8-3-3-3_1m_000.mat
        ...   T60 in {0.160, 0.360, 0.610} s, spacing in {3-3-3-8-3-3-3, 4-4-4-8-4-4-4,
              8-8-8-8-8-8-8} cm, distance {1m, 2m}, angle {270..345, 000..090} deg

Each .mat holds ``impulse_response`` ``(samples, 8)`` and the struct ``simpar`` with field
``fs`` (Hz); SAR-SSL also reads ``metapar.reverberation``. The room is 6 m × 6 m × 2.4 m.

Geometry (an assumption stated here, because the files give only spacings and angles): the
8-microphone linear array lies on the y-axis, centred at the origin, microphone 1 at the +y
end, successive microphones separated by the spacings in the file name (cm); the source is at
``(d cos a, d sin a, 0)`` for distance ``d`` and angle ``a`` of the file name, so 000 is
broadside. This is SAR-SSL's construction (``src_poss = distance*[cos azi, sin azi, 0]``, mics
at the centred cumulative spacings along the directions in ``metapar.mic_position``) with the
two array halves placed at 90° and 270°.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from audiopipe.corpora._base import (
    CorpusLayoutError,
    base_record,
    loadmat,
    require_dir,
    write_manifest,
)

FOLDER = "Impulse_response_Acoustic_Lab_Bar-Ilan_University"
ROOM_SIZE = (6.0, 6.0, 2.4)
_NAME = re.compile(
    r"^Impulse_response_Acoustic_Lab_Bar-Ilan_University_\(Reverberation_(\d+\.\d+)s\)_"
    r"((?:\d+-)+\d+)_(\d+)m_(\d{3})\.mat$"
)


def mird_geometry(spacing_cm: list[float], distance_m: float, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Microphone ``(mics, 3)`` and source ``(3,)`` positions in m (see the module docstring)."""
    cum = np.concatenate([[0.0], np.cumsum(spacing_cm)]) / 100.0
    y = cum[-1] / 2 - cum  # centred, microphone 1 at +y
    mics = np.stack([np.zeros_like(y), y, np.zeros_like(y)], axis=1)
    a = np.deg2rad(angle_deg)
    src = np.array([distance_m * np.cos(a), distance_m * np.sin(a), 0.0])
    return mics, src


def _check_metapar(f: Path, meta: np.ndarray, t60: float, spacing_cm: list[float], dist: float,
                   angle: float) -> None:
    """Cross-check the ``metapar`` fields SAR-SSL reads against the file name."""
    names = meta.dtype.names or ()

    def value(k):
        return np.asarray(meta[k][0, 0], dtype=float).ravel()

    checks = []
    if "reverberation" in names:
        checks.append(("reverberation", value("reverberation")[:1], [t60], "s"))
    if "mic_spacing" in names:
        checks.append(("mic_spacing", value("mic_spacing"), spacing_cm, "cm"))
    if "distance" in names:
        checks.append(("distance", value("distance")[:1], [dist], "m"))
    for k, got, want, unit in checks:
        if len(got) != len(want) or not np.allclose(got, want, atol=1e-3):
            raise CorpusLayoutError(f"{f}: metapar.{k} = {got.tolist()} {unit} but the file name says {want} {unit}")
    if "azimuth" in names:
        az = value("azimuth")[:1]
        if az.size != 1 or abs((az[0] - angle + 180) % 360 - 180) > 1e-3:
            raise CorpusLayoutError(f"{f}: metapar.azimuth = {az.tolist()} deg but the file name says {angle} deg")


def prepare_mir(root: Path, output_dir: Path) -> Path:
    """Write the MIRD manifest ``<output_dir>/mir_recordings.jsonl.gz``.

    Parameters
    ----------
    root : path-like
        Folder holding ``Impulse_response_Acoustic_Lab_Bar-Ilan_University/`` (or that folder).
    output_dir : path-like
        Where the manifest goes.

    Returns
    -------
    Path
        The manifest: one ``kind="rir"`` record per .mat (``format="mat"``,
        ``key="impulse_response"``), ``room`` ``R1``/``R2``/``R3`` by T60 as in SAR-SSL, ``array``
        the spacing code, ``T60`` (s, from ``metapar.reverberation`` when present, else the
        file name), ``distance`` (m), ``azimuth`` (deg), positions in m.

    Raises
    ------
    CorpusLayoutError
        Missing folder, a .mat whose name does not follow the MIRD pattern, a non-.mat file,
        missing ``impulse_response``/``simpar``, a channel count other than the number of
        spacings + 1, or ``metapar`` (``reverberation``, ``mic_spacing``, ``distance``,
        ``azimuth`` modulo 360°) disagreeing with the file name.
    """
    root = Path(root)
    d = root if root.name == FOLDER else root / FOLDER
    require_dir(d, "MIRD impulse responses")
    t60_rooms: dict[str, str] = {}
    records = []
    for f in sorted(d.iterdir()):
        if f.suffix.lower() != ".mat":
            raise CorpusLayoutError(f"{f}: unexpected file in MIRD folder (expected .mat)")
        m = _NAME.match(f.name)
        if m is None:
            raise CorpusLayoutError(f"{f}: name does not follow the MIRD pattern {_NAME.pattern}")
        t60_name, spacing, dist, angle = m.groups()
        spacing_cm = [float(s) for s in spacing.split("-")]
        mat = loadmat(f, ["impulse_response", "simpar"])
        h = np.asarray(mat["impulse_response"])
        if h.ndim != 2 or h.shape[1] != len(spacing_cm) + 1:
            raise CorpusLayoutError(
                f"{f}: impulse_response has shape {h.shape}, expected (samples, "
                f"{len(spacing_cm) + 1}) for spacing {spacing}"
            )
        try:
            fs = int(np.asarray(mat["simpar"]["fs"][0, 0]).squeeze())
        except (ValueError, IndexError, KeyError) as e:
            raise CorpusLayoutError(f"{f}: simpar has no field 'fs' ({e!r})") from e
        t60 = float(t60_name)
        if "metapar" in mat:
            _check_metapar(f, mat["metapar"], t60, spacing_cm, float(dist), float(angle))
        mics, src = mird_geometry(spacing_cm, float(dist), float(angle))
        t60_rooms.setdefault(t60_name, "")
        records.append(
            base_record(
                id=f"mir_T{t60_name}_{spacing}_{dist}m_{angle}",
                path=f,
                sampling_rate=fs,
                num_samples=h.shape[0],
                num_channels=h.shape[1],
                corpus="mir",
                kind="rir",
                format="mat",
                key="impulse_response",
                room=t60_name,
                array=spacing,
                mic_positions=mics,
                source_position=src,
                distance=float(dist),
                azimuth=float(angle),
                room_size=list(ROOM_SIZE),
                T60=t60,
                DRR=None,
            )
        )
    # SAR-SSL names the three reverberation settings R1 < R2 < R3
    names = {t: f"R{i + 1}" for i, t in enumerate(sorted(t60_rooms, key=float))}
    for r in records:
        r["room"] = names[r["room"]]
    return write_manifest(records, output_dir, "mir")
