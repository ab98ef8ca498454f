#!/usr/bin/env python3
"""Exports the ONNX models of the interoperability test with PyTorch's own exporter.

    /usr/bin/python3 tests/tools/make_onnx_models.py OUT_DIR [--size 224]

Writes to OUT_DIR (no weight downloads: weights=None, seeded):
  mobilenet_v2.onnx   torchvision MobileNetV2, opset 13            input x_224.npy
  resnet18.onnx       torchvision ResNet-18, opset 13              input x_224.npy
  lenet5.onnx         Caffe LeNet-5 (conv20 5x5, pool, conv50 5x5, pool, fc500, ReLU, fc10),
                      opset 13                                     input x_28.npy
  lenet5_op11.onnx    a LeNet-5 variant at opset 11: Clip (ReLU6) with min/max inputs, average
                      pooling with padding, ceil-mode max pooling, Reshape(-1, K), Softmax
  lenet5_op17.onnx    a LeNet-5 variant at opset 17: BatchNormalization, LeakyReLU, grouped and dilated
                      conv, Concat, residual Add, Sigmoid/Tanh, MatMul + Add (a Linear)
  unsupported.onnx    Conv then Mod (fmod): an op shrink does not import
Every model has a dynamic batch axis; inputs are float32 batches of 2 (np.save).
BatchNorm statistics and affine parameters are randomised (seeded) so that their import (or
the exporter's folding into the conv) is really exercised (fresh BatchNorms are the identity).
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torchvision


class LeNet5(nn.Module):
    """The Caffe LeNet-5 shape used by Deep Compression (431,080 parameters)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


class LeNet5Op11(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5, padding=2)
        self.act1 = nn.ReLU6()
        self.pool1 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)  # 28 -> 14
        self.conv2 = nn.Conv2d(20, 50, 5, stride=1)                                # 14 -> 10
        self.pool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)                     # 10 -> 5
        self.fc1 = nn.Linear(50 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 10)

    def forward(self, x):
        x = self.pool2(self.conv2(self.pool1(self.act1(self.conv1(x)))))
        x = x.reshape(-1, 50 * 5 * 5)
        x = torch.relu(self.fc1(x))
        return torch.softmax(self.fc2(x), dim=1)


class LeNet5Op17(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5)                     # 28 -> 24
        self.bn1 = nn.BatchNorm2d(16)
        self.act1 = nn.LeakyReLU(0.1)
        self.dw = nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=16)  # 24 -> 24
        self.pw = nn.Conv2d(16, 16, 1)
        self.branch = nn.Conv2d(16, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)                      # 24 -> 12
        self.conv2 = nn.Conv2d(24, 32, 5, stride=2)         # 12 -> 4
        self.w = nn.Parameter(torch.randn(32 * 4 * 4, 64) * 0.05)
        self.b = nn.Parameter(torch.randn(64) * 0.1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.bn1(self.act1(self.conv1(x)))               # BN after an activation: not folded
        r = self.pw(self.dw(x)) + x                         # residual Add of two activations
        y = torch.cat([torch.sigmoid(r), torch.tanh(self.branch(x))], dim=1)
        y = torch.flatten(self.conv2(self.pool(y)), 1)
        y = torch.relu(torch.matmul(y, self.w) + self.b)    # MatMul + Add -> Linear
        return self.fc(y)


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)

    def forward(self, x):
        return torch.fmod(self.conv(x), 0.5)


def randomise_batchnorm(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)


def export(model, example, path, opset):
    model.eval()
    torch.onnx.export(model, example, path, opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
                      do_constant_folding=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--size", type=int, default=224, help="image size of the torchvision models")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    out = lambda name: os.path.join(args.out_dir, name)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    torch.set_grad_enabled(False)

    x_big = torch.rand(2, 3, args.size, args.size, generator=gen)
    x_small = torch.rand(2, 1, 28, 28, generator=gen)
    np.save(out("x_%d.npy" % args.size), x_big.numpy().astype(np.float32))
    np.save(out("x_28.npy"), x_small.numpy().astype(np.float32))

    for name, ctor in (("mobilenet_v2", torchvision.models.mobilenet_v2),
                       ("resnet18", torchvision.models.resnet18)):
        model = ctor(weights=None)
        randomise_batchnorm(model, gen)
        export(model, x_big[:1], out(name + ".onnx"), 13)

    export(LeNet5(), x_small[:1], out("lenet5.onnx"), 13)
    export(LeNet5Op11(), x_small[:1], out("lenet5_op11.onnx"), 11)
    m17 = LeNet5Op17()
    randomise_batchnorm(m17, gen)
    export(m17, x_small[:1], out("lenet5_op17.onnx"), 17)
    export(Unsupported(), x_small[:1], out("unsupported.onnx"), 13)


if __name__ == "__main__":
    main()
