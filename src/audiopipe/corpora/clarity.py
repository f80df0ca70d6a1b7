"""Clarity CEC2 / ICASSP 2023 corpus adapter.

Reads the real on-disk layout of the CEC2 data (as the official recipes'
``recipes/icassp_2023/baseline/config.yaml`` and ``recipes/cec2/baseline/config.yaml`` do)::

    <root>/clarity_data/metadata/scenes.<split>.json            scene definitions
    <root>/clarity_data/metadata/scenes_listeners.<split>.json  scene -> listener ids
    <root>/clarity_data/metadata/listeners.json                 audiograms
    <root>/clarity_data/<split>/scenes/<scene>_mix_CH<n>.wav    44.1 kHz, 2 channels
    <root>/clarity_data/<split>/scenes/<scene>_target_CH<n>.wav
    <root>/clarity_data/<split>/scenes/<scene>_interferer_CH<n>.wav
    <root>/clarity_data/<split>/scenes/<scene>_target_anechoic_CH1.wav

and writes one lhotse-style manifest record per scene.
"""

from __future__ import annotations

import json
from pathlib import Path

from audiopipe.corpora._base import write_manifest
from audiopipe.io import AudioFileError, audio_info

SAMPLING_RATE = 44100
NUM_CHANNELS = 2
#: signal roles and the file-name part of each; CH<n> is appended
ROLES = ("mix", "target", "interferer", "target_anechoic")
DEFAULT_REQUIRED = ("mix", "target", "interferer", "target_anechoic")


class ClarityLayoutError(ValueError):
    """The Clarity tree is malformed; the message names the file or key at fault."""


def scene_file(root: Path, split: str, scene: str, role: str, channel: int = 1) -> Path:
    """Path of ``<scene>_<role>_CH<channel>.wav`` in the real layout."""
    return Path(root) / "clarity_data" / split / "scenes" / f"{scene}_{role}_CH{channel}.wav"


def _load_json(path: Path):
    if not path.is_file():
        raise ClarityLayoutError(f"{path}: metadata file is missing")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ClarityLayoutError(f"{path}: invalid JSON ({e.msg}, line {e.lineno})") from e


def load_scenes(root: Path, split: str) -> list[dict]:
    """Scene definitions of ``split`` (``scenes.<split>.json``), with basic key checks."""
    path = Path(root) / "clarity_data" / "metadata" / f"scenes.{split}.json"
    scenes = _load_json(path)
    if not isinstance(scenes, list):
        raise ClarityLayoutError(f"{path}: expected a list of scenes")
    for i, s in enumerate(scenes):
        for key in ("scene", "room", "target", "interferers", "SNR"):
            if key not in s:
                raise ClarityLayoutError(f"{path}: scene #{i} lacks key {key!r}")
    return scenes


def prepare_clarity(
    root: str | Path,
    output_dir: str | Path,
    splits: tuple[str, ...] = ("train", "dev"),
    channels: tuple[int, ...] = (1,),
    required: tuple[str, ...] = DEFAULT_REQUIRED,
) -> list[Path]:
    """Write one manifest per Clarity split: ``<output_dir>/clarity_recordings_<split>.jsonl.gz``.

    See :func:`prepare_clarity_split` for the records.

    Parameters
    ----------
    root : path-like
        Folder holding ``clarity_data/``.
    output_dir : path-like
        Where the manifests go.
    splits : tuple of str
        Splits to index (``scenes.<split>.json`` must exist for each): CEC2 ``train``, ``dev``.
    channels, required
        As :func:`prepare_clarity_split`.

    Returns
    -------
    list of Path
        The manifests, in ``splits`` order.
    """
    return [prepare_clarity_split(root, split, output_dir, tuple(channels), tuple(required)) for split in splits]


