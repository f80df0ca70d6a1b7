"""Run one recipe's real training function in this process, for the kill-and-resume tests.

``python -m tests.training.driver <scenario> <inputs.json> <out_dir>`` runs the scenario at a
tiny size on the inputs built by :mod:`tests.training.inputs` and writes
``<out_dir>/outcome.pt``: ``weights`` (name -> state dict of the final weights) and ``result``
(the returned metrics, as plain values, without wall-clock timings and resume counts) and
``resumed`` (the resume count the run recorded).

A pause point makes the kill point exact instead of timed. With ``AUDIOPIPE_TEST_PAUSE``:

* ``batch:<epoch>:<batch>``: before that training batch starts (epoch and batch 0-based);
* ``save:<file name>:<epoch>``: while the checkpoint ``<file name>`` of that epoch is being
  written, after half of its bytes reached the temporary file;
* ``train_end``: when training has ended, before the training function writes its outputs;

the process writes the file named by ``AUDIOPIPE_TEST_MARKER`` and sleeps until it is killed.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import time
from pathlib import Path

import lightning as L
import torch

torch.set_num_threads(1)

#: model sizes (small: each epoch takes well under a second)
CONV_TASNET = {"N": 16, "L": 16, "B": 16, "H": 32, "P": 3, "X": 2, "R": 1, "norm": "gLN", "causal": False}
SFI_MODEL = {"N": 16, "L": 40, "B": 8, "H": 8, "P": 3, "X": 2, "R": 1, "norm": "gLN", "mask_act": "softmax",
             "sfi": {"stride": 20, "fs_ref": 8000, "filters": "mgf", "design": "fd", "n_freqs": 160,
                     "weight_scale": "paper", "filter_params": {"freq_range": [50.0, 4000.0]}}}
MC_CONFORMER = {"d_spatial": 16, "d_spectral": 16, "n_spatial_layers": 1, "n_spectral_layers": 1,
                "cnn_channels": 4, "conv_kernel": 5, "decoder_factor": 1, "n_heads": 2}
CLASSES = ["street_pedestrian", "dog_bark", "speech"]
EPOCHS = 3

#: scenario -> checkpoint folder, relative to the output folder
CHECKPOINT_DIR = {
    "toy": "checkpoints", "toy_generator": "checkpoints",
    "clarity": "work/checkpoints", "sfi": "model/checkpoints",
    "sar_ssl_pretrain": "checkpoints", "sar_ssl_downstream": "checkpoints",
    "transcoder_teacher": "checkpoints", "transcoder_cnn": "checkpoints", "strf_sad": "checkpoints",
}


def _wait_to_be_killed(marker: str) -> None:
    tmp = Path(marker + ".tmp")
    tmp.write_text(str(os.getpid()))
    os.replace(tmp, marker)
    while True:
        time.sleep(1)


def install_pause(spec: str, marker: str) -> None:
    """Install the pause point ``spec`` (see the module docstring)."""
    kind, a, b = (spec.split(":") + ["", ""])[:3]
    if kind in ("batch", "train_end"):
        epoch, batch = (int(a), int(b)) if kind == "batch" else (None, None)

        class Pause(L.Callback):
            def on_train_batch_start(self, trainer, pl_module, batch_, batch_idx):
                if trainer.current_epoch == epoch and batch_idx == batch:
                    _wait_to_be_killed(marker)

            def on_train_end(self, trainer, pl_module):
                if kind == "train_end":
                    _wait_to_be_killed(marker)

        base = L.Trainer

        class PausingTrainer(base):
            def __init__(self, *args, callbacks=None, **kwargs):
                super().__init__(*args, callbacks=[*(callbacks or []), Pause()], **kwargs)

        L.Trainer = PausingTrainer  # the engine builds ``L.Trainer`` when it is called
    elif kind == "save":
        name, epoch = a, int(b)
        real_save = torch.save

        def save(obj, f, *args, **kwargs):
            target = Path(str(getattr(f, "name", f))).name
            if isinstance(obj, dict) and obj.get("epoch") == epoch and target.startswith(f".{name}.tmp"):
                buf = io.BytesIO()
                real_save(obj, buf, *args, **kwargs)
                data = buf.getvalue()
                f.write(data[: len(data) // 2])
                f.flush()
                _wait_to_be_killed(marker)
            return real_save(obj, f, *args, **kwargs)

        torch.save = save
    else:
        raise ValueError(f"unknown pause point {spec!r}")


def _plain(x):
    """JSON-able copy (tuples -> lists) of a result, so that two runs compare with ``==``."""
    return json.loads(json.dumps(x))


def _state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _ckpt_weights(out: Path, scenario: str) -> dict:
    return _state(out / CHECKPOINT_DIR[scenario] / "last.ckpt")["state_dict"]


def run(scenario: str, inputs: dict, out: Path) -> dict:
    """Run ``scenario``; return ``{"weights", "result", "resumed"}``."""
    out = Path(out)
    if scenario in ("toy", "toy_generator"):
        from audiopipe.training import engine
        from tests.training.toy import ToyModule, toy_loaders

        train, val = toy_loaders(Path(inputs["fixtures"]), generator=scenario == "toy_generator")
        res = engine.fit(ToyModule, train, val, checkpoint_dir=out / "checkpoints", max_epochs=4, seed=3,
                         monitor="val_loss")
        best = _state(res.best_checkpoint)["state_dict"]
        return {"weights": {"last": res.module.state_dict(), "best": best},
                "result": {"history": res.history, "best_score": res.best_score, "best_epoch": res.best_epoch,
                           "epochs": res.epochs},
                "resumed": res.resumed}
    if scenario == "clarity":
        from audiopipe.training.clarity import train_separator

        module, res = train_separator([Path(inputs["clarity"])], out / "work", CONV_TASNET, lr=1e-3, batch_size=2,
                                      max_epochs=EPOCHS, seed=0)
        return {"weights": {"best": module.state_dict(), "last": res.module.state_dict()},
                "result": {"history": res.history, "best_score": res.best_score, "best_epoch": res.best_epoch,
                           "epochs": res.epochs, "slot_counts": module.slot_counts.tolist()},
                "resumed": res.resumed}
    if scenario == "sfi":
        from audiopipe.recipes.sfi import model_config
        from audiopipe.training.sfi import train_separator

        tr = {"segment_seconds": 0.25, "batch_size": 2, "epochs": EPOCHS, "steps_per_epoch": 3,
              "valid_segments": 2, "lr": 1e-3, "weight_decay": 5e-4, "grad_clip": 5.0, "seed": 0}
        model = train_separator(Path(inputs["sfi_train"]), Path(inputs["sfi_valid"]), out / "model", "sfi",
                                model_config("sfi", SFI_MODEL), **tr)
        saved = _state(model)
        engine_state = _state(out / CHECKPOINT_DIR[scenario] / "last.ckpt")["callbacks"]["EngineCheckpoint"]
        epochs = {p.name: _state(p)["state_dict"] for p in sorted((out / "model/checkpoints").glob("epoch*.ckpt"))}
        return {"weights": {"model": saved["state_dict"], **epochs},
                "result": {"epochs": saved["epochs"], "history": engine_state["history"]},
                "resumed": saved["resumed"]}
    if scenario == "sar_ssl_pretrain":
        from audiopipe.training.sar_ssl import run_pretraining

        res = run_pretraining([Path(inputs["sar_pretrain"])], [Path(inputs["sar_val"])], out, model=MC_CONFORMER,
                              batch_size=4, lr=3e-3, epochs=EPOCHS, seed=0)
        state = res.pop("state")
        res.pop("examples_per_s")
        resumed = res.pop("resumed")
        return {"weights": {"best": state, "last": _ckpt_weights(out, scenario)}, "result": _plain(res),
                "resumed": resumed}
    if scenario == "sar_ssl_downstream":
        from audiopipe.models.mc_conformer import MCConformer
        from audiopipe.training.sar_ssl import (
            run_downstream,
            select_rooms,
            shard_room_ids,
        )

        torch.manual_seed(0)
        pretrained = MCConformer(**MC_CONFORMER).state_dict()
        train = [Path(inputs["sar_train"])]
        rows, _ = select_rooms(shard_room_ids(train), 4, 0, 3)
        res = run_downstream(rows, train, [Path(inputs["sar_val"])], [Path(inputs["sar_test"])], out,
                             model=MC_CONFORMER, task="TDOA", mode="finetune", pretrained=pretrained, batch_size=4,
                             lr=1e-3, max_epochs=5, patience=1, smooth_alpha=0.6, n_decays=1, n_average=2, seed=0)
        res.pop("examples_per_s")
        resumed = res.pop("resumed")
        weights = {p.name: _state(p) for p in sorted((out / "weights").glob("epoch=*.pt"))}
        return {"weights": {"last": _ckpt_weights(out, scenario), **weights}, "result": _plain(res),
                "resumed": resumed}
    if scenario in ("transcoder_teacher", "transcoder_cnn"):
        # the teacher and setting stages' training: seed, build the module, fit (recipes/transcoder.py)
        from audiopipe.features.clips import load_clip_features
        from audiopipe.training.transcoder import (
            ClassifierModule,
            TranscoderModule,
            fit,
            loader,
            seed_all,
        )

        data = load_clip_features(Path(inputs["clips"]), "train")
        seed = 11
        if scenario == "transcoder_teacher":
            seed_all(seed)
            module = ClassifierModule("PANN", len(data["classes"]), 4, 3e-3)
            arrays = (data["mel_PANN"], data["labels"])
        else:
            seed_all(seed)
            module = TranscoderModule("cnn_pinv", "PANN", "mel", {"n_layers": 2, "channels": 2, "kernel": [5, 3]}, 1e-3)
            arrays = (data["third_octave"], data["mel_PANN"])
        res = fit(module, loader(*arrays, batch_size=8, shuffle=True, seed=seed), out / "checkpoints", EPOCHS, seed)
        return {"weights": {"module": module.state_dict(), "last": _ckpt_weights(out, scenario)},
                "result": {"history": res.history, "epochs": res.epochs}, "resumed": res.resumed}
    if scenario == "strf_sad":
        # the setting stage's speech-activity training (recipes/strf.py)
        import h5py

        from audiopipe.training.strf import SADModule
        from audiopipe.training.transcoder import fit, loader, seed_all

        with h5py.File(inputs["sad"], "r") as f:
            x, y = f["x"][()], f["y"][()]
        seed = 5
        seed_all(seed)
        module = SADModule("strf", 2, [9, 9], 8, "centred", 3e-3, seed)
        res = fit(module, loader(x, y, batch_size=4, shuffle=True, seed=seed), out / "checkpoints", EPOCHS, seed)
        return {"weights": {"module": module.state_dict(), "last": _ckpt_weights(out, scenario)},
                "result": {"history": res.history, "epochs": res.epochs}, "resumed": res.resumed}
    raise ValueError(f"unknown scenario {scenario!r}")


def main(argv: list[str]) -> None:
    scenario, inputs, out = argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")  # as the CLI
    if os.environ.get("AUDIOPIPE_TEST_PAUSE"):
        install_pause(os.environ["AUDIOPIPE_TEST_PAUSE"], os.environ["AUDIOPIPE_TEST_MARKER"])
    outcome = run(scenario, json.loads(Path(inputs).read_text()), Path(out))
    tmp = Path(out) / "outcome.pt.tmp"
    torch.save(outcome, tmp)
    os.replace(tmp, Path(out) / "outcome.pt")


if __name__ == "__main__":
    main(sys.argv[1:])
