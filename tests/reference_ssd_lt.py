#!/usr/bin/env python3
"""Independent PyTorch implementation of pipelines/fashion_mnist_lt.yaml (issue 5's recipe).

It shares no code with ssdlt: it reads the Fashion-MNIST IDX files itself, cuts the long tail
itself, and implements the network, the augmentations, the samplers, MoCo, LWS/cRT/tau-norm and
distillation in plain PyTorch (no torchvision). One run is one seed of every method:

  ce            ResNet-20, cross-entropy, 200 epochs
  ce_lws        LWS on ce (class-aware sampling, 2 per class, 20 epochs of max_c n_c * C draws)
  ce_crt        cRT on ce (head re-initialised and re-trained, same sampling)
  ce_tau        tau-norm on ce (tau 1)
  teacher       SSD-LT stage I: CE + MoCo (queue 1,152 with labels, m 0.999, T 0.2, same-class
                negatives masked), 200 epochs
  teacher_lws   stage II: LWS on the teacher; its softmax(z / 2) on un-augmented images are the
                soft labels (dense)
  student       stage III: fc on hard labels + fc_soft distilled (KL x T^2, T 2), 200 epochs;
                reported on fc_soft (the paper's choice); `student_fc` is the hard head
  student_lws   stage IV: LWS on fc_soft

Results are the last epoch's, on the full 10,000-image test set: overall top-1 and the mean
per-class accuracy of the many (> 100 train images), medium and few (< 20) shot classes.

  python3 tests/reference_ssd_lt.py --seed 0 --out /tmp/ref/seed0         # the full recipe
  python3 tests/reference_ssd_lt.py --seed 0 --out /tmp/ref/q --epochs 2 --lws-epochs 1
  python3 tests/reference_ssd_lt.py --summary /tmp/ref/seed*/results.json  # mean and std

`--out` keeps an epoch checkpoint per stage, so a killed run resumes where it stopped; the
results land in OUT/results.json. `--lock FILE` checks the long-tailed subset against ssdlt's
split lock (the same images, by index and label) before training.
"""

import argparse
import gzip
import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530
METHODS = ["ce", "ce_lws", "ce_crt", "ce_tau", "teacher", "teacher_lws", "student_fc", "student", "student_lws"]


# ---------------------------------------------------------------- data


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, raw[4 : 4 + 4 * dims])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def long_tail_indices(labels, classes=10, n_max=500, imbalance=100.0):
    """The first n_c images of class c in file order, n_c = floor(n_max * imbalance^(-c/(C-1)))."""
    counts = [int(n_max * imbalance ** (-c / (classes - 1))) for c in range(classes)]
    taken, keep = [0] * classes, []
    for i, y in enumerate(labels):
        if taken[y] < counts[y]:
            taken[y] += 1
            keep.append(i)
    return np.array(keep), counts


def to_tensor(images):
    """uint8 [N, 28, 28] -> float [N, 1, 32, 32] in [0, 1], zero-padded by 2 on each side."""
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return F.pad(x, (2, 2, 2, 2))


def normalize(x):
    return (x - MEAN) / STD


# ---------------------------------------------------------------- augmentation (on [0, 1] pixels)


def pad_crop(x, gen, pad=4):
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    offs = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen)
    return torch.stack([padded[i, :, offs[i, 0] : offs[i, 0] + h, offs[i, 1] : offs[i, 1] + w] for i in range(n)])


def hflip(x, gen):
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def rand_uniform(gen, lo, hi):
    return lo + (hi - lo) * torch.rand(1, generator=gen).item()


