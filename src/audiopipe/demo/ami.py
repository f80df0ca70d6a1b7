"""Demo corpus in the AMI layout (pyannote protocol lists, RTTMs) from a real conversation.

The 30-s real two-speaker conversation of the pyannote.audio package (``sample.wav`` and its
reference ``sample.rttm``): from ``../shared/fixtures/speech/pyannote_sample`` when present, else
unzipped from the pyannote.audio wheel that ``scripts/setup.sh`` downloads (the same recording;
MIT licence).
"""

from __future__ import annotations

from pathlib import Path

from audiopipe.corpora.ami import read_rttm
from audiopipe.demo._sources import pyannote_sample, staging
from audiopipe.io import audio_info, read_audio, write_audio

#: fixture folder of the conversation (relative to the fixtures root)
FIXTURE_SOURCE = "speech/pyannote_sample"
#: demo split of the 30-s conversation cut into 5-s pieces: piece index -> split. The test
#: pieces (5-10 s and 20-25 s) hold both speech and non-speech; the 6.7-s silence that opens
#: the recording is mostly in training piece 0.
DEMO_SPLITS = {0: "train", 1: "test", 2: "train", 3: "train", 4: "test", 5: "train"}


def build(root: Path, fixtures: Path | None, downloads: Path, piece_s: float = 5.0) -> None:
    """Build the AMI-layout demo: the conversation cut into ``piece_s`` pieces ``sample_p<k>``.

    Writes ``amicorpus/<uri>/audio/<uri>.Mix-Headset.wav``, ``rttms/<split>/<uri>.rttm`` (the
    turns overlapping the piece, clipped and shifted to it), ``lists/<split>.meetings.txt``
    (splits: :data:`DEMO_SPLITS`) and ``DEMO.json`` (source file and offsets of every piece).

    Raises
    ------
    FileNotFoundError
        If neither the fixtures nor the pyannote.audio wheel in ``downloads`` is here.
    """
    if fixtures is not None:
        wav, rttm = Path(fixtures) / FIXTURE_SOURCE / "sample.wav", Path(fixtures) / FIXTURE_SOURCE / "sample.rttm"
        origin = f"fixtures/{FIXTURE_SOURCE}/sample.wav (pyannote.audio sample, MIT)"
    else:
        wav, rttm, origin = pyannote_sample(downloads)
    x, sr = read_audio(wav)
    turns = read_rttm(rttm)["sample"]
    seg = int(round(piece_s * sr))
    summary = {"corpus": "ami", "layout": "AMI, pyannote protocol (amicorpus/, rttms/, lists/)",
               "origin": origin, "pieces": []}
    with staging(root, summary) as tmp:
        lists: dict[str, list[str]] = {}
        for k in range(x.shape[1] // seg):
            split = DEMO_SPLITS.get(k, "test")
            uri = f"sample_p{k}"
            t0, t1 = k * piece_s, (k + 1) * piece_s
            out = tmp / "amicorpus" / uri / "audio" / f"{uri}.Mix-Headset.wav"
            write_audio(out, x[:, k * seg:(k + 1) * seg], sr, subtype="PCM_16")
            lines = [f"SPEAKER {uri} 1 {max(s, t0) - t0:.3f} {min(e, t1) - max(s, t0):.3f} <NA> <NA> {spk} <NA> <NA>\n"
                     for s, e, spk in turns if e > t0 and s < t1]
            path = tmp / "rttms" / split / f"{uri}.rttm"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(lines))
            lists.setdefault(split, []).append(uri)
            summary["pieces"].append({"uri": uri, "split": split, **audio_info(out), "source_start": t0,
                                      "source_end": t1})
        (tmp / "lists").mkdir(parents=True, exist_ok=True)
        for split, uris in lists.items():
            (tmp / "lists" / f"{split}.meetings.txt").write_text("".join(u + "\n" for u in uris))
