"""Evaluation cost of the SFI recipe per track-second: separation (per method) and BSSEval v4.

Uses the real MUSDB18 sample track of the shared fixtures (6.8 s, stereo), cut to each of
``--durations`` and resampled to each of ``--rates``. Separation uses untrained models of the
chosen size (cost does not depend on the weights); BSSEval v4 is the museval metric as the
recipe computes it (4 sources, 2 channels, 512-tap filters, 1-s frames). Prints one row per
(rate, duration): CPU seconds (process time, one thread) per second of audio; the last column
is the wall time of the whole row, to compare (on a shared machine wall time is inflated).

    AUDIOPIPE_FIXTURES=../shared/fixtures PYTHONPATH=src python benchmarks/bench_sfi_eval.py \
        --size paper --rates 8000 16000 32000 48000 --durations 1.1 6.8
"""

from __future__ import annotations

import os

# single-threaded BLAS like the recipe's evaluate jobs (must precede the numpy import)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path

import numpy as np  # noqa: E402
import torch  # noqa: E402

from audiopipe.corpora.musdb import SOURCES, resample  # noqa: E402
from audiopipe.io import read_audio  # noqa: E402
from audiopipe.metrics.bss import track_sdr  # noqa: E402
from audiopipe.models.sfi_convtasnet import MonoConvTasNet, SFIConvTasNet  # noqa: E402
from audiopipe.recipes.sfi import separate  # noqa: E402

SIZES = {
    "paper": dict(N=440, L=160, B=160, H=160, P=3, X=6, R=2),
    "demo": dict(N=64, L=160, B=32, H=32, P=3, X=3, R=1),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="paper")
    ap.add_argument("--rates", type=int, nargs="+", default=[8000, 16000, 32000, 48000])
    ap.add_argument("--durations", type=float, nargs="+", default=[1.1, 6.8])
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    root = Path(os.environ.get("AUDIOPIPE_FIXTURES", "../shared/fixtures"))
    d = root / "music/musdb18hq_sample/train/Music Delta - 80s Rock"
    mix44, fs44 = read_audio(d / "mixture.wav")
    refs44 = np.stack([read_audio(d / f"{s}.wav")[0] for s in SOURCES])
    torch.manual_seed(0)
    sfi = SFIConvTasNet(**SIZES[a.size], stride=80).eval()
    plain = MonoConvTasNet(**SIZES[a.size]).eval()
    print(f"model size {a.size}; torch threads {a.threads}; CPU seconds per track-second")
    print(f"{'rate':>6} {'dur_s':>6} {'sfi':>7} {'resamp':>7} {'plain':>7} {'bss_v4':>7} "
          f"{'sfi+bss':>8} {'wall_s':>7}")
    for fs in a.rates:
        for dur in a.durations:
            n = min(int(round(dur * fs44)), mix44.shape[-1])
            mix = resample(mix44[:, :n], fs44, fs)
            refs = resample(refs44[..., :n], fs44, fs)
            secs = mix.shape[-1] / fs
            t, w0 = {}, time.perf_counter()
            for name, net, method in (("sfi", sfi, "sfi"), ("resamp", plain, "resampling"),
                                      ("plain", plain, "plain")):
                separate(net, mix[:, : fs // 4], fs, method, 32000)  # warm-up (FD pinv cache)
                t0 = time.process_time()
                est = separate(net, mix, fs, method, 32000)
                t[name] = (time.process_time() - t0) / secs
            t0 = time.process_time()
            track_sdr(refs, est, fs)
            t["bss"] = (time.process_time() - t0) / secs
            print(f"{fs:>6} {secs:>6.2f} {t['sfi']:>7.3f} {t['resamp']:>7.3f} {t['plain']:>7.3f} "
                  f"{t['bss']:>7.3f} {t['sfi'] + t['bss']:>8.3f} {time.perf_counter() - w0:>7.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
