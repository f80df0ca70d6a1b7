"""MeshRIR (Koyama et al., 2021): RIRs on a meshed grid, S32-M441 and S1-M3969 sessions.

Layout (``sh01k/MeshRIR`` ``irutilities.py`` ``loadIR`` and ``docs/index.md``; SAR-SSL
``code/data_generation/gen_real_rir.py`` ``MeshRIRDataset`` reads ``S32-M441_npy``)::

    <root>/S32-M441_npy/pos_mic.npy     (441, 3) microphone positions, m
    <root>/S32-M441_npy/pos_src.npy     (32, 3) source positions, m
    <root>/S32-M441_npy/ir_<m>.npy      (32, 32768) IRs of microphone m from every source
    <root>/S32-M441_npy/data.json       {"samplerate": 48000, ...}
    <root>/S1-M3969_npy/...             same files, 1 source, 3969 microphones

Room 7.0 m × 6.4 m × 2.7 m; RT60 0.19 s (S32-M441) and 0.38 s (S1-M3969), as given in the
MeshRIR documentation (SAR-SSL uses the same 0.19 s and room size). One manifest record per
(session, source): its channels are all microphones of the session, in ``ir_<m>`` order;
:func:`audiopipe.corpora._base.load_rir` reads only the requested microphones (one row of each
``ir_<m>.npy``, memory-mapped).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from audiopipe.corpora._base import (
    CorpusLayoutError,
    base_record,
    check_positions,
    load_npy,
    require_dir,
    require_file,
    write_manifest,
)

ROOM_SIZE = (7.0, 6.4, 2.7)
SESSION_T60 = {"S32-M441_npy": 0.19, "S1-M3969_npy": 0.38}
_IR_NAME = re.compile(r"^ir_(\d+)\.npy$")


def _session_records(sdir: Path) -> list[dict]:
    pos_mic = check_positions(load_npy(sdir / "pos_mic.npy", "MeshRIR mic positions"),
                              None, sdir / "pos_mic.npy", "pos_mic")
    pos_src = check_positions(load_npy(sdir / "pos_src.npy", "MeshRIR source positions"),
                              None, sdir / "pos_src.npy", "pos_src")
    meta_p = require_file(sdir / "data.json", "MeshRIR session metadata")
    try:
        meta = json.loads(meta_p.read_text())
        fs = int(meta["samplerate"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise CorpusLayoutError(f"{meta_p}: no integer 'samplerate' ({e!r})") from e
    nmic, nsrc = len(pos_mic), len(pos_src)
    found = {}
    for f in sdir.iterdir():
        if f.name.startswith("ir_"):
            m = _IR_NAME.match(f.name)
            if m is None:
                raise CorpusLayoutError(f"{f}: IR file name must be ir_<mic index>.npy")
            found[int(m.group(1))] = f
    missing = sorted(set(range(nmic)) - set(found))
    if missing:
        raise CorpusLayoutError(
            f"{sdir / f'ir_{missing[0]}.npy'}: missing ({len(missing)} of {nmic} microphones have "
            f"no ir_<m>.npy; pos_mic.npy lists {nmic})"
        )
    extra = sorted(set(found) - set(range(nmic)))
    if extra:
        raise CorpusLayoutError(f"{found[extra[0]]}: microphone index beyond pos_mic.npy ({nmic} mics)")
    lengths = set()
    for m in range(nmic):
        try:
            a = np.load(found[m], mmap_mode="r")
        except (ValueError, OSError) as e:
            raise CorpusLayoutError(f"{found[m]}: unreadable .npy ({e})") from e
        if a.ndim != 2 or a.shape[0] != nsrc:
            raise CorpusLayoutError(
                f"{found[m]}: shape {a.shape}, expected ({nsrc}, samples) for {nsrc} sources"
            )
        lengths.add(a.shape[1])
    if len(lengths) != 1:
        raise CorpusLayoutError(f"{sdir}: ir_<m>.npy files differ in length {sorted(lengths)}")
    (nsamples,) = lengths
    session = sdir.name
    return [
        base_record(
            id=f"meshrir_{session.removesuffix('_npy')}_src{s:02d}",
            path=sdir,
            sampling_rate=fs,
            num_samples=nsamples,
            num_channels=nmic,
            corpus="meshrir",
            kind="rir",
            format="meshrir_npy",
            source_index=s,
            room="meshrir",
            array=session.removesuffix("_npy"),
            mic_positions=pos_mic,
            source_position=pos_src[s],
            room_size=list(ROOM_SIZE),
            T60=SESSION_T60.get(session),
            DRR=None,
        )
        for s in range(nsrc)
    ]


def prepare_meshrir(
    root: Path,
    output_dir: Path,
    sessions: tuple[str, ...] = ("S32-M441_npy",),
) -> Path:
    """Write the MeshRIR manifest ``<output_dir>/meshrir_recordings.jsonl.gz``.

    Parameters
    ----------
    root : path-like
        Folder holding the session folders.
    output_dir : path-like
        Where the manifest goes.
    sessions : tuple of str
        Session folders to read (SAR-SSL reads ``S32-M441_npy`` only).

    Returns
    -------
    Path
        The manifest: one ``kind="rir"`` record per (session, source) with
        ``format="meshrir_npy"``, ``source_index``, ``mic_positions`` ``(mics, 3)`` m,
        ``source_position`` m, ``room_size`` m and the documented ``T60`` (s).

    Raises
    ------
    CorpusLayoutError
        Missing session folder, ``pos_mic.npy``, ``pos_src.npy``, ``data.json`` (or its
        ``samplerate``), a missing or misnamed ``ir_<m>.npy``, or IR arrays whose shape does not
        match the number of sources or each other.
    """
    root = Path(root)
    records = []
    for s in sessions:
        records += _session_records(require_dir(root / s, "MeshRIR session"))
    return write_manifest(records, output_dir, "meshrir")
