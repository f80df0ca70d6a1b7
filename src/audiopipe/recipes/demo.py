"""Build the embedded demo corpora, in the real corpora's on-disk layouts, from real recordings.

The raw corpora audiopipe reproduces are large and mostly licensed, so the default
``params.yaml`` runs on small demo corpora that these stages build from the short real recordings
in ``../shared/fixtures/`` (see its README.md for provenance). On a machine without them the
Clarity demo falls back to the 30-s real conversation that ships inside the pyannote.audio wheel
(``pyannote/audio/sample/sample.wav``; the set-up script fetches the wheel with
``pip download --no-deps``; pyannote.audio is never imported). Every demo item records where its
audio came from.
"""

from __future__ import annotations

import json
import logging
import shutil
import zipfile
from pathlib import Path

import numpy as np
import scipy.signal
from tqdm import tqdm

from audiopipe.io import read_audio, stable_seed, write_audio, write_json
from audiopipe.signals.clarity_scene import (
    HRIRSet,
    binaural_rirs,
    clarity_to_box,
    clarity_to_box_vector,
    render_scene,
)

log = logging.getLogger(__name__)

FS = 44100

#: Standard audiograms N1–N4 of Bisgaard, Vlaming & Dahlquist (2010), "Standard audiograms for the
#: IEC 60118-15 measurement procedure", Trends in Amplification 14(2), Table 2 (dB HL at
#: 250…8000 Hz; 3 kHz interpolated as the mean of 2 and 4 kHz). Used only when the real Clarity
#: listener file is absent.
BISGAARD = {
    "N1": [10, 10, 10, 15, 17.5, 20, 30, 40],
    "N2": [20, 20, 22.5, 30, 35, 40, 45, 50],
    "N3": [35, 35, 35, 40, 45, 50, 55, 60],
    "N4": [55, 55, 55, 55, 57.5, 60, 65, 70],
}
AUDIOGRAM_CFS = [250, 500, 1000, 2000, 3000, 4000, 6000, 8000]


def _resample(x: np.ndarray, fs: int, target: int = FS) -> np.ndarray:
    if fs == target:
        return x
    g = np.gcd(fs, target)
    return scipy.signal.resample_poly(x, target // g, fs // g, axis=-1)


def _rttm_turns(path: Path) -> list[tuple[float, float, str]]:
    turns = []
    for line in path.read_text().splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            turns.append((float(f[3]), float(f[4]), f[7]))
    return turns


def _conversation_pieces(wav: Path, rttm: Path, origin: str, max_s: float = 3.5) -> list[dict]:
    """Cut a conversation into single-speaker pieces of 1.5–``max_s`` s along its RTTM turns."""
    x, fs = read_audio(wav)
    x = x[0]
    pieces = []
    for start, dur, spk in _rttm_turns(rttm):
        t = start
        while dur - (t - start) >= 1.5:
            d = min(max_s, dur - (t - start))
            a, b = int(t * fs), int((t + d) * fs)
            pieces.append({"audio": _resample(x[a:b], fs), "name": f"{Path(wav).stem}_{len(pieces):02d}",
                           "source": f"{origin} [{t:.2f}, {t + d:.2f}] s ({spk})"})
            t += d
    return pieces


def _speech_pool(fixtures: Path | None, wheel_dir: Path) -> tuple[list[dict], list[dict], str]:
    """Real dry target utterances and real interferers, with provenance strings."""
    if fixtures is not None:
        cl = fixtures / "clarity" / "clarity_data" / "dev"
        targets = []
        for p in [cl / "targets" / "T010_G0N_02468.wav", *sorted((fixtures / "speech" / "cmu_arctic").glob("*.wav"))]:
            x, fs = read_audio(p)
            targets.append({"audio": _resample(x[0], fs), "name": p.stem, "source": f"fixtures/{p.relative_to(fixtures)}"})
        conv = _conversation_pieces(
            fixtures / "speech" / "pyannote_sample" / "sample.wav",
            fixtures / "speech" / "pyannote_sample" / "sample.rttm",
            "fixtures/speech/pyannote_sample/sample.wav",
        )
        targets += conv[::2]
        interferers = []
        for kind, p in [("noise", cl / "interferers" / "noise" / "CIN_fan_014.wav"),
                        ("speech", cl / "interferers" / "speech" / "som_04766_05.wav"),
                        ("music", cl / "interferers" / "music" / "1111967.low.mp3")]:
            stop = 48000 * 20 if p.suffix == ".mp3" else None
            x, fs = read_audio(p, stop=stop)
            interferers.append({"audio": _resample(x.mean(0), fs), "type": kind, "name": p.name,
                                "source": f"fixtures/{p.relative_to(fixtures)}"})
        interferers += [{**c, "type": "speech", "name": c["name"] + ".wav"} for c in conv[1::2]]
        return targets, interferers, "fixtures"
    wheels = sorted(wheel_dir.glob("pyannote_audio-*.whl"))
    if not wheels:
        raise FileNotFoundError(
            f"no real recordings found: neither the shared fixtures nor a pyannote.audio wheel in "
            f"{wheel_dir}. Run `pip download --no-deps pyannote.audio==4.0.7 -d {wheel_dir}` "
            f"(the set-up script does this) or set `fixtures:` in params.yaml."
        )
    out = wheel_dir / "pyannote_sample"
    with zipfile.ZipFile(wheels[-1]) as z:
        for name in ("sample.wav", "sample.rttm"):
            member = f"pyannote/audio/sample/{name}"
            try:
                data = z.read(member)
            except KeyError as e:
                raise FileNotFoundError(f"{wheels[-1]}: has no {member}") from e
            out.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)
    conv = _conversation_pieces(out / "sample.wav", out / "sample.rttm", f"{wheels[-1].name}:pyannote/audio/sample/sample.wav")
    interferers = [{**c, "type": "speech", "name": c["name"] + ".wav"} for c in conv[1::2]]
    return conv[::2], interferers, "pyannote.audio wheel"


