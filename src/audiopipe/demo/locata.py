"""Demo corpus in the LOCATA layout: real speech recorded through measured dEchorate RIRs."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import scipy.signal
from tqdm import tqdm

from audiopipe.demo._sources import resample
from audiopipe.io import read_audio, write_audio, write_json

log = logging.getLogger(__name__)

#: LOCATA demo recordings: (part, task, recording) -> speech pieces (fixture file, start s, end s)
LOCATA_DEMO = {
    ("eval", 1, 1): [("speech/cmu_arctic/cmu_arctic_us_aew_a0001.wav", 0.0, None),
                     ("speech/pyannote_sample/sample.wav", 0.0, 8.0)],
    ("eval", 1, 2): [("speech/cmu_arctic/cmu_arctic_us_axb_a0004.wav", 0.0, None),
                     ("speech/pyannote_sample/sample.wav", 8.0, 16.0)],
    ("dev", 1, 1): [("speech/pyannote_sample/sample.wav", 16.0, 30.0)],
}
_LOCATA_TIME = ["year", "month", "day", "hour", "minute", "second"]


def _locata_table(path: Path, header: list[str], rows: np.ndarray) -> None:
    """A LOCATA tab-separated table (time columns first), written atomically."""
    from audiopipe.io import atomic_path

    lines = ["\t".join(header)]
    for r in rows:
        lines.append("\t".join([f"{int(v)}" for v in r[:5]] + [f"{v:.6f}" for v in r[5:]]))
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def build(root: Path, fixtures: Path | None, downloads: Path, silence_s: float = 0.5,
          position_rate_hz: float = 10.0) -> None:
    """Build a demo corpus in the LOCATA layout from real recordings.

    LOCATA's audio and positions are not public, so the demo records real speech through the
    measured dEchorate RIRs of ``shared/fixtures`` (12 microphones, one loudspeaker, 48 kHz):
    ``<root>/{eval,dev}/task1/recording<M>/benchmark2/`` with ``audio_array_benchmark2.wav``
    (48 kHz, 12 channels: speech convolved with the 12 RIRs, after ``silence_s`` of silence),
    ``audio_source_talker1.wav`` (the dry speech), ``position_array_benchmark2.txt`` (array centre,
    identity rotation and the calibrated dEchorate microphone positions in ``mic<i>_x/y/z``),
    ``position_source_talker1.txt`` (the calibrated loudspeaker position) and
    ``required_time.txt``, every ``1 / position_rate_hz`` s; then ``DEMO.json``.

    What it is not: the folder is named ``benchmark2`` because LOCATA's layout fixes the channel
    count per array (12 for benchmark2), but the geometry is dEchorate's, not the robot head's;
    all recordings share one room, one source position and one array position (the fixture has
    one), so the demo exercises the real-data TDOA path and its labels, not LOCATA's variety.
    Train (``eval``) and test (``dev``) recordings use different speech (:data:`LOCATA_DEMO`).

    Parameters
    ----------
    root : Path
        Corpus root (receives ``dev/`` and ``eval/``); replaced atomically.
    fixtures : Path or None
        ``shared/fixtures`` (required: the demo needs its measured RIRs).
    downloads : Path
        Unused (no registry package ships measured RIRs).
    silence_s : float
        Leading silence of every recording (s), as LOCATA recordings start with one.
    position_rate_hz : float
        Rate of the position and time tables (Hz).

    Raises
    ------
    FileNotFoundError
        If the fixtures (the dEchorate RIRs or a speech file) are missing.
    """
    import tempfile

    from audiopipe.corpora import prepare_dechorate
    from audiopipe.corpora._base import load_rir
    from audiopipe.io import read_jsonl

    fx = Path(fixtures) if fixtures else Path("")
    ddir = fx / "rir" / "dechorate"
    if not fixtures or not ddir.is_dir():
        raise FileNotFoundError(f"{ddir}: the LOCATA demo needs the dEchorate fixture (set `fixtures:`)")
    output_dir = Path(root)
    with tempfile.TemporaryDirectory() as td:
        recs = [r for r in read_jsonl(prepare_dechorate(ddir, Path(td))) if r.get("format") == "mat"]
    if not recs:
        raise FileNotFoundError(f"{ddir}: no dEchorate .mat RIR record")
    rir = load_rir(recs[0])
    fs = rir.sampling_rate
    mics, src = rir.mic_positions, rir.source_position
    centre = mics.mean(axis=0)
    tmp = output_dir.with_name(output_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    summary = {"corpus": "locata", "layout": "LOCATA (dev|eval/task<N>/recording<M>/<array>/)",
               "rirs": f"{ddir.name}/{Path(recs[0]['path']).name} (measured, {len(mics)} mics, {fs} Hz)",
               "array_folder": "benchmark2 (12 channels; dEchorate geometry, not the LOCATA robot head)",
               "source_position_m": src.tolist(), "recordings": {}}
    for (part, task, rec), pieces in tqdm(LOCATA_DEMO.items(), desc="locata demo", unit="recording"):
        dry = []
        for name, t0, t1 in pieces:
            f = fx / name
            if not f.is_file():
                raise FileNotFoundError(f"{f}: missing speech fixture of the LOCATA demo")
            x, fs_x = read_audio(f)
            x = x[0] if x.ndim == 2 else x
            x = x[int(t0 * fs_x): None if t1 is None else int(t1 * fs_x)]
            dry.append(resample(x, fs_x, fs))
        x = np.concatenate([np.zeros(int(silence_s * fs))] + dry)
        y = scipy.signal.fftconvolve(x[None, :], rir.rir, axes=1)[:, : len(x)]
        scale = 0.9 / max(np.abs(y).max(), 1e-9)
        adir = tmp / part / f"task{task}" / f"recording{rec}" / "benchmark2"
        adir.mkdir(parents=True)
        write_audio(adir / "audio_array_benchmark2.wav", (y * scale).astype(np.float32), fs, subtype="PCM_24")
        write_audio(adir / "audio_source_talker1.wav", (x * 0.9 / max(np.abs(x).max(), 1e-9)).astype(np.float32),
                    fs, subtype="PCM_24")
        n = int(np.ceil(len(x) / fs * position_rate_hz)) + 1
        sec = 36000.0 + np.arange(n) / position_rate_hz  # 10:00:00 + k / rate
        clock = np.stack([np.full(n, 2017), np.full(n, 3), np.full(n, 1), sec // 3600, (sec % 3600) // 60,
                          sec % 60], axis=1)
        rot = np.tile(np.eye(3).ravel(), (n, 1))
        ref = np.tile([1.0, 0.0, 0.0], (n, 1))
        head = ["x", "y", "z", "ref_vec_x", "ref_vec_y", "ref_vec_z"]
        rot_h = [f"rotation_{i}{j}" for i in (1, 2, 3) for j in (1, 2, 3)]
        mic_h = [f"mic{i + 1}_{a}" for i in range(len(mics)) for a in "xyz"]
        _locata_table(adir / "position_array_benchmark2.txt", _LOCATA_TIME + head + rot_h + mic_h,
                      np.concatenate([clock, np.tile(centre, (n, 1)), ref, rot, np.tile(mics.ravel(), (n, 1))], 1))
        _locata_table(adir / "position_source_talker1.txt", _LOCATA_TIME + head,
                      np.concatenate([clock, np.tile(src, (n, 1)), ref], 1))
        _locata_table(adir / "required_time.txt", _LOCATA_TIME + ["valid_flag"],
                      np.concatenate([clock, np.ones((n, 1))], 1))
        summary["recordings"][f"{part}/task{task}/recording{rec}"] = {
            "speech": [f"{n_}[{a}:{'' if b is None else b}] s" for n_, a, b in pieces],
            "duration_s": round(len(x) / fs, 3)}
    if output_dir.exists():
        shutil.rmtree(output_dir)
    tmp.rename(output_dir)
    write_json(output_dir / "DEMO.json", summary)
    log.info("LOCATA demo corpus written to %s (%d recordings)", output_dir, len(LOCATA_DEMO))
