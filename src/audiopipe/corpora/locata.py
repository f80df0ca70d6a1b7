"""LOCATA challenge corpus (Evers et al., IEEE/ACM TASLP 2020): real array recordings.

Layout (SAR-SSL ``code/data_generation/utils_LOCATA.py``, ``LOCATADataset``; the LOCATA I/O
tools ``cevers/sap_locata_io`` ``utils/load_data.m``, ``struct2position.m``, ``init.m``)::

    <root>/<dev|eval>/task<N>/recording<M>/<array>/
        audio_array_<array>.wav            (samples, M) array recording
        audio_source_<source>.wav          close-talking source signals (dev; eval after release)
        position_array_<array>.txt         tab-separated: year month day hour minute second x y z
                                           ref_vec_x.. rotation_11..rotation_33 mic<i>_x/_y/_z
        position_source_<source>.txt       tab-separated: year .. second x y z ref_vec_x..
        required_time.txt                  tab-separated: year .. second valid_flag

``<array>`` is one of ``dummy`` (4 mics), ``eigenmike`` (32), ``benchmark2`` (12), ``dicit``
(15) — ``init.m``'s microphone counts. Microphone positions (m, room frame) come from the
``mic<i>_x/y/z`` columns of ``position_array_<array>.txt`` (first time stamp; in tasks 5–6 the
array moves and ``array_moving`` is set). Room 7.1 m × 9.8 m × 3 m (SAR-SSL).

One ``kind="array_recording"`` record per array folder. Each source entry gives its audio file,
position file, first position (m) and whether it is static (all positions within 1 cm).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from audiopipe.corpora._base import (
    CorpusLayoutError,
    base_record,
    check_positions,
    require_columns,
    require_dir,
    require_file,
    wav_info,
    write_manifest,
)

NUM_MICS = {"dummy": 4, "eigenmike": 32, "benchmark2": 12, "dicit": 15}
ROOM_SIZE = (7.1, 9.8, 3.0)
TIME_COLUMNS = ("year", "month", "day", "hour", "minute", "second")
_TASK = re.compile(r"^task(\d+)$")
_REC = re.compile(r"^recording(\d+)$")


def _read_table(path: Path, columns) -> pd.DataFrame:
    require_file(path, "LOCATA table")
    try:
        df = pd.read_csv(path, sep="\t")
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise CorpusLayoutError(f"{path}: unreadable tab-separated table ({e})") from e
    df.columns = [str(c).strip() for c in df.columns]
    require_columns(df, columns, path)
    if len(df) == 0:
        raise CorpusLayoutError(f"{path}: table has no rows")
    return df


def clock_seconds(df: pd.DataFrame) -> np.ndarray:
    """Seconds since midnight of a LOCATA table's rows: ``hour*3600 + minute*60 + second``
    (as the SAR-SSL reference and ``sap_locata_io`` do; a recording never spans midnight)."""
    return (df["hour"].to_numpy(float) * 3600 + df["minute"].to_numpy(float) * 60
            + df["second"].to_numpy(float))


def read_required_times(path: Path) -> np.ndarray:
    """Time stamps (s since midnight) of ``required_time.txt``: the clock of the recording,
    whose first row is the first audio sample.

    Raises
    ------
    CorpusLayoutError
        Missing file or time column, or time stamps that do not increase.
    """
    path = Path(path)
    t = clock_seconds(_read_table(path, TIME_COLUMNS))
    if len(t) > 1 and not np.all(np.diff(t) > 0):
        raise CorpusLayoutError(f"{path}: time stamps do not increase")
    return t


def read_mic_trajectory(path: Path, num_mics: int) -> tuple[np.ndarray, np.ndarray]:
    """Time stamps ``(T,)`` (s since midnight) and microphone positions ``(T, num_mics, 3)`` (m,
    room frame) of every row of ``position_array_<array>.txt`` (``mic<i>_x/_y/_z`` columns).

    Raises
    ------
    CorpusLayoutError
        Missing file or column, or non-finite positions (named).
    """
    path = Path(path)
    cols = [f"mic{i}_{a}" for i in range(1, num_mics + 1) for a in "xyz"]
    df = _read_table(path, list(TIME_COLUMNS) + cols)
    mics = check_positions(df[cols].to_numpy().reshape(-1, 3), len(df) * num_mics, path, "mic<i>_x/y/z")
    return clock_seconds(df), mics.reshape(len(df), num_mics, 3)


def read_source_trajectory(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Time stamps ``(T,)`` (s since midnight) and positions ``(T, 3)`` (m) of
    ``position_source_<source>.txt``.

    Raises
    ------
    CorpusLayoutError
        Missing file or column, or non-finite positions (named).
    """
    path = Path(path)
    df = _read_table(path, list(TIME_COLUMNS) + ["x", "y", "z"])
    return clock_seconds(df), check_positions(df[["x", "y", "z"]].to_numpy(), None, path, "source x/y/z")


