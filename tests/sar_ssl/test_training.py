"""SAR-SSL training: room selection, stopping rule, pre-training and downstream with resume."""

from __future__ import annotations

import json
from types import SimpleNamespace

import h5py
import pytest
import torch

from audiopipe.training.sar_ssl import (
    FeatureShards,
    SmoothedEarlyStopping,
    cosine_factor,
    leave_one_room_out,
    run_downstream,
    run_pretraining,
    select_rooms,
    shard_room_ids,
)

from .conftest import TINY


def test_select_rooms_is_deterministic_and_capped():
    ex = [(0, i, room) for i, room in enumerate([5, 5, 5, 7, 7, 9, 9, 9, 9, 11])]
    rows, rooms = select_rooms(ex, 2, trial=0, examples_per_room=2)
    assert len(rooms) == 2 and rooms == sorted(rooms)
    assert select_rooms(ex, 2, 0, 2) == (rows, rooms)
    assert len(rows) == sum(min(2, sum(e[2] == r for e in ex)) for r in rooms)
    assert {ex[r][2] for _, r in rows} == set(rooms)
    trials = {tuple(select_rooms(ex, 2, t, 2)[1]) for t in range(8)}
    assert len(trials) > 1  # trials draw different room sets
    with pytest.raises(ValueError, match="n_rooms=5"):
        select_rooms(ex, 5, 0, 2)


def test_leave_one_room_out_partitions_rooms():
    ex = [(0, i, room) for i, room in enumerate([3, 3, 4, 4, 5, 6, 6, 8])]
    seen_test = set()
    for fold in range(5):
        rows, rooms = leave_one_room_out(ex, fold, seed=1)
        by = {k: {ex[r][2] for _, r in v} for k, v in rows.items()}
        assert by["test"] == {rooms["test_room"]} and by["val"] == {rooms["val_room"]}
        assert by["train"] == set(rooms["train_rooms"]) and len(by["train"]) == 3
        assert sum(len(v) for v in rows.values()) == len(ex)
        seen_test.add(rooms["test_room"])
        assert leave_one_room_out(ex, fold, seed=1) == (rows, rooms)
    assert seen_test == {3, 4, 5, 6, 8}
    with pytest.raises(ValueError, match="fold=5"):
        leave_one_room_out(ex, 5)
    with pytest.raises(ValueError, match=">= 3 rooms"):
        leave_one_room_out(ex[:4], 0)


def test_cosine_schedule():
    assert cosine_factor(0, 30) == 1.0 and abs(cosine_factor(29, 30)) < 1e-12
    assert abs(cosine_factor(1, 3) - 0.5) < 1e-12 and cosine_factor(0, 1) == 1.0


class _FakeModule:
    def __init__(self):
        self.w = torch.zeros(2)

    def state_dict(self):
        return {"w": self.w.clone(), "n": torch.tensor(3)}


def test_stopping_rule_decays_then_stops_and_averages(tmp_path):
    """alpha=0 (no smoothing), patience 2, one decay: losses 3,2,1,2,2,2,2 -> best epoch 2,
    lr / 10 after epoch 4, stop after epoch 6; average of epochs 1..2."""
    cb = SmoothedEarlyStopping(tmp_path / "w", alpha=0.0, patience=2, n_decays=1, n_average=2)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    mod = _FakeModule()
    trainer = SimpleNamespace(sanity_checking=False, optimizers=[opt], should_stop=False,
                              callback_metrics={}, current_epoch=0)
    stopped_at = None
    for epoch, loss in enumerate([3, 2, 1, 2, 2, 2, 2, 2]):
        trainer.current_epoch = epoch
        trainer.callback_metrics = {"val_loss": torch.tensor(float(loss))}
        mod.w = torch.full((2,), float(epoch))
        cb.on_validation_epoch_end(trainer, mod)
        if epoch == 4:
            assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
        if trainer.should_stop:
            stopped_at = epoch
            break
    assert stopped_at == 6 and cb.best_epoch == 2 and cb.best_window() == [1, 2]
    avg = cb.averaged_state()
    torch.testing.assert_close(avg["w"], torch.full((2,), 1.5))
    assert avg["n"] == 3
    kept = sorted(int(p.stem.split("=")[1]) for p in (tmp_path / "w").glob("*.pt"))
    assert kept == [1, 2, 5, 6]
    # restored state keeps the stop decision
    cb2 = SmoothedEarlyStopping(tmp_path / "w", alpha=0.0, patience=2)
    cb2.load_state_dict(cb.state_dict())
    t2 = SimpleNamespace(should_stop=False)
    cb2.on_train_start(t2, mod)
    assert t2.should_stop


