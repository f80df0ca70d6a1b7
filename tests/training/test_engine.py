"""The training engine in-process: epoch log lines, checkpoints, atomic writes, RNG states,
resume count, history (the SIGKILL tests are in test_resume.py)."""

from __future__ import annotations

import logging
import random
import re

import lightning as L
import numpy as np
import pytest
import torch

from audiopipe.training import engine

from .toy import ToyModule, toy_loaders

EPOCH_LINE = re.compile(r"^epoch (\d+)/(\d+): train_loss=\S+ val_loss=\S+ \(\d+\.\d s\)$")


class Interrupt(Exception):
    """Stands for the kill in the in-process tests."""


class InterruptAt(L.Callback):
    def __init__(self, epoch: int, batch: int):
        self.at = (epoch, batch)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if (trainer.current_epoch, batch_idx) == self.at:
            raise Interrupt


def _fit(fixtures, ckpt_dir, *, epochs=3, generator=False, callbacks=(), **kw) -> engine.FitResult:
    train, val = toy_loaders(fixtures, generator=generator)
    return engine.fit(ToyModule, train, val, checkpoint_dir=ckpt_dir, max_epochs=epochs, seed=3,
                      monitor="val_loss", callbacks=callbacks, **kw)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].numpy().tobytes() == sb[k].numpy().tobytes() for k in sa)


def test_one_log_line_per_epoch_and_checkpoints(fixtures_dir, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="audiopipe.train"):
        res = _fit(fixtures_dir, tmp_path / "checkpoints", epochs=3)
    lines = [r.getMessage() for r in caplog.records if r.name == "audiopipe.train"]
    epochs = [EPOCH_LINE.match(m) for m in lines if m.startswith("epoch ")]
    assert [(m.group(1), m.group(2)) for m in epochs] == [("1", "3"), ("2", "3"), ("3", "3")], lines
    assert not any("resum" in m for m in lines)
    # the line shows the epoch's metrics, the same values as the history
    h = res.history[1]
    assert f"train_loss={h['train_loss']:.4g} val_loss={h['val_loss']:.4g}" in epochs[1].group(0)
    assert [h["epoch"] for h in res.history] == [0, 1, 2]
    assert (res.epochs, res.epochs_run, res.resumed, len(res.epoch_seconds)) == (3, 3, 0, 3)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert res.last_checkpoint == tmp_path / "checkpoints/last.ckpt"
    # best.ckpt is the epoch with the lowest validation loss
    vals = [h["val_loss"] for h in res.history]
    assert res.best_epoch == int(np.argmin(vals)) and res.best_score == min(vals)
    assert torch.load(res.best_checkpoint, weights_only=True)["epoch"] == res.best_epoch
    # the CSV logger writes the epoch metrics beside the checkpoints
    csv = (tmp_path / "logs/version_0/metrics.csv").read_text()
    assert "val_loss" in csv.splitlines()[0]


@pytest.mark.parametrize("generator", [False, True], ids=["global-shuffle", "loader-generator"])
def test_interrupted_twice_ends_like_an_uninterrupted_run(fixtures_dir, tmp_path, generator, caplog):
    clean = _fit(fixtures_dir, tmp_path / "clean/checkpoints", generator=generator)
    d = tmp_path / "interrupted/checkpoints"
    for at in ((1, 2), (2, 0)):
        with pytest.raises(Interrupt):
            _fit(fixtures_dir, d, generator=generator, callbacks=[InterruptAt(*at)])
    with caplog.at_level(logging.INFO, logger="audiopipe.train"):
        res = _fit(fixtures_dir, d, generator=generator)
    assert _same_weights(res.module, clean.module)
    assert res.history == clean.history and res.best_epoch == clean.best_epoch
    assert (res.resumed, res.epochs, res.epochs_run) == (2, 3, 1)
    assert f"resuming from {d / 'last.ckpt'}" in caplog.text and "resume 2" in caplog.text


