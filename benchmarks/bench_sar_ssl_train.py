"""SAR-SSL training throughput (examples/s): pre-training and downstream fine-tuning steps.

One step = forward, backward and Adam update of a batch; timed after warm-up steps, on
feature tensors of the real shapes (values random: the cost does not depend on them).
Configurations: ``demo`` (params.yaml sar_ssl.pretrain.model, 0.528-s examples, 32 frames) and
``paper`` (17.5 M parameters; 4.112-s examples, 256 frames, as the paper's pre-training).

    nice python benchmarks/bench_sar_ssl_train.py            # CPU, both configurations
    python benchmarks/bench_sar_ssl_train.py --device cuda   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from audiopipe.models.mc_conformer import (  # noqa: E402
    DownstreamRegressor,
    MCConformer,
    count_parameters,
    random_mask,
    reconstruction_loss,
)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench(model_cfg: dict, frames: int, batch: int, steps: int, warmup: int,
          device: torch.device, downstream: bool) -> dict:
    torch.manual_seed(0)
    net = MCConformer(**model_cfg, decoder=not downstream)
    if downstream:
        net = DownstreamRegressor(net.spatial_encoder, net.d_spatial)
    net = net.to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(batch, 2, 256, frames, 2, device=device)
    y = torch.randn(batch, device=device)
    g = torch.Generator().manual_seed(0)

    def step():
        if downstream:
            loss = torch.nn.functional.mse_loss(net(x), y)
        else:
            fm, ch = random_mask(batch, frames, 2, generator=g)
            fm, ch = fm.to(device), ch.to(device)
            loss = reconstruction_loss(net(x, fm, ch), x, fm, ch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    dt = time.perf_counter() - t
    return {"examples_per_s": batch * steps / dt, "s_per_step": dt / steps, "batch": batch,
            "frames": frames, "params": count_parameters(net), "steps": steps}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--configs", nargs="+", default=["demo", "paper"])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--paper-batch", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args(argv)
    device = torch.device(a.device)
    demo = yaml.safe_load((REPO / "params.yaml").read_text())["sar_ssl"]
    cases = []
    if "demo" in a.configs:
        m = demo["pretrain"]["model"]
        cases += [("demo", "pretrain", m, 32, demo["pretrain"]["batch_size"]),
                  ("demo", "finetune", m, 32, demo["downstream"]["batch_size"])]
    if "paper" in a.configs:
        cases += [("paper", "pretrain", {}, 256, a.paper_batch),
                  ("paper", "finetune", {}, 256, a.paper_batch)]
    out = []
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()}")
    for name, kind, cfg, frames, batch in cases:
        r = bench(cfg, frames, batch, a.steps, a.warmup, device, kind == "finetune")
        r.update(config=name, kind=kind)
        out.append(r)
        print(f"{name:5s} {kind:8s} params={r['params']:>10,d} frames={frames:3d} batch={batch:3d}"
              f"  {r['examples_per_s']:8.2f} examples/s  ({r['s_per_step']:.3f} s/step)",
              flush=True)
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