def resized_crop_window(h, w, gen, scale=(0.2, 1.0), ratio=(0.75, 4 / 3)):
    area = h * w
    for _ in range(10):
        target = area * rand_uniform(gen, *scale)
        aspect = math.exp(rand_uniform(gen, math.log(ratio[0]), math.log(ratio[1])))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            top = torch.randint(0, h - ch + 1, (1,), generator=gen).item()
            left = torch.randint(0, w - cw + 1, (1,), generator=gen).item()
            return top, left, ch, cw
    in_ratio = w / h
    if in_ratio < ratio[0]:
        cw, ch = w, int(round(w / ratio[0]))
    elif in_ratio > ratio[1]:
        ch, cw = h, int(round(h * ratio[1]))
    else:
        cw, ch = w, h
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def gaussian_blur(img, sigma):
    radius = min(int(math.ceil(3 * sigma)), img.shape[-1] - 1)
    if radius == 0:
        return img
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    x = F.pad(img[None], (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.conv2d(x, k.view(1, 1, -1, 1))
    return x[0]


def key_view(x, gen):
    """resized crop (0.2-1, 3/4-4/3), flip, p 0.8 brightness+contrast x U(0.6, 1.4) in random
    order, p 0.5 Gaussian blur sigma U(0.1, 1.0)."""
    n, _, h, w = x.shape
    out = []
    for i in range(n):
        top, left, ch, cw = resized_crop_window(h, w, gen)
        img = F.interpolate(x[i : i + 1, :, top : top + ch, left : left + cw], size=(h, w), mode="bilinear", align_corners=False, antialias=True)[0]
        if torch.rand(1, generator=gen).item() < 0.5:
            img = img.flip(-1)
        if torch.rand(1, generator=gen).item() < 0.8:
            b, c = rand_uniform(gen, 0.6, 1.4), rand_uniform(gen, 0.6, 1.4)
            for op in torch.randperm(2, generator=gen).tolist():
                if op == 0:
                    img = (img * b).clamp(0, 1)
                else:
                    img = (img * c + img.mean() * (1 - c)).clamp(0, 1)
        if torch.rand(1, generator=gen).item() < 0.5:
            img = gaussian_blur(img, rand_uniform(gen, 0.1, 1.0))
        out.append(img)
    return torch.stack(out)


def plain_view(x, gen):
    return hflip(pad_crop(x, gen), gen)


# ---------------------------------------------------------------- samplers


def class_aware_order(labels, classes, per_class, length, rng):
    """Classes in a shuffled cycle; each visit takes `per_class` images in a row from that class's
    permutation, reshuffled when used up (the decoupling code's ClassAwareSampler)."""
    by_class = [list(np.flatnonzero(labels == c)) for c in range(classes)]
    cursors = [[rng.permutation(m).tolist(), 0] for m in by_class]
    cycle, nxt, out = list(range(classes)), classes, []
    while len(out) < length:
        if nxt == classes:
            rng.shuffle(cycle)
            nxt = 0
        cur = cursors[cycle[nxt]]
        nxt += 1
        for _ in range(per_class):
            if cur[1] == len(cur[0]):
                cur[0] = rng.permutation(cur[0]).tolist()
                cur[1] = 0
            out.append(cur[0][cur[1]])
            cur[1] += 1
            if len(out) == length:
                break
    return np.array(out)


# ---------------------------------------------------------------- network


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
        if self.stride != 1 or self.pad:  # option A: subsample, zero-pad the new channels
            short = F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + short)


class ResNet20(nn.Module):
    """CIFAR ResNet-20 (He et al. 2016), 1 input channel, 64-d feature, with named heads."""

    def __init__(self, classes=10, soft_head=False, projection=False):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, c = [], 16
        for i, width in enumerate([16, 32, 64]):
            blocks = []
            for j in range(3):
                blocks.append(BasicBlock(c, width, 2 if (i > 0 and j == 0) else 1))
                c = width
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, classes)
        self.fc_soft = nn.Linear(64, classes) if soft_head else None
        self.proj = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 128)) if projection else None
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def features(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


class KeyEncoder(nn.Module):
    """MoCo's momentum encoder: the backbone and projection of the query network."""

    def __init__(self, net):
        super().__init__()
        self.net = ResNet20(projection=True)
        self.net.load_state_dict(net.state_dict(), strict=False)
        for p in self.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def momentum_update(self, net, m):
        for name, pk in self.net.named_parameters():
            pk.mul_(m).add_(dict(net.named_parameters())[name], alpha=1 - m)

    @torch.no_grad()
    def forward(self, x):
        return F.normalize(self.net.proj(self.net.features(x)), dim=1)


# ---------------------------------------------------------------- training


def sgd(params, lr):
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)


