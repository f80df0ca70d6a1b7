"""Benchmark (a): RIR + labels, audiopipe's ``ism`` backend against pyroomacoustics' full ISM.

Same room, array and source at T60 = 0.2/0.5/0.8/1.3 s, one process, one CPU thread. Prints
the time per RIR (simulation + labels), the speed ratio, and the label differences
(T60, DRR, C50) between the two backends. Goal (issue 4): >= 20x faster, T60 within 10 %,
DRR/C50 within 1 dB.

    python benchmarks/bench_rir.py                      # the table
    python benchmarks/bench_rir.py --ism-decay-db 30    # longer image-source part
    python benchmarks/bench_rir.py --rirs-per-second --device cuda --batch 64   # GPU throughput
"""

from __future__ import annotations

import argparse
import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from audiopipe.acoustics.params import rir_labels  # noqa: E402
from audiopipe.acoustics.rir import backend_delay, direct_path_rir, ism_rirs, simulate_rir  # noqa: E402
from audiopipe.acoustics.rooms import RoomConfig, make_room, sample_room  # noqa: E402

FS = 16000
ROOM = dict(dims=[7.0, 5.0, 3.0], mic_pos=[[2.45, 2.0, 1.4], [2.55, 2.0, 1.4]], src_pos=[4.6, 3.6, 1.7],
            weights=[0.6, 0.9, 0.7, 1.0, 0.5, 0.8])


def rir_and_labels(room, backend, **kw):
    h = simulate_rir(room, FS, backend, **kw)
    dp = direct_path_rir(room, FS, delay_offset=backend_delay(backend))
    return rir_labels(h, dp, FS, mic_pos=room.mic_pos, src_pos=room.src_pos, dims=room.dims)


def timed(fn, reps):
    best = []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best.append(time.perf_counter() - t)
    return float(np.median(best)), out


def table(args):
    torch.set_num_threads(1)
    rows = []
    warm = make_room(ROOM["dims"], 0.5, ROOM["mic_pos"], ROOM["src_pos"], ROOM["weights"])
    rir_and_labels(warm, "ism")  # warm-up (torch, scipy)
    rir_and_labels(warm, "pyroomacoustics")  # warm-up (pyroomacoustics' compiled code)
    print(f"room {ROOM['dims']} m, mics {ROOM['mic_pos']}, source {ROOM['src_pos']}, fs {FS} Hz, 1 thread, "
          f"ism_decay_db {args.ism_decay_db}, tail_decay {args.tail_decay}, fit_decay_db {args.fit_decay_db}, max_decay_db {args.max_decay_db}")
    print(f"{'T60':>5} {'ism ms':>8} {'pra ms':>9} {'ratio':>7} | {'T60 ism':>7} {'T60 pra':>7} {'dT60 %':>7} | "
          f"{'DRR ism':>7} {'DRR pra':>7} {'dDRR':>6} | {'C50 ism':>7} {'C50 pra':>7} {'dC50':>6}")
    for t60 in args.t60:
        room = make_room(ROOM["dims"], t60, ROOM["mic_pos"], ROOM["src_pos"], ROOM["weights"])
        ti, li = timed(lambda: rir_and_labels(room, "ism", ism_decay_db=args.ism_decay_db,
                                              tail_decay=args.tail_decay, fit_decay_db=args.fit_decay_db,
                                              max_decay_db=args.max_decay_db), args.reps)
        tp, lp = timed(lambda: rir_and_labels(room, "pyroomacoustics"), 1)
        row = dict(t60=t60, ism_s=ti, pra_s=tp, ratio=tp / ti, ism=li, pra=lp,
                   dt60_rel=(li["t60_s"] - lp["t60_s"]) / lp["t60_s"], ddrr_db=li["drr_db"] - lp["drr_db"],
                   dc50_db=li["c50_db"] - lp["c50_db"])
        rows.append(row)
        print(f"{t60:5.1f} {ti * 1e3:8.1f} {tp * 1e3:9.1f} {tp / ti:7.1f} | {li['t60_s']:7.3f} {lp['t60_s']:7.3f} "
              f"{100 * row['dt60_rel']:7.1f} | {li['drr_db']:7.2f} {lp['drr_db']:7.2f} {row['ddrr_db']:6.2f} | "
              f"{li['c50_db']:7.2f} {lp['c50_db']:7.2f} {row['dc50_db']:6.2f}")
    tot_i, tot_p = sum(r["ism_s"] for r in rows), sum(r["pra_s"] for r in rows)
    print(f"overall speed ratio (sum of times): {tot_p / tot_i:.1f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


def throughput(args):
    """RIRs per second of the batched ism backend on random SAR-SSL rooms."""
    rng = np.random.default_rng(0)
    rooms = [sample_room(rng, RoomConfig()) for _ in range(args.batch * args.batches)]
    kw = dict(device=args.device, tail_decay=args.tail_decay, fit_decay_db=args.fit_decay_db,
              max_decay_db=args.max_decay_db, ism_decay_db=args.ism_decay_db)
    ism_rirs(rooms[: args.batch], FS, **kw)  # warm-up
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    for b in range(args.batches):
        ism_rirs(rooms[b * args.batch:(b + 1) * args.batch], FS, **kw)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    dt = time.perf_counter() - t
    print(f"ism backend on {args.device} (threads {torch.get_num_threads()}): {len(rooms)} random SAR-SSL rooms, "
          f"batch {args.batch}, tail {args.tail_decay}: {len(rooms) / dt:.1f} RIRs/s (2 channels, T60 U(0.2, 1.3) s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--t60", type=float, nargs="+", default=[0.2, 0.5, 0.8, 1.3])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--ism-decay-db", type=float, default=12.0)
    ap.add_argument("--tail-decay", default="ism", choices=["ism", "sabine"])
    ap.add_argument("--fit-decay-db", type=float, default=30.0)
    ap.add_argument("--max-decay-db", type=float, default=40.0)
    ap.add_argument("--json", default="")
    ap.add_argument("--rirs-per-second", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--batches", type=int, default=4)
    args = ap.parse_args()
    if args.rirs_per_second:
        throughput(args)
    else:
        table(args)


if __name__ == "__main__":
    main()
