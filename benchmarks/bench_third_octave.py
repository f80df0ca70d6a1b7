"""Third-octave levels: audiopipe's vectorised transform vs a faithful loop re-implementation of
the seed's definition (``_seed_reference.seed_third_octave``), in the same process.

Prints the maximum absolute dB difference on the real TAU 2020 clip (resampled to 32 kHz) and on
white noise, and the run times. Usage::

    python benchmarks/bench_third_octave.py [--fixtures ../shared/fixtures]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _seed_reference import seed_third_octave  # noqa: E402

from audiopipe.features.mel import resample  # noqa: E402
from audiopipe.features.third_octave import third_octave_levels  # noqa: E402
from audiopipe.io import read_audio  # noqa: E402


def _time(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixtures", default=os.environ.get("AUDIOPIPE_FIXTURES", "../shared/fixtures"))
    args = ap.parse_args()
    x, sr = read_audio(Path(args.fixtures) / "urban/tau2020_mobile/street_pedestrian-paris-152-4607-a.wav")
    signals = {
        "TAU street_pedestrian clip (10 s)": resample(x[0], sr, 32000).astype(np.float64),
        "white noise (60 s, seed 0)": np.random.default_rng(0).standard_normal(32000 * 60) * 0.1,
    }
    for name, sig in signals.items():
        ref, t_ref = _time(lambda: seed_third_octave(sig))
        got, t_got = _time(lambda: third_octave_levels(sig).numpy())
        print(f"{name}: frames={ref.shape[1]} max|dB diff|={np.abs(ref - got).max():.3e} dB "
              f"seed-loop {t_ref * 1e3:.1f} ms, vectorised {t_got * 1e3:.1f} ms, speed-up x{t_ref / t_got:.1f}")


if __name__ == "__main__":
    main()