def test_smoothing_matches_reference_formula(tmp_path):
    cb = SmoothedEarlyStopping(tmp_path, alpha=0.6, patience=100)
    trainer = SimpleNamespace(sanity_checking=False, optimizers=[], should_stop=False,
                              callback_metrics={}, current_epoch=0)
    s = None
    for e, v in enumerate([4.0, 1.0, 2.0]):
        trainer.current_epoch = e
        trainer.callback_metrics = {"val_loss": torch.tensor(v)}
        cb.on_validation_epoch_end(trainer, _FakeModule())
        s = v if s is None else 0.6 * s + 0.4 * v
        assert cb.smooth == pytest.approx(s)


@pytest.mark.slow
def test_pretraining_learns_and_resumes(feature_shards, tmp_path):
    fs = feature_shards
    model = dict(TINY)
    out = tmp_path / "pre"
    r1 = run_pretraining([fs["pretrain"]], [fs["val"]], out, model=model, batch_size=6,
                         lr=3e-3, epochs=2, seed=0)
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert len(r1["examples_per_s"]) == 2
    hist = [h["val_loss"] for h in r1["history"] if "val_loss" in h and h["val_loss"] == h["val_loss"]]
    assert len(hist) == 2
    # untrained network's masked-reconstruction loss on the same validation masks is higher
    from audiopipe.training.sar_ssl import PretrainModule
    torch.manual_seed(0)
    fresh = PretrainModule(model, seed=0).eval()
    ds = FeatureShards([fs["val"]])
    x = torch.stack([ds[i] for i in range(min(6, len(ds)))])
    with torch.no_grad():
        fm, ch = fresh._masks(x, "val", 0)
        from audiopipe.models.mc_conformer import MCConformer, reconstruction_loss
        l0 = float(reconstruction_loss(fresh.net(x, fm, ch), x, fm, ch))
        trained = MCConformer(**model).eval()
        trained.load_state_dict(r1["state"])
        l1 = float(reconstruction_loss(trained(x, fm, ch), x, fm, ch))
    assert l1 < l0
    # rerun with one more epoch: resumes from last.ckpt and trains only the new epoch
    r2 = run_pretraining([fs["pretrain"]], [fs["val"]], out, model=model, batch_size=6,
                         lr=3e-3, epochs=3, seed=0)
    assert len(r2["examples_per_s"]) == 1


@pytest.mark.slow
def test_downstream_modes_and_resume(feature_shards, tmp_path):
    fs = feature_shards
    model = dict(TINY)
    pre = run_pretraining([fs["pretrain"]], [fs["val"]], tmp_path / "pre", model=model,
                          batch_size=6, epochs=1, seed=0)["state"]
    rows, rooms = select_rooms(shard_room_ids([fs["train"]]), 4, 0, 3)
    kw = dict(model=model, task="TDOA", batch_size=4, max_epochs=3, patience=1, n_average=2)
    res = {}
    for mode in ("finetune", "lineareval", "scratch"):
        res[mode] = run_downstream(rows, [fs["train"]], [fs["val"]], [fs["test"]],
                                   tmp_path / mode, mode=mode,
                                   pretrained=None if mode == "scratch" else pre, **kw)
        assert res[mode]["n_train"] == 12 and res[mode]["unit"] == "samples"
        assert res[mode]["mae"] > 0 and res[mode]["best_epoch"] in res[mode]["averaged_epochs"]
    assert res["lineareval"]["n_trainable"] == 3 * TINY["d_spatial"] + 1
    assert res["finetune"]["n_trainable"] > res["lineareval"]["n_trainable"]
    with h5py.File(fs["test"]) as f:
        assert f["labels/tdoa_samples"].shape[0] == res["scratch"]["n_test"]
    again = run_downstream(rows, [fs["train"]], [fs["val"]], [fs["test"]],
                           tmp_path / "finetune", mode="finetune", pretrained=pre, **kw)
    assert again["examples_per_s"] == []  # nothing retrained
    assert again["mae"] == pytest.approx(res["finetune"]["mae"], rel=1e-5)
    json.dumps(again)


@pytest.mark.slow
def test_lineareval_leaves_the_encoder_untouched(feature_shards):
    """Frozen means frozen: weights AND BatchNorm statistics of the encoder do not move."""
    import lightning as L

    from audiopipe.models.mc_conformer import MCConformer
    from audiopipe.training.sar_ssl import DownstreamModule, _loader

    torch.manual_seed(0)
    pre = MCConformer(**TINY).state_dict()
    m = DownstreamModule(TINY, "DRR", "lineareval", pretrained=pre)
    head0 = [p.clone() for p in m.net.head.parameters()]
    t = L.Trainer(max_epochs=2, logger=False, enable_checkpointing=False,
                  enable_progress_bar=False, enable_model_summary=False)
    t.fit(m, _loader(FeatureShards([feature_shards["train"]], "DRR"), 8, True, 0),
          _loader(FeatureShards([feature_shards["val"]], "DRR"), 16, False, 0))
    sd = m.net.spatial_encoder.state_dict()
    assert all(torch.equal(v, pre["spatial_encoder." + k]) for k, v in sd.items())
    assert any(not torch.equal(a, b) for a, b in zip(head0, m.net.head.parameters()))
