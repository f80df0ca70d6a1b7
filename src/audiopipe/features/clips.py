"""Clip-level feature cache for the urban-sound recipes (transcoder, STRF urban task).

Reads lhotse-style manifests, cuts every recording into ``clip_s`` clips (the last partial clip
is zero-padded when it holds at least half a clip; shorter recordings are padded to one clip),
down-mixes to mono, and stores per clip, in one HDF5 shard (contiguous float32 datasets):

* ``third_octave`` ``(clips, 29, frames)`` dB levels at 32 kHz (:mod:`audiopipe.features.third_octave`)
* ``mel_PANN`` ``(clips, 64, 101)`` and ``mel_YAMNet`` ``(clips, 64, 96)`` log-Mel targets
  (:mod:`audiopipe.features.mel`)
* ``labels`` ``(clips, classes)`` 0/1, ``split`` and ``id`` strings; attributes ``classes``.

Labels come from the record's ``scene_label`` (TAU), ``label`` (UrbanSound8K) or, for speech
corpora with ``speech`` regions, the class ``speech`` when more than half of the clip is speech.

Signal path (the Spectral Transcoder's reference dataset pipeline,
``modantailleur/paperSpectralTranscoder`` ``exp_train_model/create_mel_tho_dataset.py``
``extract_spectrograms_from_dataset`` and ``exp_classif_eval/create_logit_dataset.py``: the
recording is loaded with ``librosa.load(path, sr=32000)`` and, separately, ``sr=16000``, each
followed by ``librosa.util.normalize``): each *recording* is down-mixed to mono, resampled with
libsoxr (HQ, librosa's default ``soxr_hq``) to 32 kHz and to 16 kHz, and each resampled signal is
divided by its own peak magnitude, before it is cut into clips. Without the peak normalisation the
stored dB levels follow the recording's gain (a quiet clip reads about 30 dB lower than in the
reference); ``normalize=None`` keeps the raw levels (for calibrated sensor data, where absolute
levels matter) and ``resampler="polyphase"`` the former scipy polyphase resampler, for comparison.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from audiopipe.features import mel as melmod
from audiopipe.features.third_octave import third_octave_levels
from audiopipe.io import atomic_path, read_audio, read_jsonl


def _clip_labels(rec: dict, t0: float, t1: float, classes: list[str]) -> np.ndarray:
    y = np.zeros(len(classes), dtype=np.float32)
    names = []
    if "speech" in rec:
        covered = sum(max(0.0, min(e, t1) - max(s, t0)) for s, e in rec["speech"])
        if covered > 0.5 * (t1 - t0):
            names.append("speech")
    for key in ("scene_label", "label"):
        if key in rec:
            names.append(rec[key])
    for n in names:
        if n in classes:
            y[classes.index(n)] = 1.0
    return y


def peak_normalize(x: np.ndarray) -> np.ndarray:
    """Divide a signal by its peak magnitude, as ``librosa.util.normalize(x)`` (``norm=inf``).

    An all-zero signal (peak below the dtype's smallest normal number) is returned unchanged.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    peak = np.abs(x).max() if x.size else x.dtype.type(0)
    return x if peak < np.finfo(x.dtype).tiny else x / peak


def clip_signal(x: np.ndarray, sr: int, sampling_rate: int, resampler: str = "soxr",
                normalize: str | None = "peak") -> np.ndarray:
    """A mono recording as the reference dataset pipeline feeds it to a front end.

    Parameters
    ----------
    x : np.ndarray, shape ``(samples,)``
        Mono recording at ``sr`` Hz.
    sampling_rate : int
        Target rate in Hz (32000 third-octave/PANN, 16000 YAMNet).
    resampler : str
        ``"soxr"`` (reference: librosa's ``soxr_hq``) or ``"polyphase"``
        (:func:`scipy.signal.resample_poly`).
    normalize : str or None
        ``"peak"``: divide by the resampled signal's peak (reference ``librosa.util.normalize``);
        ``None``: keep the recording's level.

    Returns
    -------
    np.ndarray, float64, shape ``(samples_out,)``

    Raises
    ------
    ValueError
        For an unknown ``resampler`` or ``normalize``.
    """
    if normalize not in ("peak", None):
        raise ValueError(f"normalize must be 'peak' or None, got {normalize!r}")
    y = melmod.resample(np.asarray(x, dtype=np.float32), sr, sampling_rate, method=resampler)
    if normalize == "peak":
        y = peak_normalize(y)
    return y.astype(np.float64)


def build_clip_features(manifests: list[Path], output: Path, classes: list[str], clip_s: float = 1.0,
                        split_map: dict | None = None, resampler: str = "soxr",
                        normalize: str | None = "peak") -> int:
    """Write the clip feature shard ``output`` from ``manifests``; returns the number of clips.

    Parameters
    ----------
    manifests : list of Path
        JSONL manifests (records need ``id``, ``path``, ``sampling_rate``; optional ``split``).
    classes : list of str
        Class names, the order of ``labels`` columns.
    clip_s : float
        Clip duration in s (1.0 in the paper).
    split_map : dict, optional
        Record split -> stored split (e.g. ``{"evaluate": "test"}``).
    resampler : str
        ``"soxr"`` (default, the reference pipeline's ``librosa.load``) or ``"polyphase"``.
    normalize : str or None
        ``"peak"`` (default, the reference's ``librosa.util.normalize`` of each resampled
        recording) or ``None`` (keep absolute levels). See the module docstring.

    Raises
    ------
    ValueError
        If no clip is produced, or for an unknown ``resampler`` / ``normalize``.
    """
    split_map = split_map or {}
    rows: dict[str, list] = {k: [] for k in ("id", "split", "labels", "third_octave", "mel_PANN", "mel_YAMNet")}
    for man in manifests:
        for rec in read_jsonl(man):
            x, sr = read_audio(rec["path"])
            x = x.mean(0)
            n = int(round(clip_s * sr))
            n_clips = max(1, int(np.floor(len(x) / n + 0.5)))
            x = np.pad(x, (0, max(0, n_clips * n - len(x))))
            x32 = clip_signal(x, sr, 32000, resampler, normalize)
            x16 = clip_signal(x, sr, 16000, resampler, normalize)
            for k in range(n_clips):
                seg32 = x32[int(k * clip_s * 32000):int((k + 1) * clip_s * 32000)]
                seg16 = x16[int(k * clip_s * 16000):int((k + 1) * clip_s * 16000)]
                rows["id"].append(clip_id(rec["id"], k))
                rows["split"].append(split_map.get(rec.get("split", "train"), rec.get("split", "train")))
                rows["labels"].append(_clip_labels(rec, k * clip_s, (k + 1) * clip_s, classes))
                rows["third_octave"].append(third_octave_levels(seg32).numpy().astype(np.float32))
                rows["mel_PANN"].append(melmod.log_mel(seg32, melmod.PANN).numpy().astype(np.float32))
                rows["mel_YAMNet"].append(
                    melmod.log_mel(seg16, melmod.YAMNET).numpy()[:, :melmod.YAMNET.frames].astype(np.float32))
    if not rows["id"]:
        raise ValueError(f"no clip produced from manifests {[str(m) for m in manifests]}")
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        for k in ("third_octave", "mel_PANN", "mel_YAMNet", "labels"):
            h5.create_dataset(k, data=np.stack(rows[k]))
        h5.create_dataset("id", data=np.array(rows["id"], dtype="S"))
        h5.create_dataset("split", data=np.array(rows["split"], dtype="S"))
        h5.attrs["classes"] = json.dumps(classes)
        h5.attrs["clip_s"] = clip_s
        h5.attrs["resampler"] = resampler
        h5.attrs["normalize"] = json.dumps(normalize)
        h5.attrs["manifests"] = json.dumps([str(m) for m in manifests])
    return len(rows["id"])


def clip_id(recording_id: str, k: int) -> str:
    """The id of clip ``k`` (0-based) of a recording: ``<recording id>_c<k>``."""
    return f"{recording_id}_c{k}"


def clip_recordings(clip_ids) -> list[str]:
    """The recording of each clip, the inverse of :func:`clip_id`.

    Raises
    ------
    ValueError
        For an id without the ``_c<k>`` suffix (named).
    """
    out = []
    for cid in clip_ids:
        rec, sep, k = str(cid).rpartition("_c")
        if not sep or not rec or not k.isdigit():
            raise ValueError(f"clip id {cid!r} is not '<recording id>_c<k>'")
        out.append(rec)
    return out


def load_clip_features(path: Path, split: str | None = None) -> dict:
    """Read a clip shard into numpy arrays (optionally one split); ``classes`` as a list.

    Raises
    ------
    ValueError
        If ``split`` selects no clip.
    """
    with h5py.File(path, "r") as h5:
        splits = np.array([s.decode() for s in h5["split"][:]])
        sel = np.ones(len(splits), bool) if split is None else splits == split
        if not sel.any():
            raise ValueError(f"{path}: no clip in split {split!r} (splits: {sorted(set(splits))})")
        out = {k: h5[k][:][sel] for k in ("third_octave", "mel_PANN", "mel_YAMNet", "labels")}
        out["id"] = [s.decode() for s in h5["id"][:][sel]]
        out["split"] = splits[sel].tolist()
        out["classes"] = json.loads(h5.attrs["classes"])
    return out
