"""Benchmark (b): full two-channel 4.112-s SAR-SSL examples per second on one CPU core.

One example = random array/source in a random SAR-SSL room, ``ism`` RIR, direct-path RIR, real
speech excerpt (fixture recordings) convolved with both, Habets diffuse noise at a random SNR,
and all labels — exactly :func:`audiopipe.signals.examples.make_example`, as the ``simulate``
stage runs it. Goal (issue 4): >= 50 examples/s per core (about 200x real time).

    python benchmarks/bench_examples.py --examples 200
    python benchmarks/bench_examples.py --tail-decay ism --t60-tolerance 0
"""

from __future__ import annotations

import argparse
import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

from audiopipe.acoustics import noise as anoise  # noqa: E402
from audiopipe.acoustics.params import rir_labels  # noqa: E402
from audiopipe.acoustics.rir import direct_path_rir, simulate_rir  # noqa: E402
from audiopipe.acoustics.rooms import RoomConfig, place_array_and_source, sample_room_acoustics  # noqa: E402
from audiopipe.signals.examples import SimulationConfig, make_example  # noqa: E402
from audiopipe.signals.mix import convolve_rir, speech_excerpt  # noqa: E402


def fixture_records(root: Path) -> list[dict]:
    recs = []
    for p in sorted((root / "speech/cmu_arctic").glob("*.wav")):
        recs.append({"id": p.stem, "path": str(p), "sampling_rate": sf.info(p).samplerate})
    sample = root / "speech/pyannote_sample/sample.wav"
    for k in range(6):
        recs.append({"id": f"sample-{k}", "path": str(sample), "sampling_rate": 16000, "start": 5.0 * k, "duration": 5.0})
    return recs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=200)
    ap.add_argument("--rooms", type=int, default=20)
    ap.add_argument("--duration", type=float, default=4.112)
    ap.add_argument("--tail-decay", default="sabine", choices=["sabine", "ism"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--t60-tolerance", type=float, default=0.05,
                    help="SAR-SSL's T60 check (s); use 0 with --tail-decay ism, whose T60 is not Sabine's")
    ap.add_argument("--fixtures", default=os.environ.get("AUDIOPIPE_FIXTURES", "../shared/fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    recs = fixture_records(Path(args.fixtures))
    room_cfg = RoomConfig()
    cfg = SimulationConfig(tail_decay=args.tail_decay, device=args.device, t60_tolerance_s=args.t60_tolerance)
    rng = np.random.default_rng(0)
    rooms = [sample_room_acoustics(rng, room_cfg) for _ in range(args.rooms)]
    n = int(round(args.duration * cfg.sampling_rate))
    cache: dict = {}
    make_example(np.random.default_rng(1), rooms[0], room_cfg, cfg, recs, n, cache)  # warm-up, fills cache
    t0 = time.process_time()
    w0 = time.perf_counter()
    redraws = 0
    for i in range(args.examples):
        _, _, prov = make_example(np.random.default_rng(100 + i), rooms[i % len(rooms)], room_cfg, cfg, recs, n, cache)
        redraws += prov["redraws"]
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    print(f"{args.examples} examples of {args.duration} s, 2 ch, {len(rooms)} random SAR-SSL rooms, backend ism "
          f"({args.device}), tail {args.tail_decay}, 1 thread: {args.examples / cpu:.1f} examples per CPU-second "
          f"({args.examples / wall:.1f}/s wall), {args.examples * args.duration / cpu:.0f}x real time; "
          f"{redraws} T60-check redraws")
    # where the time goes, per component (same rooms, one draw each)
    parts = {"rir": 0.0, "direct-path rir": 0.0, "labels": 0.0, "speech+convolution": 0.0, "diffuse noise": 0.0}
    for i in range(min(args.examples, 50)):
        r = np.random.default_rng(100 + i)
        room = place_array_and_source(r, room_cfg, *rooms[i % len(rooms)])
        t = time.process_time()
        h = simulate_rir(room, cfg.sampling_rate, device=args.device, tail_decay=args.tail_decay)
        parts["rir"] += time.process_time() - t
        t = time.process_time()
        dp = direct_path_rir(room, cfg.sampling_rate)
        parts["direct-path rir"] += time.process_time() - t
        t = time.process_time()
        rir_labels(h, dp, cfg.sampling_rate, mic_pos=room.mic_pos, src_pos=room.src_pos, dims=room.dims)
        parts["labels"] += time.process_time() - t
        t = time.process_time()
        s, _ = speech_excerpt(r, recs, n, cfg.sampling_rate, cache=cache)
        convolve_rir(s, h), convolve_rir(s, dp)
        parts["speech+convolution"] += time.process_time() - t
        t = time.process_time()
        anoise.diffuse_noise(r, room.mic_pos, n, cfg.sampling_rate)
        parts["diffuse noise"] += time.process_time() - t
    k = min(args.examples, 50)
    print("per example (ms): " + ", ".join(f"{name} {1e3 * v / k:.1f}" for name, v in parts.items()))


if __name__ == "__main__":
    main()