def cosine(opt, epochs):
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)


class Checkpoints:
    """One file per stage under OUT: the finished stage, or the last finished epoch of it."""

    def __init__(self, out):
        self.out = out
        os.makedirs(out, exist_ok=True)

    def path(self, stage, partial=False):
        return os.path.join(self.out, f"{stage}{'.partial' if partial else ''}.pt")

    def done(self, stage):
        p = self.path(stage)
        return torch.load(p, weights_only=False) if os.path.exists(p) else None

    def partial(self, stage):
        p = self.path(stage, partial=True)
        return torch.load(p, weights_only=False) if os.path.exists(p) else None

    def save(self, stage, state, partial=False):
        p = self.path(stage, partial)
        torch.save(state, p + ".tmp")
        os.replace(p + ".tmp", p)
        if not partial and os.path.exists(self.path(stage, partial=True)):
            os.remove(self.path(stage, partial=True))


def log(msg):
    print(msg, flush=True)


def train_stage(name, ck, x, y, seed, epochs, batch, kind, soft=None):
    """kind: 'ce', 'teacher' (CE + MoCo) or 'student' (CE + KD on fc_soft)."""
    finished = ck.done(name)
    net = ResNet20(soft_head=kind == "student", projection=kind == "teacher")
    if finished is not None:
        net.load_state_dict(finished["model"])
        return net
    torch.manual_seed(seed)
    net = ResNet20(soft_head=kind == "student", projection=kind == "teacher")
    key = KeyEncoder(net) if kind == "teacher" else None
    queue = F.normalize(torch.randn(1152, 128), dim=1)
    queue_labels = torch.full((1152,), -1, dtype=torch.long)
    ptr = 0
    opt = sgd(net.parameters(), 0.1)
    sched = cosine(opt, epochs)
    gen = torch.Generator().manual_seed(seed + 1)
    start = 0
    state = ck.partial(name)
    if state is not None:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        if key is not None:
            key.load_state_dict(state["key"])
            queue, queue_labels, ptr = state["queue"], state["queue_labels"], state["ptr"]
        start = state["epoch"]
        log(f"{name}: resuming after epoch {start}")
    n = len(y)
    for epoch in range(start, epochs):
        net.train()
        if key is not None:
            key.train()
        t0 = time.time()
        order = torch.randperm(n, generator=gen)
        total, correct, seen = 0.0, 0, 0
        for s in range(0, n, batch):
            idx = order[s : s + batch]
            xb, yb = x[idx], y[idx]
            xq = normalize(plain_view(xb, gen))
            feat = net.features(xq)
            logits = net.fc(feat)
            loss = F.cross_entropy(logits, yb)
            if kind == "teacher":
                xk = normalize(key_view(xb, gen))
                q = F.normalize(net.proj(feat), dim=1)
                key.momentum_update(net, 0.999)
                k = key(xk)
                l_pos = (q * k).sum(1, keepdim=True)
                l_neg = q @ queue.t()
                l_neg = l_neg.masked_fill(queue_labels[None, :] == yb[:, None], float("-inf"))
                con = F.cross_entropy(torch.cat([l_pos, l_neg], 1) / 0.2, torch.zeros(len(yb), dtype=torch.long))
                loss = loss + con
            elif kind == "student":
                t = 2.0
                log_q = F.log_softmax(net.fc_soft(feat) / t, dim=1)
                p = soft[idx]
                kd = (p * (p.clamp_min(1e-30).log() - log_q)).sum(1).mean() * t * t
                loss = loss + kd
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if kind == "teacher":
                slots = (ptr + torch.arange(len(yb))) % len(queue)
                queue[slots], queue_labels[slots] = k, yb
                ptr = (ptr + len(yb)) % len(queue)
            total += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(yb)
        sched.step()
        log(f"{name} epoch {epoch + 1}/{epochs}: loss {total / seen:.4f}, train acc {100 * correct / seen:.1f}%, {seen / (time.time() - t0):.0f} img/s")
        state = {"model": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "gen": gen.get_state(), "epoch": epoch + 1}
        if key is not None:
            state.update(key=key.state_dict(), queue=queue, queue_labels=queue_labels, ptr=ptr)
        ck.save(name, state, partial=epoch + 1 < epochs)
    ck.save(name, {"model": net.state_dict()})
    return net