def test_resume_without_the_random_states_is_not_exact(fixtures_dir, tmp_path, monkeypatch):
    """The control: the same interruption with the RNG restore switched off changes the weights
    (dropout masks and shuffling draw from the generators the checkpoint restores)."""
    clean = _fit(fixtures_dir, tmp_path / "clean/checkpoints")
    monkeypatch.setattr(engine, "set_rng_state", lambda state, generators=(): None)
    d = tmp_path / "interrupted/checkpoints"
    with pytest.raises(Interrupt):
        _fit(fixtures_dir, d, callbacks=[InterruptAt(1, 0)])
    assert not _same_weights(_fit(fixtures_dir, d).module, clean.module)


def test_finished_run_returns_at_once_and_more_epochs_train_on(fixtures_dir, tmp_path):
    d = tmp_path / "checkpoints"
    first = _fit(fixtures_dir, d, epochs=2)
    after_first = torch.get_rng_state()
    again = _fit(fixtures_dir, d, epochs=2)
    assert (again.epochs_run, again.resumed, again.epochs) == (0, 0, 2)
    assert torch.equal(torch.get_rng_state(), after_first)  # the random states the finished run left
    assert _same_weights(again.module, first.module) and again.history == first.history
    more = _fit(fixtures_dir, d, epochs=3)
    assert (more.epochs_run, more.resumed, more.epochs) == (1, 1, 3)
    assert more.history[:2] == first.history


def test_keep_epoch_checkpoints_and_no_monitor(fixtures_dir, tmp_path):
    train, _ = toy_loaders(fixtures_dir)
    res = engine.fit(ToyModule, train, checkpoint_dir=tmp_path / "ck", max_epochs=2, seed=0,
                     keep_epoch_checkpoints=True, log_dir=tmp_path / "csv")
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["epoch000.ckpt", "epoch001.ckpt", "last.ckpt"]
    assert res.best_checkpoint is None and res.best_epoch is None
    assert set(res.history[0]) == {"epoch", "train_loss"}
    assert (tmp_path / "csv/version_0/metrics.csv").is_file()


def test_unlogged_monitor_is_an_error(fixtures_dir, tmp_path):
    train, val = toy_loaders(fixtures_dir)
    with pytest.raises(KeyError, match="'val_mae' was not logged"):
        engine.fit(ToyModule, train, val, checkpoint_dir=tmp_path, max_epochs=1, seed=0, monitor="val_mae")


def test_changed_data_loaders_do_not_resume_silently(fixtures_dir, tmp_path):
    d = tmp_path / "checkpoints"
    _fit(fixtures_dir, d, epochs=1)  # shuffles from the global generator
    with pytest.raises(ValueError, match="0 data-loader generator states"):
        _fit(fixtures_dir, d, epochs=2, generator=True)  # a loader generator the checkpoint lacks


def test_rng_state_survives_a_weights_only_checkpoint(tmp_path):
    g = torch.Generator().manual_seed(5)
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    torch.save({"rng": engine.rng_state([g])}, tmp_path / "s.pt")
    draw = (random.random(), np.random.rand(), torch.rand(2), torch.rand(2, generator=g), np.random.randn())
    engine.set_rng_state(torch.load(tmp_path / "s.pt", weights_only=True)["rng"], [g])
    again = (random.random(), np.random.rand(), torch.rand(2), torch.rand(2, generator=g), np.random.randn())
    assert draw[:2] == again[:2] and draw[4] == again[4]
    assert torch.equal(draw[2], again[2]) and torch.equal(draw[3], again[3])


def test_loader_generators_are_found_once(fixtures_dir):
    train, val = toy_loaders(fixtures_dir, generator=True)
    gens = engine.loader_generators([train, val])
    assert len(gens) == 1 and gens[0] is train.generator
    assert engine.loader_generators([*toy_loaders(fixtures_dir), None]) == []


def test_atomic_checkpoint_write_keeps_the_previous_file(tmp_path, monkeypatch):
    io = engine.AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"epoch": 0, "w": torch.ones(3)}, path)
    real_save = torch.save

    def failing_save(obj, f, *a, **k):
        f.write(b"partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        io.save_checkpoint({"epoch": 1, "w": torch.zeros(3)}, path)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.load(path, weights_only=True)["epoch"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
