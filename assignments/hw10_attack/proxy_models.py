"""The HW10 proxy models: the course's stand-in for pytorchcv's CIFAR-10 model zoo.

    from proxy_models import get_model as ptcv_get_model
    model = ptcv_get_model('resnet8_cifar10', pretrained=True)    # weights from models/ next to this file

Every model takes a batch of *normalised* images, (B, 3, 32, 32) = (x / 255 - cifar_10_mean) / cifar_10_std,
and returns (B, 10) logits over the classes in `CLASSES` order (the sorted folder names of data/).
The weights were trained by the course on drawn images of the same kind as data/; models/README.md lists
each model's family, its training recipe and its accuracy on images it never saw. They are small (the
course's were resnet110 and friends) so that an attack runs in seconds on one CPU core.

Families (pytorchcv-style names; the number is the count of weight layers):

    resnet8_cifar10        ResNet: 3 stages x 1 basic block, 16-32-64 channels, global average pooling
    preresnet8_cifar10     the same with pre-activation blocks (BN-ReLU before each convolution)
    nin_cifar10            Network in Network: 3x3 convolutions followed by 1x1 "mlpconv" layers
    vgg6_cifar10           VGG: four conv-BN-ReLU-maxpool stages and two fully connected layers
    lowres_cnn_cifar10     a CNN that first halves the resolution (2x2 average pooling, 16x16 input)
    convmixer_cifar10      ConvMixer: 4x4 patches embedded by a strided convolution, depthwise mixing
    *_aug_cifar10          the same architecture trained with flips and small shifts
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
cifar_10_mean = (0.491, 0.482, 0.447)
cifar_10_std = (0.202, 0.199, 0.201)
WEIGHTS = Path(__file__).resolve().parent / "models"


def conv_bn_relu(cin, cout, k=3, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (nn.Identity() if cin == cout and stride == 1 else
                         nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = None if cin == cout and stride == 1 else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        h = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(h)
        return self.conv2(F.relu(self.bn2(self.conv1(h)))) + skip


class ResNet(nn.Module):
    """(B, 3, 32, 32) -> stages at 32, 16, 8 pixels -> global average pool -> (B, 10)."""

    def __init__(self, widths=(16, 32, 64), preact=False, num_classes=10):
        super().__init__()
        block = PreActBlock if preact else BasicBlock
        stem = [nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)]
        if not preact:
            stem += [nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]
        layers, cin = stem, widths[0]
        for k, w in enumerate(widths):
            layers.append(block(cin, w, 1 if k == 0 else 2))
            cin = w
        if preact:
            layers += [nn.BatchNorm2d(cin), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.output = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.output(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


class NIN(nn.Module):
    """Network in Network: each 3x3 convolution is followed by 1x1 convolutions; the last one gives
    the class maps, averaged over the image."""

    def __init__(self, width=32, num_classes=10):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            conv_bn_relu(3, w), conv_bn_relu(w, w, 1), nn.MaxPool2d(3, 2, 1),             # 32 -> 16
            conv_bn_relu(w, 2 * w), conv_bn_relu(2 * w, 2 * w, 1), nn.AvgPool2d(3, 2, 1),  # 16 -> 8
            conv_bn_relu(2 * w, 2 * w), conv_bn_relu(2 * w, 2 * w, 1), nn.Conv2d(2 * w, num_classes, 1))

    def forward(self, x):
        return F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)


class VGG(nn.Module):
    def __init__(self, cfg=(16, 'M', 32, 'M', 64, 'M', 64, 'M'), num_classes=10):
        super().__init__()
        layers, cin = [], 3
        for c in cfg:
            if c == 'M':
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(conv_bn_relu(cin, c))
                cin = c
        self.features = nn.Sequential(*layers)                                             # (B, 64, 2, 2)
        self.output = nn.Sequential(nn.Flatten(), nn.Linear(cin * 4, 64), nn.ReLU(inplace=True),
                                    nn.Linear(64, num_classes))

    def forward(self, x):
        return self.output(self.features(x))


class LowResCNN(nn.Module):
    """Sees the image at half resolution: 2x2 average pooling first, then a plain CNN on 16x16."""

    def __init__(self, width=32, num_classes=10):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.AvgPool2d(2), conv_bn_relu(3, w), conv_bn_relu(w, 2 * w), nn.MaxPool2d(2),  # 16 -> 8
            conv_bn_relu(2 * w, 2 * w), nn.MaxPool2d(2), conv_bn_relu(2 * w, 2 * w))        # 8 -> 4
        self.output = nn.Linear(2 * w, num_classes)

    def forward(self, x):
        return self.output(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


class MixerBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.depthwise = nn.Sequential(nn.Conv2d(dim, dim, 3, 1, 1, groups=dim), nn.GELU(), nn.BatchNorm2d(dim))
        self.pointwise = nn.Sequential(nn.Conv2d(dim, dim, 1), nn.GELU(), nn.BatchNorm2d(dim))

    def forward(self, x):
        return self.pointwise(x + self.depthwise(x))


class ConvMixer(nn.Module):
    """(B, 3, 32, 32) -> 8x8 grid of 4x4-patch embeddings -> depthwise/pointwise mixing -> (B, 10)."""

    def __init__(self, dim=64, depth=3, patch=4, num_classes=10):
        super().__init__()
        self.embed = nn.Sequential(nn.Conv2d(3, dim, patch, patch), nn.GELU(), nn.BatchNorm2d(dim))
        self.blocks = nn.Sequential(*[MixerBlock(dim) for _ in range(depth)])
        self.output = nn.Linear(dim, num_classes)

    def forward(self, x):
        return self.output(F.adaptive_avg_pool2d(self.blocks(self.embed(x)), 1).flatten(1))


FAMILIES = {
    "resnet8": lambda: ResNet(),
    "preresnet8": lambda: ResNet(preact=True),
    "nin": lambda: NIN(),
    "vgg6": lambda: VGG(),
    "lowres_cnn": lambda: LowResCNN(),
    "convmixer": lambda: ConvMixer(),
}


def family(name: str) -> str:
    """'convmixer_aug_cifar10' -> 'convmixer'."""
    base = name[:-len("_cifar10")] if name.endswith("_cifar10") else name
    return base[:-len("_aug")] if base.endswith("_aug") else base


def available() -> list[str]:
    """The models whose weights are in models/."""
    return sorted(p.stem for p in WEIGHTS.glob("*_cifar10.pt"))


def get_model(name: str, pretrained: bool = True, root: str | Path | None = None) -> nn.Module:
    """A proxy model by name, with the course's weights (pretrained=True) from `root` (default: models/
    next to this file), in eval mode. Unknown names list what is available."""
    if family(name) not in FAMILIES:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available()) or 'none (no models/ folder)'}")
    model = FAMILIES[family(name)]()
    if pretrained:
        path = Path(root or WEIGHTS) / f"{name}.pt"
        if not path.is_file():
            raise FileNotFoundError(f"no weights for {name!r} at {path}; available: {', '.join(available())}")
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()
