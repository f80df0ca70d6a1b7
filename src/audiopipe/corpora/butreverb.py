"""BUT Speech@FIT Reverb Database (Szöke et al., IEEE JSTSP 2019), RIR part.

Layout (SAR-SSL ``code/data_generation/gen_real_rir.py``, ``BUTReverbRIRDataset``; file names
as in lhotse ``lhotse/recipes/but_reverb_db.py``)::

    <root>/RIRs/<room>/env_meta.txt                                 (optional, room metadata)
    <root>/RIRs/<room>/MicID01/<speaker setup>/<mic>/mic_meta.txt
    <root>/RIRs/<room>/MicID01/<speaker setup>/<mic>/RIR/IR_sweep_15s_45Hzto22kHz_FS16kHz.v00.wav

e.g. ``VUT_FIT_C236/MicID01/SpkID01_20190503_S/01/RIR/...``. ``<root>`` may also be the folder
that holds the rooms directly. The metadata files are lines ``$Key<TAB>Value``. From
``mic_meta.txt`` audiopipe reads (as SAR-SSL does) ``EnvMicID``, ``EnvMic<ID>TypeID``,
``EnvMic<ID>RelRT60`` (s), ``EnvMic<ID>Depth/Width/Height`` (m), ``EnvSpk1Depth/Width/Height``
(m) and ``EnvDepth/EnvWidth/EnvHeight`` (m; from ``env_meta.txt`` when ``mic_meta.txt`` lacks
them).

Microphones are grouped into arrays by the type code of ``TypeID`` (the part before ``-``):
SAR-SSL keeps the 8-channel spherical array, the microphones whose ``TypeID`` is
``01-<EnvMicID>``; audiopipe names that group ``spherical`` and the others ``type<code>``. One
record per (room, speaker setup, array), channels ordered by microphone id. SAR-SSL clamps
negative coordinates to 0 (``max(0, ...)``); audiopipe keeps the values as annotated.
The ``silence`` noise recordings are not indexed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audiopipe.corpora._base import (
    CorpusLayoutError,
    base_record,
    require_dir,
    require_file,
    wav_info,
    write_manifest,
)


def read_meta(path: Path) -> dict[str, str]:
    """Parse a BUT ReverbDB ``$Key<TAB>Value`` metadata file (lines without ``$`` are skipped)."""
    out = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and parts[0].startswith("$"):
            out[parts[0][1:]] = parts[1].strip()
    return out


def _num(meta: dict, key: str, path: Path) -> float:
    if key not in meta:
        raise CorpusLayoutError(f"{path}: missing key ${key}")
    try:
        return float(meta[key])
    except ValueError as e:
        raise CorpusLayoutError(f"{path}: ${key} = {meta[key]!r} is not a number") from e


def prepare_butreverb(root: Path, output_dir: Path) -> Path:
    """Write the BUT ReverbDB manifest ``<output_dir>/butreverb_recordings.jsonl.gz``.

    Parameters
    ----------
    root : path-like
        Folder holding ``RIRs/<room>/...`` (or the rooms directly).
    output_dir : path-like
        Where the manifest goes.

    Returns
    -------
    Path
        The manifest: one ``kind="rir"`` record per (room, speaker setup, array) with
        ``format="wav_per_channel"`` (``channel_paths``: one mono WAV per microphone),
        ``mic_ids``, ``mic_positions`` and ``source_position`` (m, room frame: depth, width,
        height), ``room_size`` (m), ``T60`` (s, mean of the microphones' ``RelRT60``, as SAR-SSL)
        and ``T60_per_channel``.

    Raises
    ------
    CorpusLayoutError
        Missing ``MicID01`` folder, ``mic_meta.txt``, key or ``RIR/*.wav``; a microphone folder
        whose ``EnvMicID`` differs from its name; a non-WAV file in ``RIR/``; an RIR that is not
        mono or whose sampling rate or length differs from the other microphones of its array.
    """
    root = Path(root)
    base = root / "RIRs" if (root / "RIRs").is_dir() else root
    require_dir(base, "BUT ReverbDB rooms")
    records = []
    rooms = sorted(p for p in base.iterdir() if p.is_dir())
    if not rooms:
        raise CorpusLayoutError(f"{base}: no room folders")
    for rdir in rooms:
        env_p = rdir / "env_meta.txt"
        env = read_meta(env_p) if env_p.is_file() else {}
        sdir = require_dir(rdir / "MicID01", "BUT ReverbDB speaker setups")
        for spk in sorted(p for p in sdir.iterdir() if p.is_dir()):
            groups: dict[str, list[dict]] = {}
            for mdir in sorted(p for p in spk.iterdir() if p.is_dir()):
                mp = require_file(mdir / "mic_meta.txt", "BUT ReverbDB microphone metadata")
                meta = {**env, **read_meta(mp)}
                mid = meta.get("EnvMicID")
                if mid is None:
                    raise CorpusLayoutError(f"{mp}: missing key $EnvMicID")
                if not mdir.name.isdigit() or int(mdir.name) != int(mid):
                    raise CorpusLayoutError(f"{mp}: $EnvMicID = {mid} but the folder is {mdir.name}")
                type_id = meta.get(f"EnvMic{mid}TypeID")
                if type_id is None:
                    raise CorpusLayoutError(f"{mp}: missing key $EnvMic{mid}TypeID")
                rir_dir = require_dir(mdir / "RIR", "BUT ReverbDB RIR")
                files = sorted(p for p in rir_dir.iterdir() if p.is_file())
                for f in files:
                    if f.suffix.lower() != ".wav":
                        raise CorpusLayoutError(f"{f}: unexpected file in RIR folder (expected .wav)")
                if not files:
                    raise CorpusLayoutError(f"{rir_dir}: no RIR .wav file")
                info = wav_info(files[0], num_channels=1)
                code = type_id.split("-")[0]
                groups.setdefault(code, []).append(
                    dict(
                        mic=int(mid),
                        path=files[0],
                        info=info,
                        pos=[_num(meta, f"EnvMic{mid}{k}", mp) for k in ("Depth", "Width", "Height")],
                        src=[_num(meta, f"EnvSpk1{k}", mp) for k in ("Depth", "Width", "Height")],
                        size=[_num(meta, f"Env{k}", mp) for k in ("Depth", "Width", "Height")],
                        t60=_num(meta, f"EnvMic{mid}RelRT60", mp),
                        spherical=type_id == f"01-{mid}",
                    )
                )
            for code, mics in groups.items():
                mics.sort(key=lambda d: d["mic"])
                fss = {d["info"]["sampling_rate"] for d in mics}
                lens = {d["info"]["num_samples"] for d in mics}
                if len(fss) != 1 or len(lens) != 1:
                    raise CorpusLayoutError(
                        f"{spk}: RIRs of array type {code} differ in sampling rate {sorted(fss)} "
                        f"or length {sorted(lens)}"
                    )
                array = "spherical" if all(d["spherical"] for d in mics) else f"type{code}"
                t60 = np.array([d["t60"] for d in mics])
                records.append(
                    base_record(
                        id=f"butreverb_{rdir.name}_{spk.name}_{array}",
                        path=spk,
                        sampling_rate=fss.pop(),
                        num_samples=lens.pop(),
                        num_channels=len(mics),
                        corpus="butreverb",
                        kind="rir",
                        format="wav_per_channel",
                        channel_paths=[str(d["path"]) for d in mics],
                        room=rdir.name,
                        array=array,
                        speaker_setup=spk.name,
                        mic_ids=[d["mic"] for d in mics],
                        mic_positions=np.array([d["pos"] for d in mics]),
                        source_position=mics[0]["src"],
                        room_size=mics[0]["size"],
                        T60=float(t60.mean()),
                        T60_per_channel=t60,
                        DRR=None,
                    )
                )
    return write_manifest(records, output_dir, "butreverb")
