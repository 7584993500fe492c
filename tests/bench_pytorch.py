#!/usr/bin/env python3
"""PyTorch CPU reference for `ssdlt bench`: the same CIFAR ResNet-32 (option-A shortcuts,
3x32x32, 10 classes), the same training step (forward, cross-entropy, backward, SGD with momentum
0.9 and weight decay 5e-4) at batch 128, and inference at batch 256 in eval mode, on as many
threads as the machine has cores. Prints images/s (JSON with --json). Every figure is the median
of calls timed one by one after warm-up calls, as `ssdlt bench` times its own."""

import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.stride, self.pad = stride, (c_out - c_in) // 2

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = x
        if self.stride != 1 or self.pad:
            short = F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + short)


class CifarResNet(nn.Module):
    def __init__(self, depth=32, in_channels=3, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, c = [], 16
        for i, width in enumerate([16, 32, 64]):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlock(c, width, 2 if (i > 0 and j == 0) else 1))
                c = width
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def median_seconds(op, calls):
    """Seconds one call of `op` takes: the median of `calls` calls timed one by one."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        op()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = CifarResNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    batch, infer_batch = (8, 8) if args.quick else (128, 256)
    steps = 1 if args.quick else 21
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    model.train()
    for _ in range(3):
        step()
    train = batch / median_seconds(step, steps)

    model.eval()
    xi = torch.randn(infer_batch, 3, 32, 32)
    with torch.no_grad():
        for _ in range(2):
            model(xi)
        infer = infer_batch / median_seconds(lambda: model(xi), steps)

    size = 256 if args.quick else 1024
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    reps = 3 if args.quick else 21
    gemm = 2 * size**3 / median_seconds(lambda: torch.mm(a, b), reps) / 1e9

    result = {
        "torch": torch.__version__,
        "gemm_1024_gflops": gemm,
        "threads": torch.get_num_threads(),
        "resnet32_train_images_per_s": train,
        "resnet32_infer_images_per_s": infer,
        "train_batch": batch,
        "infer_batch": infer_batch,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"PyTorch {result['torch']} CPU, {result['threads']} threads: GEMM {size}^3 {gemm:.1f} GFLOP/s, "
              f"ResNet-32 training {train:.0f} images/s (batch {batch}), inference {infer:.0f} images/s (batch {infer_batch})")


if __name__ == "__main__":
    main()