def head_of(net, head):
    return getattr(net, head)


def calibrate(name, ck, net, head, method, x, y, seed, epochs, batch, classes=10):
    """LWS or cRT on a frozen eval-mode backbone; returns a copy of `net` with `head` replaced."""
    cal = ResNet20(soft_head=net.fc_soft is not None, projection=net.proj is not None)
    cal.load_state_dict(net.state_dict())
    layer = head_of(cal, head)
    finished = ck.done(name)
    if finished is not None:
        cal.load_state_dict(finished["model"])
        return cal
    if method == "tau_norm":
        with torch.no_grad():
            layer.weight.div_(layer.weight.norm(dim=1, keepdim=True).clamp_min(1e-30))
            layer.bias.zero_()
        ck.save(name, {"model": cal.state_dict()})
        return cal
    torch.manual_seed(seed)
    if method == "crt":
        fresh = nn.Linear(64, classes)
        nn.init.kaiming_normal_(fresh.weight)
        layer.weight.data.copy_(fresh.weight.data)
        layer.bias.data.copy_(fresh.bias.data)
        params = [layer.weight, layer.bias]
    else:
        scales = nn.Parameter(torch.ones(classes))
        params = [scales]
    opt = sgd(params, 0.1)
    sched = cosine(opt, epochs)
    gen = torch.Generator().manual_seed(seed + 1)
    rng = np.random.RandomState(seed % 2**32)
    counts = np.bincount(y.numpy(), minlength=classes)
    length = int(counts.max()) * classes
    cal.eval()
    for epoch in range(epochs):
        t0 = time.time()
        order = torch.from_numpy(class_aware_order(y.numpy(), classes, 2, length, rng))
        total, seen = 0.0, 0
        for s in range(0, length, batch):
            idx = order[s : s + batch]
            xb, yb = normalize(plain_view(x[idx], gen)), y[idx]
            with torch.no_grad():
                feat = cal.features(xb)
            if method == "crt":
                logits = layer(feat)
            else:
                with torch.no_grad():
                    z = layer(feat)
                logits = z * scales
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            seen += len(yb)
        sched.step()
        log(f"{name} epoch {epoch + 1}/{epochs}: loss {total / seen:.4f}, {seen / (time.time() - t0):.0f} img/s")
    if method == "lws":
        with torch.no_grad():
            layer.weight.mul_(scales[:, None])
            layer.bias.mul_(scales)
    ck.save(name, {"model": cal.state_dict()})
    return cal


@torch.no_grad()
def logits_of(net, head, x, batch=500):
    net.eval()
    return torch.cat([head_of(net, head)(net.features(normalize(x[s : s + batch]))) for s in range(0, len(x), batch)])


def evaluate(logits, labels, train_counts):
    pred = logits.argmax(1)
    per_class = []
    for c in range(len(train_counts)):
        m = labels == c
        per_class.append((pred[m] == c).float().mean().item())
    group = lambda keep: 100 * statistics.mean(a for a, n in zip(per_class, train_counts) if keep(n))
    return {
        "overall": 100 * (pred == labels).float().mean().item(),
        "many": group(lambda n: n > 100),
        "medium": group(lambda n: 20 <= n <= 100),
        "few": group(lambda n: n < 20),
    }


# ---------------------------------------------------------------- main


def check_lock(lock_path, keep, labels):
    with open(lock_path) as f:
        lock = json.load(f)
    ours = [(int(e["id"].split("/")[1]), int(e["label"])) for e in lock["kept"]]
    mine = [(int(i), int(labels[i])) for i in keep]
    if sorted(ours) != sorted(mine):
        sys.exit(f"{lock_path}: the lock keeps {len(ours)} images, this script {len(mine)}; the long-tailed subsets differ")
    log(f"{lock_path}: the same {len(mine)} training images as ssdlt's split lock")


