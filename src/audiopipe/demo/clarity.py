"""Demo corpus in the real Clarity CEC2 layout, rendered from real recordings.

Targets, interferers, rooms, HRIRs and audiograms are real (see :func:`build`); each scene's
mixture is rendered from those components as the Clarity scene renderer does
(:mod:`audiopipe.signals.clarity_scene`).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from audiopipe.demo._sources import FS, speech_pool
from audiopipe.io import stable_seed, write_audio, write_json
from audiopipe.signals.clarity_scene import (
    HRIRSet,
    binaural_rirs,
    clarity_to_box,
    clarity_to_box_vector,
    render_scene,
)

log = logging.getLogger(__name__)

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


def build(
    root: Path,
    fixtures: Path | None,
    downloads: Path,
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

    Writes ``<root>/clarity_data/{train,dev}/scenes/<scene>_{mix,target,interferer}_CH1.wav``
    and ``<scene>_target_anechoic_CH1.wav`` (44.1 kHz, stereo, float) and
    ``clarity_data/metadata/{scenes,rooms,scenes_listeners}.<split>.json`` and ``listeners.json``,
    then ``<root>/DEMO.json`` (what was built from what) last. Each scene's JSON entry carries
    a ``source`` block naming the real recordings, room and HRIRs it was rendered from.

    Dev scenes (held back from training) use target utterances that no training scene uses.

    Parameters
    ----------
    root : Path
        Corpus root (the folder that will hold ``clarity_data/``); replaced atomically.
    fixtures : Path or None
        ``shared/fixtures``; None falls back to the pyannote.audio wheel in ``downloads``.
    downloads : Path
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
    fx, output_dir = fixtures, Path(root)
    rng = np.random.default_rng(stable_seed("clarity-demo", seed))
    targets, interferers, origin = speech_pool(fx, downloads)
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