def read_array_positions(path: Path, num_mics: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Microphone ``(num_mics, 3)`` and array-centre ``(3,)`` positions (m) at the first time
    stamp, and whether the array moves (any centre position more than 1 cm from the first).

    Raises
    ------
    CorpusLayoutError
        Missing file or a missing ``x/y/z`` or ``mic<i>_x/_y/_z`` column (named).
    """
    cols = list(TIME_COLUMNS) + ["x", "y", "z"]
    cols += [f"mic{i}_{a}" for i in range(1, num_mics + 1) for a in "xyz"]
    df = _read_table(path, cols)
    mics = check_positions([[df[f"mic{i}_{a}"].iloc[0] for a in "xyz"] for i in range(1, num_mics + 1)],
                           num_mics, path, "mic<i>_x/y/z")
    centre = check_positions(df[["x", "y", "z"]].to_numpy(), None, path, "array x/y/z")
    moving = bool(np.max(np.linalg.norm(centre - centre[0], axis=1)) > 0.01)
    return mics, centre[0], moving


def prepare_locata(
    root: Path,
    output_dir: Path,
    splits: tuple[str, ...] = ("dev", "eval"),
) -> Path:
    """Write the LOCATA manifest ``<output_dir>/locata_recordings.jsonl.gz``.

    Parameters
    ----------
    root : path-like
        Folder holding ``dev/`` and/or ``eval/``.
    output_dir : path-like
        Where the manifest goes.
    splits : tuple of str
        Splits to read; each must exist (SAR-SSL trains on eval, tests on dev).

    Returns
    -------
    Path
        The manifest: per array folder one ``kind="array_recording"`` record with ``split``,
        ``task``, ``recording``, ``array``, ``mic_positions`` ``(mics, 3)`` m, ``array_position``
        m, ``array_moving``, ``sources`` (list of ``{name, path, position_path,
        source_position, static}``), ``required_time_path``, ``num_required_times`` and
        ``room_size`` m.

    Raises
    ------
    CorpusLayoutError
        Missing split/task/array folder or file (``audio_array_<array>.wav``,
        ``position_array_<array>.txt``, ``required_time.txt``, the position file of a source),
        a misnamed folder, an unknown array, a channel count other than the array's, a missing
        table column.
    """
    root = Path(root)
    records = []
    for split in splits:
        sdir = require_dir(root / split, f"LOCATA {split}")
        for tdir in sorted(p for p in sdir.iterdir() if p.is_dir()):
            tm = _TASK.match(tdir.name)
            if tm is None:
                raise CorpusLayoutError(f"{tdir}: expected a task<N> folder")
            for rdir in sorted(p for p in tdir.iterdir() if p.is_dir()):
                rm = _REC.match(rdir.name)
                if rm is None:
                    raise CorpusLayoutError(f"{rdir}: expected a recording<M> folder")
                for adir in sorted(p for p in rdir.iterdir() if p.is_dir()):
                    array = adir.name
                    if array not in NUM_MICS:
                        raise CorpusLayoutError(
                            f"{adir}: unknown LOCATA array {array!r}; expected one of {sorted(NUM_MICS)}"
                        )
                    wav = adir / f"audio_array_{array}.wav"
                    require_file(wav, "LOCATA array recording")
                    info = wav_info(wav, num_channels=NUM_MICS[array])
                    mics, centre, moving = read_array_positions(adir / f"position_array_{array}.txt", NUM_MICS[array])
                    rt = _read_table(adir / "required_time.txt", TIME_COLUMNS)
                    sources = []
                    names = sorted(
                        {p.name[len("audio_source_"):-4] for p in adir.glob("audio_source_*.wav")}
                        | {p.name[len("position_source_"):-4] for p in adir.glob("position_source_*.txt")}
                    )
                    for name in names:
                        pos_p = adir / f"position_source_{name}.txt"
                        df = _read_table(pos_p, list(TIME_COLUMNS) + ["x", "y", "z"])
                        pos = check_positions(df[["x", "y", "z"]].to_numpy(), None, pos_p, "source x/y/z")
                        audio = adir / f"audio_source_{name}.wav"
                        if audio.exists():
                            wav_info(audio, num_channels=1, sampling_rate=info["sampling_rate"])
                        sources.append(
                            {
                                "name": name,
                                "path": str(audio) if audio.exists() else None,
                                "position_path": str(pos_p),
                                "source_position": pos[0].tolist(),
                                "static": bool(np.max(np.linalg.norm(pos - pos[0], axis=1)) <= 0.01),
                            }
                        )
                    records.append(
                        base_record(
                            id=f"locata_{split}_task{tm.group(1)}_recording{rm.group(1)}_{array}",
                            path=wav,
                            corpus="locata",
                            kind="array_recording",
                            split=split,
                            task=int(tm.group(1)),
                            recording=int(rm.group(1)),
                            array=array,
                            room="locata",
                            mic_positions=mics,
                            array_position=centre,
                            array_moving=moving,
                            sources=sources,
                            required_time_path=str(adir / "required_time.txt"),
                            num_required_times=len(rt),
                            room_size=list(ROOM_SIZE),
                            **{k: info[k] for k in ("sampling_rate", "num_samples", "num_channels")},
                        )
                    )
    return write_manifest(records, output_dir, "locata")
