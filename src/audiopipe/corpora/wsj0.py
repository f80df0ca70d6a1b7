"""WSJ0 source speech, in the layout SAR-SSL reads.

Layout (SAR-SSL ``code/data_generation/utils_src.py``, ``WSJ0Dataset``: "train: /tr, val: /dt,
test: /et", walked by ``explore_corpus(path, 'wav')`` as ``<group>/<speaker>/<utt>.wav``)::

    <root>/tr/<group>/<speaker>/<utterance>.wav      (e.g. tr/si_tr_s/011/011c0201.wav)
    <root>/dt/<group>/<speaker>/<utterance>.wav
    <root>/et/<group>/<speaker>/<utterance>.wav

16 kHz mono WAV. The LDC distribution stores NIST SPHERE files (``.wv1`` close-talking
Sennheiser microphone, ``.wv2`` second microphone), most of them shorten-compressed, which
libsndfile cannot decode. SAR-SSL converts them to WAV beforehand, and so does audiopipe:
:func:`prepare_wsj0` refuses SPHERE files with a :class:`CorpusLayoutError` that names the
first one and the conversion command (``sph2pipe -f wav in.wv1 out.wav``); it does not decode
SPHERE itself.
"""

from __future__ import annotations

from pathlib import Path

from audiopipe.corpora._base import (
    CorpusLayoutError,
    base_record,
    require_dir,
    wav_info,
    write_manifest,
)

SPLITS = {"tr": "train", "dt": "val", "et": "test"}
SPHERE_SUFFIXES = (".wv1", ".wv2", ".sph")


def prepare_wsj0(
    root: Path,
    output_dir: Path,
    sampling_rate: int = 16000,
    splits: tuple[str, ...] = ("tr", "dt", "et"),
) -> Path:
    """Write the WSJ0 speech manifest ``<output_dir>/wsj0_recordings.jsonl.gz``.

    Parameters
    ----------
    root : path-like
        Folder holding ``tr/``, ``dt/``, ``et/``.
    output_dir : path-like
        Where the manifest goes.
    sampling_rate : int
        Required sampling rate in Hz (SAR-SSL: 16000).
    splits : tuple of str
        Which of ``tr``, ``dt``, ``et`` to read; each must exist.

    Returns
    -------
    Path
        The manifest. Records: lhotse fields + ``corpus="wsj0"``, ``kind="speech"``,
        ``split`` (``train``/``val``/``test``, SAR-SSL's use of tr/dt/et), ``group``,
        ``speaker``. ``id`` is the utterance name (unique in WSJ0).

    Raises
    ------
    CorpusLayoutError
        Missing split folder, a file that is not at ``<group>/<speaker>/<utt>.wav`` depth, a
        SPHERE or other non-WAV audio file, a file that is not mono or not at
        ``sampling_rate``, duplicate utterance names, or no utterances at all.
    """
    root = Path(root)
    records = []
    for split in splits:
        if split not in SPLITS:
            raise CorpusLayoutError(f"{root / split}: unknown WSJ0 split {split!r}; use tr, dt, et")
        sdir = require_dir(root / split, f"WSJ0 split {split}")
        for f in sorted(p for p in sdir.rglob("*") if p.is_file()):
            rel = f.relative_to(sdir)
            if f.suffix.lower() in SPHERE_SUFFIXES:
                raise CorpusLayoutError(
                    f"{f}: NIST SPHERE file; convert WSJ0 to 16 kHz WAV first "
                    f"(sph2pipe -f wav {f.name} {f.stem}.wav), as SAR-SSL does"
                )
            if f.suffix.lower() != ".wav":
                raise CorpusLayoutError(f"{f}: unexpected file in WSJ0 tree (expected .wav)")
            if len(rel.parts) != 3:
                raise CorpusLayoutError(
                    f"{f}: expected {split}/<group>/<speaker>/<utterance>.wav, found {split}/{rel}"
                )
            group, speaker, _ = rel.parts
            info = wav_info(f, num_channels=1, sampling_rate=sampling_rate)
            records.append(
                base_record(
                    id=f.stem,
                    path=f,
                    corpus="wsj0",
                    kind="speech",
                    split=SPLITS[split],
                    group=group,
                    speaker=speaker,
                    **{k: info[k] for k in ("sampling_rate", "num_samples", "num_channels")},
                )
            )
    return write_manifest(records, output_dir, "wsj0")
