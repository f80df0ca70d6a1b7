"""MC-Conformer: paper parameter count, masking, pretext inputs and loss, relative attention."""

from __future__ import annotations

import math

import pytest
import torch

from audiopipe.models.mc_conformer import (
    DownstreamRegressor,
    MCConformer,
    RelPositionSelfAttention,
    count_parameters,
    pretext_inputs,
    random_mask,
    reconstruction_loss,
    sinusoid_relative_positions,
)

from .conftest import TINY


def test_paper_configuration_has_17_5_million_parameters():
    """Reference ``get_nparams`` over the pre-training SARSSL: encoders + decoder = 17.5 M.

    17,534,224 follows from the reference layer sizes (code/model.py, code/common/Conformer.py):
    Conformer layer 24 d^2 + 62 d; CNN 74,632 + 1024 d; decoder 768x3072 + 3072x1024 MLP.
    """
    m = MCConformer()
    d_layer = lambda d: 24 * d * d + 62 * d  # noqa: E731
    cnn = lambda d: 74_632 + 1024 * d  # noqa: E731
    decoder = (768 * 3072 + 3072) + (3072 * 1024 + 1024)
    expected = 3 * d_layer(256) + cnn(256) + d_layer(512) + cnn(512) + decoder
    assert count_parameters(m) == expected == 17_534_224
    assert round(count_parameters(m) / 1e6, 1) == 17.5
    enc = count_parameters(m.spatial_encoder) + count_parameters(m.spectral_encoder)
    assert enc == 12_025_104
    assert count_parameters(MCConformer(decoder=False)) == enc


def test_random_mask_half_frames_one_channel():
    g = torch.Generator().manual_seed(3)
    fm, ch = random_mask(50, 33, 2, generator=g)
    assert fm.shape == (50, 33) and (fm.sum(1) == 16).all()
    assert set(ch.tolist()) == {0, 1}
    fm2, ch2 = random_mask(50, 33, 2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(fm, fm2) and torch.equal(ch, ch2)
    assert not torch.equal(fm[0], fm[1])


def test_pretext_inputs_hide_the_target():
    x = torch.randn(4, 2, 8, 10, 2)
    fm, ch = random_mask(4, 10, 2, generator=torch.Generator().manual_seed(0))
    spat, spec = pretext_inputs(x, fm, ch)
    for b in range(4):
        c, o = int(ch[b]), 1 - int(ch[b])
        m = fm[b]
        assert (spat[b][:, :, m] == 0).all() and torch.equal(spat[b][:, :, ~m], x[b][:, :, ~m])
        assert (spec[b, c][:, m] == 0).all()           # the target never reaches an encoder
        assert torch.equal(spec[b, o][:, m], x[b, o][:, m])  # other mic at masked frames
        assert torch.equal(spec[b, c][:, ~m], x[b, c][:, ~m])  # masked mic elsewhere
        assert (spec[b, o][:, ~m] == 0).all()


def test_prediction_does_not_depend_on_the_target():
    torch.manual_seed(0)
    m = MCConformer(n_freq=8, **TINY).eval()
    x = torch.randn(3, 2, 8, 12, 2)
    fm, ch = random_mask(3, 12, 2, generator=torch.Generator().manual_seed(1))
    y = m(x, fm, ch)
    x2 = x.clone()
    for b in range(3):
        x2[b, ch[b]][:, fm[b]] += 10 * torch.randn_like(x2[b, ch[b]][:, fm[b]])
    torch.testing.assert_close(m(x2, fm, ch), y)
    # ...while the loss does see it
    assert reconstruction_loss(y, x2, fm, ch) > reconstruction_loss(y, x, fm, ch)


def test_reconstruction_loss_is_mse_on_masked_channel_frames():
    x = torch.randn(2, 2, 4, 6, 2)
    pred = torch.randn_like(x)
    fm, ch = random_mask(2, 6, 2, generator=torch.Generator().manual_seed(5))
    manual = torch.cat([((pred[b, ch[b]] - x[b, ch[b]])[:, fm[b]] ** 2).flatten()
                        for b in range(2)]).mean()
    torch.testing.assert_close(reconstruction_loss(pred, x, fm, ch), manual)
    assert reconstruction_loss(x, x, fm, ch) == 0
    other = pred.clone()
    for b in range(2):
        other[b, 1 - ch[b]] = 0
        other[b, ch[b]][:, ~fm[b]] = 0
    torch.testing.assert_close(reconstruction_loss(other, x, fm, ch), manual)


def test_relative_attention_matches_explicit_formula():
    torch.manual_seed(0)
    att = RelPositionSelfAttention(8, n_heads=2, dropout=0.0).eval()
    x = torch.randn(1, 5, 8)
    t, h, dk = 5, 2, 4
    q = att.q(x).view(t, h, dk)
    k = att.k(x).view(t, h, dk)
    v = att.v(x).view(t, h, dk)
    r = att.pos(sinusoid_relative_positions(t, 8)).view(2 * t - 1, h, dk)  # distances t-1..-(t-1)
    out = torch.zeros(t, h, dk)
    for hh in range(h):
        s = torch.zeros(t, t)
        for i in range(t):
            for j in range(t):
                s[i, j] = ((q[i, hh] + att.u_bias[hh]) @ k[j, hh]
                           + (q[i, hh] + att.v_bias[hh]) @ r[(t - 1) - (i - j), hh]) / math.sqrt(dk)
        out[:, hh] = torch.softmax(s, -1) @ v[:, hh]
    torch.testing.assert_close(att(x)[0], att.out(out.reshape(t, 8)), rtol=1e-5, atol=1e-5)


def test_downstream_head_shapes_and_frozen_count():
    m = MCConformer(n_freq=8, **TINY, decoder=False)
    reg = DownstreamRegressor(m.spatial_encoder, m.d_spatial)
    assert reg(torch.randn(5, 2, 8, 7, 2)).shape == (5,)
    for p in reg.spatial_encoder.parameters():
        p.requires_grad_(False)
    d = m.d_spatial
    assert sum(p.numel() for p in reg.parameters() if p.requires_grad) == 2 * d + d + 1


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="divisible"):
        MCConformer(d_spatial=10, n_heads=4)
    with pytest.raises(ValueError, match="odd"):
        MCConformer(conv_kernel=4)
    with pytest.raises(RuntimeError, match="decoder"):
        m = MCConformer(n_freq=8, **TINY, decoder=False)
        m(torch.randn(1, 2, 8, 4, 2), *random_mask(1, 4))
