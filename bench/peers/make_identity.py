#!/usr/bin/env python3
"""Writes an ONNX model that is one Identity node on a float32 input {1, C, H, W} (or {1, F}).

    python3 bench/peers/make_identity.py C,H,W out.onnx

bench/compare.sh times it under ONNX Runtime to measure the binding's per-call overhead.
"""
import sys

import onnx
from onnx import TensorProto, helper


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_identity.py C,H,W out.onnx")
    shape = [1] + [int(d) for d in sys.argv[1].split(",")]
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, sys.argv[2])


if __name__ == "__main__":
    main()
