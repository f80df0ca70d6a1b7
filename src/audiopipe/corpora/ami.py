"""AMI meeting corpus for speech activity detection, pyannote-style protocol files.

Layout (as ``pyannote/AMI-diarization-setup`` + the AMI "Mix-Headset" audio)::

    <root>/amicorpus/<uri>/audio/<uri>.Mix-Headset.wav
    <root>/lists/<split>.meetings.txt      one uri per line; split in train, dev, test
    <root>/rttms/<split>/<uri>.rttm        SPEAKER <uri> 1 <start> <dur> <NA> <NA> <speaker> <NA> <NA>
    <root>/uems/<split>/<uri>.uem          <uri> 1 <start> <end>   (optional: whole file)

Speech activity is the union of all speaker turns of a file.
"""

from __future__ import annotations

from pathlib import Path

from audiopipe.io import audio_info, write_jsonl

SPLITS = ("train", "dev", "test")


def read_rttm(path: Path) -> dict[str, list[tuple[float, float, str]]]:
    """Parse an RTTM file into ``uri -> [(start s, end s, speaker), ...]`` (SPEAKER lines only).

    Raises
    ------
    ValueError
        If a SPEAKER line has fewer than 8 fields or a negative duration (names file and line).
    """
    out: dict[str, list[tuple[float, float, str]]] = {}
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        f = line.split()
        if not f or f[0] != "SPEAKER":
            continue
        if len(f) < 8:
            raise ValueError(f"{path}:{i}: RTTM SPEAKER line has {len(f)} fields, expected >= 8")
        start, dur = float(f[3]), float(f[4])
        if dur < 0:
            raise ValueError(f"{path}:{i}: negative duration {dur}")
        out.setdefault(f[1], []).append((start, start + dur, f[7]))
    return out


def read_uem(path: Path) -> dict[str, list[tuple[float, float]]]:
    """Parse a UEM file into ``uri -> [(start s, end s), ...]``."""
    out: dict[str, list[tuple[float, float]]] = {}
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        f = line.split()
        if not f:
            continue
        if len(f) != 4:
            raise ValueError(f"{path}:{i}: UEM line has {len(f)} fields, expected 4")
        out.setdefault(f[0], []).append((float(f[2]), float(f[3])))
    return out


def speech_regions(turns: list[tuple[float, float, str]]) -> list[tuple[float, float]]:
    """Union of speaker turns as sorted, non-overlapping ``(start, end)`` regions in s."""
    merged: list[list[float]] = []
    for s, e, _ in sorted(turns):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def prepare_ami(root: Path, output_dir: Path, splits: list[str] | None = None) -> dict[str, Path]:
    """Write ``ami_<split>.jsonl``: one record per meeting with ``speech`` regions and ``annotated``.

    Parameters
    ----------
    root : Path
        Corpus root (``amicorpus/``, ``lists/``, ``rttms/``, optional ``uems/``).
    output_dir : Path
        Where the manifests go.
    splits : list of str, optional
        Subset of ``train``, ``dev``, ``test`` (default: those whose list file exists).

    Raises
    ------
    FileNotFoundError
        If a requested list or RTTM file is missing; ValueError for malformed RTTM/UEM lines or a
        RTTM holding another uri's turns; :class:`audiopipe.io.AudioFileError` for missing audio.
    """
    root = Path(root)
    splits = list(splits) if splits else [s for s in SPLITS if (root / "lists" / f"{s}.meetings.txt").is_file()]
    if not splits:
        raise FileNotFoundError(f"{root / 'lists'}: no <split>.meetings.txt list found")
    out = {}
    for split in splits:
        lst = root / "lists" / f"{split}.meetings.txt"
        if not lst.is_file():
            raise FileNotFoundError(f"{lst}: AMI list is missing")
        recs = []
        for uri in [u.strip() for u in lst.read_text().splitlines() if u.strip()]:
            rttm = root / "rttms" / split / f"{uri}.rttm"
            if not rttm.is_file():
                raise FileNotFoundError(f"{rttm}: reference RTTM is missing")
            turns = read_rttm(rttm)
            if set(turns) - {uri}:
                # an empty RTTM is a recording without speech; turns of another uri are an error
                raise ValueError(f"{rttm}: SPEAKER lines for uri(s) {sorted(set(turns) - {uri})}, expected {uri!r}")
            wav = root / "amicorpus" / uri / "audio" / f"{uri}.Mix-Headset.wav"
            info = audio_info(wav)
            uem = root / "uems" / split / f"{uri}.uem"
            annotated = read_uem(uem).get(uri) if uem.is_file() else None
            recs.append({"id": uri, "path": str(wav.resolve()), **info, "split": split,
                         "speech": speech_regions(turns.get(uri, [])),
                         "annotated": annotated or [(0.0, info["duration"])],
                         "rttm": str(rttm.resolve())})
        out[split] = Path(output_dir) / f"ami_{split}.jsonl"
        write_jsonl(out[split], recs)
    return out


DEMO_SOURCE = "speech/pyannote_sample"
#: demo split of the 30-s conversation cut into 5-s pieces: piece index -> split. The test
#: pieces (5-10 s and 20-25 s) hold both speech and non-speech; the 6.7-s silence that opens
#: the recording is mostly in training piece 0.
DEMO_SPLITS = {0: "train", 1: "test", 2: "train", 3: "train", 4: "test", 5: "train"}


def build_demo(fixtures: Path, root: Path, piece_s: float = 5.0) -> Path:
    """Build a demo AMI-layout corpus from the real pyannote sample conversation and its RTTM.

    The 30-s recording is cut into ``piece_s`` pieces ``sample_p<k>`` (splits: :data:`DEMO_SPLITS`);
    each piece's RTTM keeps the turns that overlap it, clipped and shifted to the piece. Returns
    ``demo_manifest.jsonl`` (source file and offsets of every piece).
    """
    from audiopipe.io import read_audio, write_audio

    src = Path(fixtures) / DEMO_SOURCE
    x, sr = read_audio(src / "sample.wav")
    turns = read_rttm(src / "sample.rttm")["sample"]
    seg = int(round(piece_s * sr))
    root = Path(root)
    recs, lists = [], {}
    for k in range(x.shape[1] // seg):
        split = DEMO_SPLITS.get(k, "test")
        uri = f"sample_p{k}"
        t0, t1 = k * piece_s, (k + 1) * piece_s
        wav = root / "amicorpus" / uri / "audio" / f"{uri}.Mix-Headset.wav"
        write_audio(wav, x[:, k * seg:(k + 1) * seg], sr, subtype="PCM_16")
        lines = [f"SPEAKER {uri} 1 {max(s, t0) - t0:.3f} {min(e, t1) - max(s, t0):.3f} <NA> <NA> {spk} <NA> <NA>\n"
                 for s, e, spk in turns if e > t0 and s < t1]
        rttm = root / "rttms" / split / f"{uri}.rttm"
        rttm.parent.mkdir(parents=True, exist_ok=True)
        rttm.write_text("".join(lines))
        lists.setdefault(split, []).append(uri)
        recs.append({"id": uri, "path": str(wav.relative_to(root)), **audio_info(wav), "split": split,
                     "source": f"{DEMO_SOURCE}/sample.wav", "source_start": t0, "source_end": t1,
                     "source_rttm": f"{DEMO_SOURCE}/sample.rttm"})
    (root / "lists").mkdir(parents=True, exist_ok=True)
    for split, uris in lists.items():
        (root / "lists" / f"{split}.meetings.txt").write_text("".join(u + "\n" for u in uris))
    out = root / "demo_manifest.jsonl"
    write_jsonl(out, recs)
    return out
