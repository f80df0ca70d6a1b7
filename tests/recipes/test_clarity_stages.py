"""Clarity recipe pieces: NAL-R against pyclarity's reference, seeding, settings, enhancement."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from audiopipe.recipes import clarity
from tests.conftest import REPO


def test_nalr_matches_pyclarity_reference_value():
    """pyclarity tests/enhancer/test_nalr.py: sum |fir| = 28.846583644263408 for this audiogram."""
    from clarity.utils.audiogram import Audiogram

    params = yaml.safe_load((REPO / "params.yaml").read_text())["clarity"]["nalr"]
    audiogram = Audiogram(levels=np.array([45, 45, 35, 45, 60, 65]),
                          frequencies=np.array([250, 500, 1000, 2000, 4000, 6000]))
    fir = clarity.nalr_filter(audiogram, params)
    assert fir.shape == (params["nfir"] + 1,)
    assert np.abs(fir).sum() == pytest.approx(28.846583644263408, rel=1e-7)


def test_params_hold_official_icassp2023_baseline_values():
    cl = yaml.safe_load((REPO / "params.yaml").read_text())["clarity"]
    assert cl["nalr"] == {"nfir": 220, "sampling_rate": 44100}
    assert cl["compressor"] == {"threshold": 0.35, "attenuation": 0.1, "attack": 50, "release": 1000,
                                "rms_buffer_size": 0.064}
    assert cl["soft_clip"] is True
    assert cl["model"] == {"N": 128, "L": 40, "B": 128, "H": 256, "P": 3, "X": 7, "R": 2,
                           "norm": "gLN", "causal": False}


def test_scene_seed_is_md5_of_scene_id():
    clarity.set_scene_seed("S06001")
    a = np.random.rand(3)
    clarity.set_scene_seed("S06001")
    assert np.array_equal(a, np.random.rand(3))
    # value from the official recipe: int(md5("S06001"), 16) % 10**8
    import hashlib

    np.random.seed(int(hashlib.md5(b"S06001").hexdigest(), 16) % 10**8)
    assert np.array_equal(a, np.random.rand(3))
    clarity.set_scene_seed("S06002")
    assert not np.array_equal(a, np.random.rand(3))


def test_amplify_per_ear_uses_each_audiogram(fixtures_dir):
    from clarity.utils.audiogram import Listener

    from audiopipe.io import read_audio

    listeners = Listener.load_listener_dict(fixtures_dir / "clarity/clarity_data/metadata/listeners.json")
    x, fs = read_audio(fixtures_dir / "clarity/clarity_data/dev/scenes/S06001_target_CH1.wav")
    x = x[:, : fs]  # 1 s
    cl = yaml.safe_load((REPO / "params.yaml").read_text())["clarity"]
    out = clarity.amplify(x.astype(np.float64), listeners["L0064"], cl["nalr"], cl["compressor"])
    assert out.shape[0] == 2 and out.shape[1] >= x.shape[1]
    assert np.abs(out).max() < 1.0  # tanh soft clip
    # deterministic
    again = clarity.amplify(x.astype(np.float64), listeners["L0064"], cl["nalr"], cl["compressor"])
    assert np.array_equal(out, again)
    # another right-ear audiogram changes the right channel only
    other = next(v for k, v in listeners.items()
                 if not np.array_equal(v.audiogram_right.levels, listeners["L0064"].audiogram_right.levels))
    mixed = Listener(audiogram_left=listeners["L0064"].audiogram_left, audiogram_right=other.audiogram_right)
    out2 = clarity.amplify(x.astype(np.float64), mixed, cl["nalr"], cl["compressor"])
    assert np.array_equal(out[0], out2[0])
    assert not np.allclose(out[1], out2[1])


def test_plan_factors_override_model_and_train_keys():
    from audiopipe.pipeline.plans import Plan, Setting

    section = {"model": {"N": 128, "X": 7}, "train": {"lr": 1e-3}}
    out = clarity.RECIPE.setting_config(section, Setting("p", {"X": 4, "lr": 3e-3}))
    assert out["model"] == {"N": 128, "X": 4} and out["train"] == {"lr": 3e-3}
    assert section["model"]["X"] == 7  # the params are not modified
    with pytest.raises(KeyError, match="'depth'"):
        clarity.RECIPE.setting_config(section, Setting("p", {"depth": 3}))
    with pytest.raises(ValueError, match=r"clarity.plans.p.factors.depth: not a factor of clarity.*clarity.model"):
        clarity.RECIPE.check_plans(section, {"p": Plan("p", {"depth": [3]})})


def test_enhance_scene_keeps_shape_and_level():
    from audiopipe.models.conv_tasnet import ConvTasNet

    torch.manual_seed(0)
    net = ConvTasNet(2, 2, 2, N=16, L=8, B=16, H=32, P=3, X=2, R=1).eval()
    ck = {"sampling_rate": 16000, "target_slot": 1}
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((2, 44100 + 37)).astype(np.float32) * 0.1
    y = clarity.enhance_scene(net, ck, mix, 44100)
    assert y.shape == mix.shape and y.dtype == np.float32
    # least-squares gain: the residual is orthogonal to the estimate, per channel
    for c in range(2):
        assert abs(float(np.dot(mix[c] - y[c], y[c]))) < 1e-3 * float(np.dot(mix[c], mix[c]))


def test_conv_tasnet_shapes_and_causality():
    from audiopipe.models.conv_tasnet import ConvTasNet

    torch.manual_seed(0)
    net = ConvTasNet(2, 2, 2, N=16, L=8, B=16, H=32, P=3, X=3, R=1, norm="cLN", causal=True).eval()
    x = torch.randn(1, 2, 4003)
    y = net(x)
    assert y.shape == (1, 2, 2, 4003)
    # causal: changing the future leaves the past output unchanged
    x2 = x.clone()
    x2[..., 3000:] = torch.randn(1, 2, 1003)
    y2 = net(x2)
    assert torch.allclose(y[..., :2900], y2[..., :2900], atol=1e-5)
    assert not torch.allclose(y[..., 3100:], y2[..., 3100:])


def test_paper_size_parameter_count():
    """Conv-TasNet at 128/40/128/256/3/7/2 with stereo in and out: 1.48 M parameters."""
    from audiopipe.models.conv_tasnet import ConvTasNet

    net = ConvTasNet(2, 2, 2, N=128, L=40, B=128, H=256, P=3, X=7, R=2)
    n = sum(p.numel() for p in net.parameters())
    # encoder 2*128*40 + decoder 128*2*40 + bottleneck/blocks/mask head
    assert n == 1_482_397


@pytest.mark.parametrize("causal", [False, True])
def test_shifted_depthwise_equals_library_convolution(causal):
    from audiopipe.models.conv_tasnet import ConvBlock

    torch.manual_seed(0)
    block = ConvBlock(16, 32, 3, 4, "cLN" if causal else "gLN", causal)
    y = block.pre(torch.randn(2, 16, 300))
    if causal:
        y = torch.nn.functional.pad(y, (block.causal_pad, 0))
    assert torch.allclose(block.depthwise(y), block._depthwise(y), atol=1e-6)
