#!/usr/bin/env python3
"""Loads an ssdlt checkpoint of a CIFAR ResNet into a plain PyTorch module, strictly.

usage: checkpoint_load.py CHECKPOINT [REFERENCE]

CHECKPOINT  safetensors file written by ssdlt (metadata `architecture` = resnet<6n+2>[-w<width>],
            `in_channels`); the number of classes is read from `fc.weight`.
REFERENCE   optional safetensors file with `input` [N, C, H, W] and `logits` [N, classes]: the
            eval-mode output ssdlt computed for that input. PyTorch's output must match it to
            1e-4 (relative to the largest logit).

The module below has the state_dict names of torchvision / the He et al. CIFAR ResNets
(conv1, bn1, layer1..layer3 of BasicBlocks with option-A shortcuts, fc); no torchvision needed.
Exit status 0 when everything matched, 1 otherwise.
"""
import re
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file


class OptionA(nn.Module):
    """Subsample by 2 and pad the new channels with zeros on both sides (no parameters)."""

    def __init__(self, pad):
        super().__init__()
        self.pad = pad

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad), "constant", 0.0)


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = OptionA((c_out - c_in) // 2) if stride != 1 or c_in != c_out else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth, width, in_channels, classes):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        c_in = width
        for stage in range(3):
            c_out = width << stage
            blocks = []
            for b in range(n):
                blocks.append(BasicBlock(c_in, c_out, 2 if stage > 0 and b == 0 else 1))
                c_in = c_out
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(4 * width, classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.fc(F.adaptive_avg_pool2d(out, 1).flatten(1))


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1]
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
    arch = meta.get("architecture", "")
    m = re.fullmatch(r"resnet(\d+)(?:-w(\d+))?", arch)
    if not m:
        print(f"{path}: architecture `{arch}` is not a CIFAR ResNet", file=sys.stderr)
        return 1
    depth, width = int(m.group(1)), int(m.group(2) or 16)
    state = load_file(path)
    classes = state["fc.weight"].shape[0]
    in_channels = int(meta.get("in_channels", state["conv1.weight"].shape[1]))
    model = CifarResNet(depth, width, in_channels, classes)
    model.load_state_dict(state, strict=True)
    print(f"ok: {path} ({arch}, {in_channels} channels, {classes} classes, {len(state)} tensors) "
          f"loads with strict=True; ssdlt {meta.get('ssdlt_version', '?')}")
    if len(argv) == 3:
        ref = load_file(argv[2])
        model.eval()
        with torch.no_grad():
            got = model(ref["input"])
        want = ref["logits"]
        err = ((got - want).abs().max() / want.abs().max().clamp_min(1e-12)).item()
        if not err <= 1e-4:
            print(f"eval logits differ from ssdlt's: max relative error {err:.3e} > 1e-4", file=sys.stderr)
            return 1
        print(f"ok: eval logits match ssdlt's (max relative error {err:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
