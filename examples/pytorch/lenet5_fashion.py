#!/usr/bin/env python3
"""Trains the Caffe LeNet-5 on Fashion-MNIST in PyTorch and exports it to ONNX: the model that
recipes/onnx-import.yaml brings into shrink (a user's own PyTorch model, in miniature).

    /usr/bin/python3 examples/pytorch/lenet5_fashion.py recipes/lenet5-pytorch.onnx [--epochs 2]

Reads Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, or --data-dir) and
trains on shrink's `train` split: the first 55,000 of the 60,000 training images (the last
5,000 are shrink's `val`, never trained on). Pixels are b / 255 as shrink reads them; the
model normalises its input itself with `(x - mean) / std` as its first operation, which
shrink's importer turns into the model's mean / std (docs/onnx.md). The class names go into
the ONNX `metadata_props` key `shrink.labels`. Seeded: the same arguments give the same file.
"""
import argparse
import gzip
import json
import os
import struct
import tempfile

import numpy as np
import onnx
import torch
import torch.nn as nn

LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
          "Ankle boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    _, _, _, ndim = struct.unpack(">BBBB", data[:4])
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class LeNet5(nn.Module):
    """Caffe LeNet-5 (conv20 5x5, pool, conv50 5x5, pool, fc500, ReLU, fc10): 431,080 parameters."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor([mean]).reshape(1, 1, 1, 1))
        self.register_buffer("std", torch.tensor([std]).reshape(1, 1, 1, 1))
        self.features = nn.Sequential(
            nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))

    def forward(self, x):
        return self.classifier(self.features((x - self.mean) / self.std))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("output", help="the .onnx file to write")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--limit", type=int, default=55000, help="first N images of the train split")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(max(1, a.threads))

    images = read_idx(os.path.join(a.data_dir, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(a.data_dir, "train-labels-idx1-ubyte.gz"))
    n = min(a.limit, len(images) * 11 // 12)  # shrink's train split: the first 11/12
    x = torch.from_numpy(images[:n].astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels[:n].astype(np.int64))
    model = LeNet5(float(x.mean()), float(x.std()))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(n)
        total = 0.0
        for i in range(0, n, 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        print(f"epoch {epoch + 1}/{a.epochs}: loss {total / max(n, 1):.4f}", flush=True)

    model.eval()
    out_dir = os.path.dirname(os.path.abspath(a.output))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=out_dir)
    os.close(fd)
    try:
        torch.onnx.export(model, torch.zeros(1, 1, 28, 28), tmp, opset_version=13, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}})
        m = onnx.load(tmp)
        m.metadata_props.add(key="shrink.labels", value=json.dumps(LABELS))
        onnx.save(m, tmp)
        os.replace(tmp, a.output)  # never a half-written model
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"wrote {a.output} ({n} training images, {a.epochs} epochs)")


if __name__ == "__main__":
    main()
