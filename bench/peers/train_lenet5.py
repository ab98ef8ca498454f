#!/usr/bin/python3
"""Peer for bench/train_lenet5.sh: PyTorch (Python) training the Caffe LeNet-5 on
Fashion-MNIST with shrink's default schedule (Adam, lr 1e-3, batch 64, cosine per step,
train = first 55,000 images, inputs normalised with the training mean / std).
Prints {"test_accuracy": ..., "train_seconds": ...}."""
import argparse, gzip, json, math, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr = torch.from_numpy(idx(f"{ROOT}/train-images-idx3-ubyte.gz")[:55000].astype(np.float32) / 255).unsqueeze(1)
    ytr = torch.from_numpy(idx(f"{ROOT}/train-labels-idx1-ubyte.gz")[:55000].astype(np.int64))
    xte = torch.from_numpy(idx(f"{ROOT}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    yte = torch.from_numpy(idx(f"{ROOT}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    mean, std = xtr.mean().item(), xtr.std().item()
    xtr, xte = (xtr - mean) / std, (xte - mean) / std

    model = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bs = 64
    steps = a.epochs * math.ceil(len(xtr) / bs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    t0 = time.time()
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), bs):
            b = perm[i:i + bs]
            loss = F.cross_entropy(model(xtr[b]), ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    seconds = time.time() - t0
    model.eval()
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    print(json.dumps({"test_accuracy": round(acc, 4), "train_seconds": round(seconds, 2)}))


if __name__ == "__main__":
    main()