def prepare_clarity_split(
    root: str | Path,
    split: str,
    output_dir: str | Path,
    channels: tuple[int, ...] = (1,),
    required: tuple[str, ...] = DEFAULT_REQUIRED,
) -> Path:
    """Write the manifest of one Clarity split: ``<output_dir>/clarity_recordings_<split>.jsonl.gz``.

    Each record (one per scene) holds ``id`` (scene), ``path`` (the CH1 mixture, or the first
    required role), ``sampling_rate`` (44100), ``num_samples``, ``num_channels`` (2),
    ``duration`` (s), and Clarity fields: ``split``, ``room``, ``snr_db``, ``target`` and
    ``interferers`` (from the scene file), ``listeners`` (from ``scenes_listeners``),
    ``signals`` (role -> channel -> path, for every role file that exists), ``num_samples_by_role``
    and ``provenance`` (the scene's ``source`` block for demo scenes, else ``"CEC2"``).

    The function is idempotent: the same tree gives the same bytes.

    Parameters
    ----------
    root : path-like
        Folder holding ``clarity_data/``.
    split : str
        ``train`` or ``dev`` (any ``scenes.<split>.json`` works).
    output_dir : path-like
        Where the manifest goes.
    channels : tuple of int
        Hearing-aid microphone pairs to index (CH0 = eardrum, CH1–CH3 = behind-the-ear).
    required : tuple of str
        Roles whose CH files must exist for every scene (``target_anechoic`` only for CH1).

    Returns
    -------
    Path
        The manifest written.

    Raises
    ------
    ClarityLayoutError
        Missing or malformed metadata, or a scene missing from ``scenes_listeners``.
    AudioFileError
        A required wav is missing, unreadable, truncated, not 44.1 kHz or not 2 channels;
        the message names the file.
    """
    root = Path(root)
    meta = root / "clarity_data" / "metadata"
    scenes = load_scenes(root, split)
    sl_path = meta / f"scenes_listeners.{split}.json"
    scenes_listeners = _load_json(sl_path)
    listeners = _load_json(meta / "listeners.json")
    records = []
    for s in scenes:
        sid = s["scene"]
        if sid not in scenes_listeners:
            raise ClarityLayoutError(f"{sl_path}: no listeners for scene {sid}")
        for lid in scenes_listeners[sid]:
            if lid not in listeners:
                raise ClarityLayoutError(f"{meta / 'listeners.json'}: unknown listener {lid} (scene {sid})")
        signals: dict[str, dict[str, str]] = {}
        lengths: dict[str, int] = {}
        for role in ROLES:
            for ch in channels:
                if role == "target_anechoic" and ch != 1:
                    continue
                p = scene_file(root, split, sid, role, ch)
                if not p.exists():
                    if role in required:
                        raise AudioFileError(f"{p}: audio file is missing (scene {sid}, role {role})")
                    continue
                info = audio_info(p, sampling_rate=SAMPLING_RATE, num_channels=NUM_CHANNELS)
                signals.setdefault(role, {})[f"CH{ch}"] = str(p)
                lengths[f"{role}_CH{ch}"] = info["num_samples"]
        main_role = next(r for r in ("mix", *required) if r in signals)
        main = signals[main_role][f"CH{channels[0]}" if f"CH{channels[0]}" in signals[main_role] else "CH1"]
        n = lengths[f"{main_role}_CH{Path(main).stem.rsplit('CH', 1)[1]}"]
        records.append({
            "id": sid,
            "path": main,
            "sampling_rate": SAMPLING_RATE,
            "num_samples": n,
            "num_channels": NUM_CHANNELS,
            "duration": n / SAMPLING_RATE,
            "split": split,
            "room": s["room"],
            "snr_db": float(s["SNR"]),
            "target": s["target"],
            "interferers": s["interferers"],
            "listeners": list(scenes_listeners[sid]),
            "signals": signals,
            "num_samples_by_role": lengths,
            "provenance": s.get("source", "CEC2"),
        })
    return write_manifest(records, output_dir, "clarity", split)


__all__ = ["ClarityLayoutError", "AudioFileError", "prepare_clarity", "prepare_clarity_split", "load_scenes", "scene_file"]
