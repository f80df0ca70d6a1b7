"""STRFConv2d forward: vectorised kernel construction vs the seed's per-pair Python loop.

Both build the same kernels (seed grid) and run the same ``conv2d`` on a log-Mel batch; prints
forward times and their ratio (seed / vectorised) for a few layer sizes. Usage::

    python benchmarks/bench_strf.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _seed_reference import seed_strf_forward, seed_strf_weight  # noqa: E402

from audiopipe.models.strf import STRFConv2d  # noqa: E402


def _best(fn, repeat=5):
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, 1 thread, CPU")
    for cin, cout, batch, frames in [(1, 32, 1, 200), (1, 32, 8, 200), (1, 64, 8, 200), (4, 32, 8, 200)]:
        layer = STRFConv2d(cin, cout, (9, 9), grid="seed", padding=(4, 4), seed=0)
        x = torch.randn(batch, cin, 64, frames)
        z = torch.zeros(cout, cin)
        args = (layer.sigma_f, layer.sigma_t, layer.omega, z, layer.gamma, z, (9, 9), (4, 4))
        with torch.no_grad():
            diff = (layer(x) - seed_strf_forward(x, *args)).abs().max().item()
            t_vec = _best(lambda: layer(x))
            t_seed = _best(lambda: seed_strf_forward(x, *args))
            k_vec = _best(layer.kernels)
            k_seed = _best(lambda: seed_strf_weight(*args[:7]))
        print(f"in={cin} out={cout} batch={batch} input=(64 Mel x {frames} frames): seed loop "
              f"{t_seed * 1e3:.2f} ms, vectorised {t_vec * 1e3:.2f} ms, ratio x{t_seed / t_vec:.1f}, "
              f"max|diff|={diff:.1e}")
        print(f"    kernel construction only: seed loop {k_seed * 1e3:.2f} ms, vectorised "
              f"{k_vec * 1e3:.3f} ms, ratio x{k_seed / k_vec:.0f}")
        layer.zero_grad()
        t_vec_b = _best(lambda: layer(x).sum().backward())
        print(f"    vectorised forward+backward {t_vec_b * 1e3:.2f} ms (the seed's kernels get no gradient: "
              f"it writes them into a tensor created without grad)")


if __name__ == "__main__":
    main()
