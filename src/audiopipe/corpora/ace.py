"""ACE Challenge corpus (Eaton et al., 2015/2016): measured RIRs, noises, T60/DRR annotations.

Layout (SAR-SSL ``code/data_generation/gen_real_rir.py``, ``ACERIRDataset``)::

    <root>/RIRN/<array>/<room>/<config>/*RIR*.wav            multichannel RIR
    <root>/RIRN/<array>/<room>/<config>/*Noise*_<type>.wav   noise recordings (ambient, fan, babble)
    <root>/Data/20150814T154139_Corpus_Mean_DRRs_and_T60s.csv

``<array>`` is one of Single, Chromebook, Mobile, Crucif, Lin8Ch, EM32; ``<room>`` e.g.
Building_Lobby, Lecture_Room_1; ``<config>`` 1 or 2 (array position). The annotation csv is
comma+space separated with columns ``Mic config:``, ``Room decode:``, ``Room config:``,
``Chan:`` (1-based), ``FB T60:`` (s) and ``FB DRR:`` (dB), the full-band values, one row per
channel; SAR-SSL reads the same columns.

Microphone positions (m, relative to the array) and room sizes (m) are SAR-SSL's tables. Not
given for EM32: SAR-SSL's EM32 table has a repeated capsule position (rows 6 and 8 are both
(-0.024, 0.024, 0.024)), so audiopipe leaves ``mic_positions`` at ``None`` for it rather than trust it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from audiopipe.corpora._base import (
    CorpusLayoutError,
    base_record,
    require_columns,
    require_dir,
    require_file,
    wav_info,
    write_manifest,
)

ANNOTATION_CSV = "20150814T154139_Corpus_Mean_DRRs_and_T60s.csv"
ANNOTATION_COLUMNS = ("Mic config:", "Room decode:", "Room config:", "Chan:", "FB T60:", "FB DRR:")

NUM_CHANNELS = {"Single": 1, "Chromebook": 2, "Mobile": 3, "Crucif": 5, "Lin8Ch": 8, "EM32": 32}
MIC_POSITIONS = {
    "Single": [[0.0, 0.0, 0.0]],
    "Chromebook": [[0, 0, 0], [0, 0.062, 0]],
    "Mobile": [[0.045, 0, 0], [0, 0, 0], [0, 0.0893029, 0]],
    "Crucif": [[0, 0, 0], [0.25, 0, 0], [0, 0.25, 0], [-0.25, 0, 0], [0, -0.25, 0]],
    "Lin8Ch": [[0.06 * i, 0, 0] for i in range(8)],
}
ROOM_SIZE = {
    "Building_Lobby": (4.47, 5.13, 3.18),
    "Lecture_Room_1": (6.93, 9.73, 3.0),
    "Lecture_Room_2": (13.6, 9.29, 2.94),
    "Meeting_Room_1": (6.61, 5.11, 2.95),
    "Meeting_Room_2": (10.3, 9.07, 2.63),
    "Office_1": (3.32, 4.83, 2.95),
    "Office_2": (3.22, 5.1, 2.94),
}


def read_ace_annotations(path: Path) -> dict[tuple[str, str, str], dict[int, tuple[float, float]]]:
    """Read the ACE corpus-mean annotation csv.

    Returns
    -------
    dict
        ``(array, room, config) -> {channel (0-based): (T60 s, DRR dB)}``.

    Raises
    ------
    CorpusLayoutError
        Missing file or column, or a non-numeric channel/T60/DRR value (naming the row).
    """
    require_file(path, "ACE T60/DRR annotations")
    df = pd.read_csv(path, sep=", ", engine="python", dtype=str)
    df.columns = [c.strip() for c in df.columns]
    require_columns(df, ANNOTATION_COLUMNS, path)
    out: dict = {}
    for i, row in df.iterrows():
        try:
            ch = int(row["Chan:"]) - 1
            t60, drr = float(row["FB T60:"]), float(row["FB DRR:"])
        except (TypeError, ValueError) as e:
            raise CorpusLayoutError(f"{path}: row {i + 2}: non-numeric Chan/FB T60/FB DRR ({e})") from e
        key = (row["Mic config:"].strip(), row["Room decode:"].strip(), str(row["Room config:"]).strip())
        out.setdefault(key, {})[ch] = (t60, drr)
    return out


def prepare_ace(
    root: Path,
    output_dir: Path,
    arrays: tuple[str, ...] | None = None,
) -> Path:
    """Write the ACE manifest ``<output_dir>/ace_recordings.jsonl.gz``.

    Parameters
    ----------
    root : path-like
        Folder holding ``RIRN/`` and ``Data/``.
    output_dir : path-like
        Where the manifest goes.
    arrays : tuple of str, optional
        Arrays to read (default: every array folder present; SAR-SSL uses Chromebook, Mobile,
        Lin8Ch, EM32).

    Returns
    -------
    Path
        The manifest: per ``RIRN/<array>/<room>/<config>`` one ``kind="rir"`` record
        (``format="wav"``) with ``T60`` (s, mean of the annotated channels, as SAR-SSL) and
        ``DRR`` (dB per channel) from the csv, ``room_size`` (m) and ``mic_positions`` (m); one
        ``kind="noise"`` record per noise file with ``noise_type``.

    Raises
    ------
    CorpusLayoutError
        Missing ``RIRN``/``Data`` folder or annotation csv or column; an unknown array name; a
        configuration folder with no or several ``*RIR*.wav``; a non-WAV file; an RIR whose
        channel count differs from the array's; an RIR without annotation rows for every
        channel.
    """
    root = Path(root)
    rirn = require_dir(root / "RIRN", "ACE RIRs and noises")
    annos = read_ace_annotations(require_dir(root / "Data", "ACE annotations") / ANNOTATION_CSV)
    records = []
    array_dirs = sorted(p for p in rirn.iterdir() if p.is_dir())
    if arrays is not None:
        array_dirs = [require_dir(rirn / a, "ACE array") for a in arrays]
    for adir in array_dirs:
        array = adir.name
        if array not in NUM_CHANNELS:
            raise CorpusLayoutError(f"{adir}: unknown ACE array {array!r}; expected one of {sorted(NUM_CHANNELS)}")
        nch = NUM_CHANNELS[array]
        for rdir in sorted(p for p in adir.iterdir() if p.is_dir()):
            room = rdir.name
            for cdir in sorted(p for p in rdir.iterdir() if p.is_dir()):
                config = cdir.name
                files = sorted(p for p in cdir.iterdir() if p.is_file())
                for f in files:
                    if f.suffix.lower() != ".wav":
                        raise CorpusLayoutError(f"{f}: unexpected file in ACE tree (expected .wav)")
                rirs = [f for f in files if "RIR" in f.name]
                if len(rirs) != 1:
                    raise CorpusLayoutError(f"{cdir}: expected exactly one *RIR*.wav, found {len(rirs)}")
                f = rirs[0]
                info = wav_info(f, num_channels=nch)
                anno = annos.get((array, room, config))
                if anno is None or sorted(anno) != list(range(nch)):
                    have = None if anno is None else sorted(c + 1 for c in anno)
                    raise CorpusLayoutError(
                        f"{f}: annotation csv has channels {have} for ({array}, {room}, {config}), "
                        f"expected 1..{nch}"
                    )
                t60 = np.array([anno[c][0] for c in range(nch)])
                drr = np.array([anno[c][1] for c in range(nch)])
                size = ROOM_SIZE.get(room)
                common = dict(room=room, array=array, array_config=config)
                records.append(
                    base_record(
                        id=f"ace_{array}_{room}_{config}_rir",
                        path=f,
                        corpus="ace",
                        kind="rir",
                        format="wav",
                        mic_positions=MIC_POSITIONS.get(array),
                        source_position=None,
                        room_size=None if size is None else list(size),
                        T60=float(t60.mean()),
                        T60_per_channel=t60,
                        DRR=drr,
                        **common,
                        **{k: info[k] for k in ("sampling_rate", "num_samples", "num_channels")},
                    )
                )
                for nf in (f for f in files if "Noise" in f.name):
                    ninfo = wav_info(nf)
                    ntype = nf.stem.split("_")[-1]
                    records.append(
                        base_record(
                            id=f"ace_{array}_{room}_{config}_noise_{ntype}",
                            path=nf,
                            corpus="ace",
                            kind="noise",
                            noise_type=ntype,
                            channels_match_rir=ninfo["num_channels"] == nch,
                            **common,
                            **{k: ninfo[k] for k in ("sampling_rate", "num_samples", "num_channels")},
                        )
                    )
    return write_manifest(records, output_dir, "ace")