def _rooms(fixtures: Path | None, n: int, rng: np.random.Generator) -> list[dict]:
    """Real CEC2 room geometries (``rooms.train.json``) or, without fixtures, sampled ones."""
    if fixtures is not None:
        rooms = json.loads((fixtures / "clarity/clarity_data/metadata/rooms.train.json").read_text())
        return [rooms[i % len(rooms)] for i in rng.permutation(len(rooms))[:n]]
    out = []
    for i in range(n):
        a, b, h = rng.uniform(3.5, 6.0), rng.uniform(3.0, 5.0), rng.uniform(2.4, 3.2)
        def pos():
            return [float(rng.uniform(-b / 2 + 0.5, b / 2 - 0.5)), float(rng.uniform(0.5, a - 0.5)), 1.2]
        lis, tgt = pos(), pos()
        v = np.subtract(tgt, lis)[:2]
        v = (v / (np.linalg.norm(v) + 1e-9)).tolist() + [0.0]
        out.append({"name": f"R9{i:04d}", "dimensions": f"{a:.4f}x{b:.4f}x{h:.4f}", "source": "sampled",
                    "target": {"position": tgt}, "listener": {"position": lis, "view_vector": v},
                    "interferers": [{"position": pos()} for _ in range(3)]})
    return out


def build_clarity_demo(
    output_dir: Path,
    fixtures: str = "",
    wheel_dir: Path = Path("data/downloads"),
    n_train_scenes: int = 16,
    n_dev_scenes: int = 4,
    listeners_per_scene: int = 2,
    snr_db: list[float] = (-3.0, 6.0),
    t60_s: list[float] = (0.2, 0.5),
    n_interferers: list[int] = (1, 3),
    max_order: int = 10,
    seed: int = 0,
) -> None:
    """Build a demo corpus in the real Clarity CEC2 layout from real recordings.

    Writes ``<output_dir>/clarity_data/{train,dev}/scenes/<scene>_{mix,target,interferer}_CH1.wav``
    and ``<scene>_target_anechoic_CH1.wav`` (44.1 kHz, stereo, float) and
    ``clarity_data/metadata/{scenes,rooms,scenes_listeners}.<split>.json`` and ``listeners.json``,
    then ``<output_dir>/DEMO.json`` (what was built from what) last. Each scene's JSON entry carries
    a ``source`` block naming the real recordings, room and HRIRs it was rendered from.

    Dev scenes (held back from training) use target utterances that no training scene uses.

    Parameters
    ----------
    output_dir : Path
        Corpus root (the folder that will hold ``clarity_data/``); replaced atomically.
    fixtures : str
        Path of ``shared/fixtures``; empty or missing falls back to the pyannote.audio wheel.
    wheel_dir : Path
        Folder holding ``pyannote_audio-*.whl`` for the fallback.
    n_train_scenes, n_dev_scenes : int
        Scenes per split.
    listeners_per_scene : int
        Listeners (audiograms) paired with each scene.
    snr_db : list of float
        [low, high] of the uniform scene SNR (dB, better-ear speech-weighted, as in CEC2).
    t60_s : list of float
        [low, high] of the uniform room T60 (s).
    n_interferers : list of int
        [low, high] number of interferers per scene (CEC2: 2–3).
    max_order : int
        Image-source order cap of the room simulation.
    seed : int
        Random seed; the same inputs give the same corpus.

    Raises
    ------
    FileNotFoundError
        If neither the fixtures nor the pyannote.audio wheel can be found.
    """
    fx = Path(fixtures) if fixtures else None
    if fx is not None and not (fx / "README.md").is_file():
        log.warning("fixtures folder %s not found: falling back to the pyannote.audio wheel", fx)
        fx = None
    rng = np.random.default_rng(stable_seed("clarity-demo", seed))
    targets, interferers, origin = _speech_pool(fx, wheel_dir)
    hrir_path = fx / "clarity/clarity_data/hrir/HRIRs_MAT/VP_N6-BTE_fr.mat" if fx else None
    hrirs = HRIRSet.from_mat(hrir_path, FS) if hrir_path else None
    if fx is not None:
        listeners = json.loads((fx / "clarity/clarity_data/metadata/listeners.json").read_text())
    else:
        listeners = {f"L{k}": {"name": f"L{k}", "audiogram_cfs": AUDIOGRAM_CFS, "audiogram_levels_l": v,
                               "audiogram_levels_r": v} for k, v in BISGAARD.items()}
    n_scenes = n_train_scenes + n_dev_scenes
    rooms = _rooms(fx, n_scenes, rng)
    # dev scenes get their own target utterances (held back from training)
    order = rng.permutation(len(targets))
    n_dev_targets = min(n_dev_scenes, max(2, round(len(targets) / 4)), len(targets) - 1)
    dev_targets, train_targets = order[:n_dev_targets], order[n_dev_targets:]

    tmp = output_dir.with_name(output_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    meta = tmp / "clarity_data" / "metadata"
    meta.mkdir(parents=True)
    summary = {"origin": origin, "fixtures": str(fx) if fx else None, "sampling_rate": FS,
               "hrirs": str(hrir_path.relative_to(fx)) if hrir_path else "omnidirectional ear microphones",
               "splits": {}}
    lids = sorted(listeners)
    for split, n, first, pool in (("train", n_train_scenes, 1, train_targets),
                                  ("dev", n_dev_scenes, 6001, dev_targets)):
        scenes, rooms_out, scene_listeners = [], [], {}
        sdir = tmp / "clarity_data" / split / "scenes"
        sdir.mkdir(parents=True)
        for k in tqdm(range(n), desc=f"clarity demo {split}", unit="scene"):
            room = rooms[(k if split == "train" else n_train_scenes + k)]
            scene_id, room_id = f"S{first + k:05d}", f"R{first + k:05d}"
            t = targets[int(pool[k % len(pool)])]
            a, b, h = map(float, room["dimensions"].split("x"))
            dims = (a, b, h)
            n_int = int(rng.integers(n_interferers[0], n_interferers[1] + 1))
            chosen = rng.choice(len(interferers), size=min(n_int, len(interferers)), replace=False)
            start = int(rng.uniform(0.8, 1.2) * FS)
            dur = start + len(t["audio"]) + int(0.5 * FS)
            t60 = float(rng.uniform(*t60_s))
            snr = float(rng.uniform(*snr_db))
            srcs = [clarity_to_box(room["target"]["position"], dims)]
            srcs += [clarity_to_box(room["interferers"][j % len(room["interferers"])]["position"], dims)
                     for j in range(len(chosen))]
            head = clarity_to_box(room["listener"]["position"], dims)
            view = clarity_to_box_vector(room["listener"].get("view_vector", [0, 1, 0]))
            brirs, direct = binaural_rirs(dims, srcs, head, view, FS, t60, hrirs, max_order)
            ints, ientries = [], []
            for pos, j in enumerate(chosen):
                it = interferers[int(j)]
                x = it["audio"]
                offset = int(rng.integers(0, max(1, len(x) - dur)))
                seg = np.resize(x[offset:], dur) if len(x) - offset < dur else x[offset : offset + dur]
                ints.append(seg)
                ientries.append({"position": pos + 1, "time_start": 0, "time_end": dur, "type": it["type"],
                                 "name": it["name"], "offset": offset, "source": it["source"]})
            sig = render_scene(t["audio"], ints, brirs[0], direct[0], brirs[1:], start, start + len(t["audio"]), dur, snr)
            peak = max(np.abs(sig["mix"]).max(), np.abs(sig["target_anechoic"]).max())
            for name, x in sig.items():
                write_audio(sdir / f"{scene_id}_{name}_CH1.wav", (x * 0.9 / peak).astype(np.float32), FS)
            scenes.append({
                "dataset": split, "room": room_id, "scene": scene_id,
                "target": {"name": t["name"], "time_start": start, "time_end": start + len(t["audio"])},
                "duration": dur, "interferers": ientries, "SNR": round(snr, 4),
                "listener": {"hrir_filename": ["VP_N6-BTE_fr"] if hrirs else []},
                "source": {"target": t["source"], "room_geometry": f"rooms.train.json:{room['name']}" if fx else "sampled",
                           "t60_s": round(t60, 4), "renderer": "audiopipe.signals.clarity_scene (pyroomacoustics ISM"
                           + (" + measured HRIRs VP_N6-BTE_fr)" if hrirs else ", omni ear mics)")},
            })
            rooms_out.append({**{k2: v for k2, v in room.items() if k2 != "name"}, "name": room_id,
                              "source_room": room["name"]})
            pick = rng.choice(len(lids), size=min(listeners_per_scene, len(lids)), replace=False)
            scene_listeners[scene_id] = [lids[int(i)] for i in pick]
        write_json(meta / f"scenes.{split}.json", scenes)
        write_json(meta / f"rooms.{split}.json", rooms_out)
        write_json(meta / f"scenes_listeners.{split}.json", scene_listeners)
        summary["splits"][split] = {"scenes": n, "targets": sorted({s["source"]["target"] for s in scenes})}
    write_json(meta / "listeners.json", listeners)
    if output_dir.exists():
        shutil.rmtree(output_dir)
    tmp.rename(output_dir)
    write_json(output_dir / "DEMO.json", summary)
    log.info("clarity demo corpus written to %s (%s)", output_dir, origin)


def build_speech_demo(output: Path, fixtures: str = "", wheel_dir: Path = Path("data/downloads"),
                      sample_rate: int = 16000) -> None:
    """Build a clean-speech manifest (WSJ0 stand-in) from real 16-kHz recordings.

    Writes single-speaker pieces (1.5–3.5 s, cut along the RTTM turns) of the real pyannote
    conversation and the CMU ARCTIC utterances as WAV files next to ``output`` and a manifest
    (``id, path, sampling_rate, num_samples, num_channels, duration, speaker, provenance``).
    Without the fixtures, the conversation comes from the pyannote.audio wheel.

    Parameters
    ----------
    output : Path
        Manifest path (``.jsonl`` or ``.jsonl.gz``); the WAVs go to ``<output dir>/wav/``.
    fixtures : str
        Path of ``shared/fixtures``; empty or missing falls back to the pyannote.audio wheel.
    wheel_dir : Path
        Folder holding ``pyannote_audio-*.whl`` for the fallback.
    sample_rate : int
        Rate of the written pieces (Hz).
    """
    from audiopipe.io import write_jsonl

    fx = Path(fixtures) if fixtures and (Path(fixtures) / "README.md").is_file() else None
    targets, interferers, origin = _speech_pool(fx, wheel_dir)
    speech = [t for t in targets + interferers if t.get("type", "speech") == "speech"]
    wav_dir = Path(output).parent / "wav"
    records = []
    for item in speech:
        x = _resample(item["audio"], FS, sample_rate).astype(np.float32)
        x = x / (np.abs(x).max() + 1e-9) * 0.9
        path = wav_dir / f"{item['name']}.wav"
        write_audio(path, x, sample_rate, subtype="PCM_16")
        records.append({"id": item["name"], "path": str(path), "sampling_rate": sample_rate,
                        "num_samples": len(x), "num_channels": 1, "duration": len(x) / sample_rate,
                        "speaker": item["source"].rsplit("(", 1)[-1].rstrip(")") if "(" in item["source"] else item["name"],
                        "provenance": item["source"]})
    records.sort(key=lambda r: r["id"])
    write_jsonl(output, records)
    log.info("%d real speech pieces (%s) -> %s", len(records), origin, output)


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


def build_locata_demo(output_dir: Path, fixtures: str = "", silence_s: float = 0.5,
                      position_rate_hz: float = 10.0) -> None:
    """Build a demo corpus in the LOCATA layout from real recordings.

    LOCATA's audio and positions are not public, so the demo records real speech through the
    measured dEchorate RIRs of ``shared/fixtures`` (12 microphones, one loudspeaker, 48 kHz):
    ``<output_dir>/{eval,dev}/task1/recording<M>/benchmark2/`` with ``audio_array_benchmark2.wav``
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
    output_dir : Path
        Corpus root (receives ``dev/`` and ``eval/``); replaced atomically.
    fixtures : str
        Path of ``shared/fixtures``.
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
    output_dir = Path(output_dir)
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
            dry.append(_resample(x, fs_x, fs))
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


STAGES = {"clarity": build_clarity_demo, "speech": build_speech_demo, "locata": build_locata_demo}
