"""Demo corpus in the WSJ0 layout SAR-SSL reads, from real speech recordings.

``<root>/{tr,dt,et}/demo/<speaker>/<utterance>.wav`` (16 kHz mono PCM_16), read by
:func:`audiopipe.corpora.wsj0.prepare_wsj0` as it reads the real (WAV-converted) WSJ0. The
utterances are single-speaker pieces of real recordings (:func:`audiopipe.demo._sources.speech_pool`):
with the fixtures, the dry Clarity target, CMU ARCTIC, the Clarity speech interferer and the
pyannote conversation cut along its RTTM turns; without them, the pyannote.audio wheel's
conversation. Every speaker lands in one split only, as in WSJ0 (SAR-SSL: tr train, dt val, et test);
``DEMO.json`` records where each utterance came from.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from audiopipe.demo._sources import FS, resample, speech_pool
from audiopipe.io import write_audio, write_json

log = logging.getLogger(__name__)


def _speaker(item: dict) -> str:
    """Speaker of a pool item: the RTTM label of a conversation piece, else the file stem."""
    src = item["source"]
    if src.endswith(")") and "(" in src:
        return src.rsplit("(", 1)[1].rstrip(")")
    return item["name"]


def build(root: Path, fixtures: Path | None, downloads: Path, sampling_rate: int = 16000,
          held_out_speakers: int = 1) -> None:
    """Build the WSJ0-layout demo corpus (see the module docstring).

    Speakers are sorted by how much speech they have; the ``held_out_speakers`` with the least go
    to ``et`` (test), the next ``held_out_speakers`` to ``dt`` (validation), the rest to ``tr``.
    A pool with too few speakers for that (the pyannote conversation alone has two) holds out
    the speaker with the least speech and splits its utterances between ``dt`` and ``et``
    (alternately), so that training never hears the held-out voice.

    Parameters
    ----------
    root : Path
        Corpus root (receives ``tr/``, ``dt/``, ``et/`` and ``DEMO.json``); replaced atomically.
    fixtures : Path or None
        ``shared/fixtures``; None uses the pyannote.audio wheel in ``downloads``.
    downloads : Path
        Folder of the registry packages fetched by ``scripts/setup.sh``.
    sampling_rate : int
        Rate of the written utterances (Hz); SAR-SSL's WSJ0 is 16 kHz.
    held_out_speakers : int
        Speakers per held-out split (``dt``, ``et``).

    Raises
    ------
    FileNotFoundError
        If neither the fixtures nor the pyannote.audio wheel can be found.
    ValueError
        If the pool has too few speakers to hold some out.
    """
    root = Path(root)
    targets, interferers, origin = speech_pool(fixtures, downloads)
    speech = [t for t in targets + interferers if t.get("type", "speech") == "speech"]
    by_speaker: dict[str, list[dict]] = {}
    for item in speech:
        by_speaker.setdefault(_speaker(item), []).append(item)
    if len(by_speaker) < 2:
        raise ValueError(f"{len(by_speaker)} speaker(s) in the {origin} speech: too few to hold one out")
    ranked = sorted(by_speaker, key=lambda s: (sum(len(i["audio"]) for i in by_speaker[s]), s))
    split_of: dict[str, str | None] = {}
    if len(by_speaker) >= 2 * held_out_speakers + 1:
        split_of = {s: "et" for s in ranked[:held_out_speakers]}
        split_of.update({s: "dt" for s in ranked[held_out_speakers:2 * held_out_speakers]})
    else:
        split_of[ranked[0]] = None  # its utterances alternate between dt and et
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    summary = {"corpus": "wsj0", "layout": "WSJ0 as SAR-SSL reads it: {tr,dt,et}/<group>/<speaker>/<utt>.wav",
               "origin": origin, "sampling_rate": sampling_rate, "utterances": {}}
    for spk, items in sorted(by_speaker.items()):
        for k, item in enumerate(items):
            split = split_of.get(spk, "tr") or ("dt", "et")[k % 2]
            x = resample(item["audio"], FS, sampling_rate).astype(np.float32)
            x = x / (np.abs(x).max() + 1e-9) * 0.9
            path = tmp / split / "demo" / spk / f"{item['name']}.wav"
            write_audio(path, x, sampling_rate, subtype="PCM_16")
            summary["utterances"][f"{split}/demo/{spk}/{item['name']}.wav"] = item["source"]
    for split in ("tr", "dt", "et"):
        (tmp / split).mkdir(parents=True, exist_ok=True)
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)
    write_json(root / "DEMO.json", summary)
    log.info("WSJ0-layout demo: %d utterances of %d speakers (%s) -> %s", len(summary["utterances"]),
             len(by_speaker), origin, root)