def summary(paths):
    runs = [json.load(open(p)) for p in paths]
    out = {}
    for m in METHODS:
        out[m] = {}
        for g in ["overall", "many", "medium", "few"]:
            vals = [r["methods"][m][g] for r in runs]
            out[m][g] = {"mean": statistics.mean(vals), "std": statistics.stdev(vals) if len(vals) > 1 else 0.0, "values": vals}
    print(json.dumps({"seeds": [r["seed"] for r in runs], "methods": out}, indent=2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="folder for checkpoints and results.json")
    ap.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=200, help="epochs of each training stage")
    ap.add_argument("--lws-epochs", type=int, default=20, help="epochs of each LWS / cRT stage")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--lock", help="ssdlt's <pipeline>.split.lock.json: check the subset matches")
    ap.add_argument("--summary", nargs="+", metavar="RESULTS", help="print mean and std of results.json files")
    args = ap.parse_args()
    if args.summary:
        return summary(args.summary)
    if not args.out:
        ap.error("--out is required for a run")
    torch.set_num_threads(args.threads)
    started = time.time()
    tr_x, tr_y = read_idx(f"{args.root}/train-images-idx3-ubyte.gz"), read_idx(f"{args.root}/train-labels-idx1-ubyte.gz")
    te_x, te_y = read_idx(f"{args.root}/t10k-images-idx3-ubyte.gz"), read_idx(f"{args.root}/t10k-labels-idx1-ubyte.gz")
    keep, counts = long_tail_indices(tr_y)
    if args.lock:
        check_lock(args.lock, keep, tr_y)
    x, y = to_tensor(tr_x[keep]), torch.from_numpy(tr_y[keep].astype(np.int64))
    xt, yt = to_tensor(te_x), torch.from_numpy(te_y.astype(np.int64))
    log(f"seed {args.seed}: {len(y)} long-tailed training images {counts}, {len(yt)} test images, {args.threads} threads")
    ck = Checkpoints(args.out)
    s = args.seed * 1000
    ep, lep, b = args.epochs, args.lws_epochs, 128

    models = {}
    models["ce"] = (train_stage("ce", ck, x, y, s + 1, ep, b, "ce"), "fc")
    models["ce_lws"] = (calibrate("ce_lws", ck, models["ce"][0], "fc", "lws", x, y, s + 2, lep, b), "fc")
    models["ce_crt"] = (calibrate("ce_crt", ck, models["ce"][0], "fc", "crt", x, y, s + 3, lep, b), "fc")
    models["ce_tau"] = (calibrate("ce_tau", ck, models["ce"][0], "fc", "tau_norm", x, y, s + 4, lep, b), "fc")
    models["teacher"] = (train_stage("teacher", ck, x, y, s + 5, ep, b, "teacher"), "fc")
    teacher_lws = calibrate("teacher_lws", ck, models["teacher"][0], "fc", "lws", x, y, s + 6, lep, b)
    models["teacher_lws"] = (teacher_lws, "fc")
    soft = F.softmax(logits_of(teacher_lws, "fc", x) / 2.0, dim=1)
    student = train_stage("student", ck, x, y, s + 7, ep, b, "student", soft=soft)
    models["student_fc"] = (student, "fc")
    models["student"] = (student, "fc_soft")
    models["student_lws"] = (calibrate("student_lws", ck, student, "fc_soft", "lws", x, y, s + 8, lep, b), "fc_soft")

    results = {m: evaluate(logits_of(net, head, xt), yt, counts) for m, (net, head) in models.items()}
    for m in METHODS:
        r = results[m]
        log(f"{m:12s} overall {r['overall']:5.2f}  many {r['many']:5.2f}  medium {r['medium']:5.2f}  few {r['few']:5.2f}")
    out = {"seed": args.seed, "epochs": ep, "lws_epochs": lep, "train_counts": counts, "torch": torch.__version__, "threads": args.threads, "wall_s": time.time() - started, "methods": results}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
