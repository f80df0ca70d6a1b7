"""Log-Mel audio classifiers: PANN CNN14-style and YAMNet-style (MobileNet v1) networks.

* :class:`Cnn14` follows ``qiuqiangkong/audioset_tagging_cnn`` ``pytorch/models.py`` ``Cnn14``
  (Kong et al., "PANNs", TASLP 2020, Table 1): batch norm over Mel bins, six blocks of two 3x3
  conv + BN + ReLU with 2x2 average pooling (64...2048 channels), mean over frequency, max +
  mean over time, FC-2048, FC-classes. Parameter names match the published checkpoints
  (``Cnn14_mAP=0.431.pth``, key ``"model"``), so :func:`adapt_state_dict` + ``load_state_dict``
  load them; ``width`` scales the channel counts for small demo teachers.
* :class:`YAMNetLike` follows the YAMNet architecture (``tensorflow/models``
  ``research/audioset/yamnet/yamnet.py``): 3x3 stride-2 conv then 13 depthwise-separable layers
  (MobileNet v1), global average pooling, FC-classes. The published weights are TensorFlow; a
  state dict converted to this module's parameter names loads with :func:`adapt_state_dict`.

Both take log-Mel ``(batch, n_mels, frames)`` and return **logits** ``(batch, classes)``
(the seed's sigmoid outputs are ``torch.sigmoid`` of these). Pure modules, no I/O.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class _ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: tuple[int, int]) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, pool)


class Cnn14(nn.Module):
    """PANN CNN14 on log-Mel ``(batch, n_mels, frames)`` -> logits ``(batch, classes)``.

    Parameters
    ----------
    n_mels : int
        Mel bands (64).
    classes : int
        Output classes (527 for AudioSet).
    width : int
        Channels of the first block (64 in CNN14); block ``k`` has ``width * 2 ** k``.
    """

    def __init__(self, n_mels: int = 64, classes: int = 527, width: int = 64):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(n_mels)
        ch = [1] + [width * 2 ** k for k in range(6)]
        for k in range(6):
            setattr(self, f"conv_block{k + 1}", _ConvBlock(ch[k], ch[k + 1]))
        self.fc1 = nn.Linear(ch[-1], ch[-1])
        self.fc_audioset = nn.Linear(ch[-1], classes)

    def embedding(self, mel: torch.Tensor) -> torch.Tensor:
        """2048-dim (``32 * width``) clip embedding of log-Mel ``(batch, n_mels, frames)``."""
        x = mel.transpose(1, 2).unsqueeze(1)  # (batch, 1, frames, mels)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        for k in range(6):
            pool = (2, 2) if k < 5 else (1, 1)
            x = F.dropout(getattr(self, f"conv_block{k + 1}")(x, pool), 0.2, self.training)
        x = x.mean(dim=3)
        x = x.max(dim=2).values + x.mean(dim=2)
        x = F.dropout(x, 0.5, self.training)
        return F.dropout(F.relu(self.fc1(x)), 0.5, self.training)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, classes)`` of log-Mel ``(batch, n_mels, frames)``."""
        return self.fc_audioset(self.embedding(mel))


#: YAMNet layer plan: (stride, output channels) of the 13 depthwise-separable layers.
_YAMNET_LAYERS = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512),
                  (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024)]


class _SepConv(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, stride, padding=1, groups=cin, bias=False)
        self.bn_dw = nn.BatchNorm2d(cin, eps=1e-4)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn_pw = nn.BatchNorm2d(cout, eps=1e-4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn_dw(self.depthwise(x)))
        return F.relu(self.bn_pw(self.pointwise(x)))


class YAMNetLike(nn.Module):
    """YAMNet (MobileNet v1) on log-Mel ``(batch, n_mels, frames)`` -> logits ``(batch, classes)``.

    Parameters
    ----------
    classes : int
        Output classes (521 for YAMNet).
    width : float
        Channel multiplier (1.0 = YAMNet: 32 ... 1024 channels).
    """

    def __init__(self, classes: int = 521, width: float = 1.0):
        super().__init__()

        def c(n: int) -> int:
            return max(4, int(round(n * width)))

        self.conv0 = nn.Conv2d(1, c(32), 3, 2, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(c(32), eps=1e-4)
        layers, cin = [], c(32)
        for stride, cout in _YAMNET_LAYERS:
            layers.append(_SepConv(cin, c(cout), stride))
            cin = c(cout)
        self.layers = nn.Sequential(*layers)
        self.logits = nn.Linear(cin, classes)

    def embedding(self, mel: torch.Tensor) -> torch.Tensor:
        """Clip embedding ``(batch, 1024 * width)``."""
        x = mel.transpose(1, 2).unsqueeze(1)  # (batch, 1, frames, mels), as YAMNet's patches
        x = F.relu(self.bn0(self.conv0(x)))
        return self.layers(x).mean(dim=(2, 3))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, classes)``."""
        return self.logits(self.embedding(mel))


def build_classifier(kind: str, classes: int, width: float, n_mels: int = 64) -> nn.Module:
    """``"PANN"`` -> :class:`Cnn14` (``width`` = first-block channels), ``"YAMNet"`` ->
    :class:`YAMNetLike` (``width`` = multiplier).

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    if kind == "PANN":
        return Cnn14(n_mels=n_mels, classes=classes, width=int(width))
    if kind == "YAMNet":
        return YAMNetLike(classes=classes, width=float(width))
    raise ValueError(f"unknown classifier {kind!r}; choose 'PANN' or 'YAMNet'")


#: checkpoint keys of PANN's waveform front end, not part of the log-Mel classifier
_FRONT_END_PREFIXES = ("spectrogram_extractor.", "logmel_extractor.")


def adapt_state_dict(checkpoint: dict) -> dict:
    """Extract a classifier state dict from a checkpoint object.

    Accepts a raw state dict, a PANN checkpoint (``{"model": ...}``) or a Lightning checkpoint
    (``{"state_dict": ...}``, ``classifier.`` prefixes stripped); drops PANN's waveform
    front-end buffers (``spectrogram_extractor.*``, ``logmel_extractor.*``).

    Raises
    ------
    ValueError
        If no tensor entries are found.
    """
    sd = checkpoint
    for key in ("model", "state_dict"):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    out = {}
    for k, v in sd.items():
        if not torch.is_tensor(v) or k.startswith(_FRONT_END_PREFIXES):
            continue
        out[k.removeprefix("classifier.")] = v
    if not out:
        raise ValueError("checkpoint holds no classifier tensors (expected a state dict, 'model' or 'state_dict')")
    return out
