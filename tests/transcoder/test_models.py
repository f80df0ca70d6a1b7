"""Transcoders and classifiers: PINV reconstructs Mel of real audio; shapes; weight loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiopipe.features import mel as melmod
from audiopipe.features.third_octave import third_octave_levels
from audiopipe.io import read_audio
from audiopipe.models.classifiers import Cnn14, YAMNetLike, adapt_state_dict, build_classifier
from audiopipe.models.transcoder import CNNTranscoder, PinvTranscoder, build_transcoder

TAU = "urban/tau2020_mobile/street_pedestrian-paris-152-4607-a.wav"


@pytest.fixture(scope="module")
def clip(fixtures_dir):
    x, sr = read_audio(fixtures_dir / TAU)
    return melmod.resample(x[0], sr, 32000).astype(np.float64)


def test_pinv_approximates_true_pann_mel(clip):
    segs = np.stack([clip[i * 32000:(i + 1) * 32000] for i in range(4)])
    tho = third_octave_levels(segs).float()
    assert tho.shape == (4, 29, 8)
    true = melmod.log_mel(segs, melmod.PANN).float()
    est = PinvTranscoder(melmod.PANN)(tho)
    assert est.shape == true.shape == (4, 64, 101)
    err = (est - true)[:, 4:60].abs().mean().item()
    # PINV recovers the spectral envelope: mean error of a few dB where the bands are resolved,
    # far below the spread of the true Mel levels themselves
    spread = (true[:, 4:60] - true[:, 4:60].mean()).abs().mean().item()
    assert err < 6.0 and err < 0.5 * spread


def test_cnn_transcoder_residual_and_shapes(clip):
    seg = torch.from_numpy(clip[:32000])[None]
    tho = third_octave_levels(seg).float()
    torch.manual_seed(0)
    cnn = CNNTranscoder(melmod.YAMNET, n_layers=3, channels=4)
    y = cnn(tho)
    assert y.shape == (1, 64, 96)
    for p in cnn.conv.parameters():
        torch.nn.init.zeros_(p)
    torch.testing.assert_close(cnn(tho), PinvTranscoder(melmod.YAMNET)(tho))
    with pytest.raises(ValueError, match="unknown transcoder"):
        build_transcoder("mlp", melmod.PANN)


def test_classifiers_shapes_and_loading(tmp_path):
    torch.manual_seed(0)
    pann = Cnn14(classes=5, width=4).eval()
    mel = torch.randn(2, 64, 101)
    assert pann(mel).shape == (2, 5)
    ckpt = {"model": {**pann.state_dict(), "spectrogram_extractor.stft.conv_real.weight": torch.zeros(3)}}
    torch.save(ckpt, tmp_path / "pann.pth")
    other = Cnn14(classes=5, width=4).eval()
    other.load_state_dict(adapt_state_dict(torch.load(tmp_path / "pann.pth")))
    torch.testing.assert_close(other(mel), pann(mel))
    # PANN's published names (layer count, key names) are the ones of the full model
    full_keys = set(Cnn14().state_dict())
    assert {"bn0.weight", "conv_block6.conv2.weight", "fc1.weight", "fc_audioset.bias"} <= full_keys
    yam = YAMNetLike(classes=3, width=0.125).eval()
    assert yam(torch.randn(2, 64, 96)).shape == (2, 3)
    with pytest.raises(ValueError, match="no classifier tensors"):
        adapt_state_dict({"model": {"x": 1}})
    with pytest.raises(ValueError, match="unknown classifier"):
        build_classifier("VGGish", 3, 1)
