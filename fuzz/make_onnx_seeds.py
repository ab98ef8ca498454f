#!/usr/bin/python3
"""Writes the seed corpus of onnx_import_fuzzer: small valid ONNX models (opset 13) that together
use every op the importer supports, the input normalization, labels, float_data / raw_data /
int64 initializers and external data in w.bin (the fuzzer writes w.bin next to each input).

    /usr/bin/python3 fuzz/make_onnx_seeds.py OUT_DIR     # scripts/fuzz.sh does this
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(9)


def init(name, shape, raw=True):
    v = rng.uniform(-0.5, 0.5, size=shape).astype(np.float32)
    if raw:
        return numpy_helper.from_array(v, name)
    return helper.make_tensor(name, TensorProto.FLOAT, shape, v.flatten().tolist())


def external(name, shape, offset):
    """A float tensor stored in w.bin at `offset` (w.bin holds 4096 bytes)."""
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(shape)
    t.data_location = TensorProto.EXTERNAL
    n = int(np.prod(shape)) * 4
    for k, v in (("location", "w.bin"), ("offset", str(offset)), ("length", str(n))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def model(nodes, inits, in_shape, out="y", labels=None):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch"] + list(in_shape))
    y = helper.make_tensor_value_info(out, TensorProto.FLOAT, None)
    g = helper.make_graph(nodes, "seed", [x], [y], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="seeds")
    m.ir_version = 7
    if labels:
        p = m.metadata_props.add()
        p.key, p.value = "shrink.labels", "[" + ",".join('"%s"' % s for s in labels) + "]"
    return m


N = helper.make_node


def seeds():
    yield "conv_gemm", model([
        N("Conv", ["x", "w1", "b1"], ["c1"], name="/conv1/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        N("Relu", ["c1"], ["r1"], name="/relu/Relu"),
        N("MaxPool", ["r1"], ["p1"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        N("Flatten", ["p1"], ["f"], name="flat", axis=1),
        N("Gemm", ["f", "w2", "b2"], ["y"], name="fc", transB=1),
    ], [init("w1", [4, 1, 3, 3]), init("b1", [4], raw=False), init("w2", [3, 16]), init("b2", [3])],
        [1, 4, 4], labels=["a", "b", "c"])
    yield "norm_bn_pool_concat", model([
        N("Sub", ["x", "mean"], ["s"], name="sub"),
        N("Div", ["s", "std"], ["d"], name="div"),
        N("Conv", ["d", "w1"], ["c1"], name="conv", kernel_shape=[1, 1], group=2),
        N("BatchNormalization", ["c1", "g", "beta", "m", "v"], ["bn"], name="bn", epsilon=1e-5),
        N("LeakyRelu", ["bn"], ["lr"], name="lrelu", alpha=0.1),
        N("AveragePool", ["lr"], ["ap"], name="ap", kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1],
          count_include_pad=0),
        N("Sigmoid", ["d"], ["sg"], name="sig"),
        N("Concat", ["ap", "sg"], ["cc"], name="cat", axis=1),
        N("GlobalAveragePool", ["cc"], ["gp"], name="gap"),
        N("Reshape", ["gp", "shape"], ["rs"], name="reshape"),
        N("Softmax", ["rs"], ["y"], name="softmax", axis=-1),
    ], [init("mean", [2, 1, 1]), init("std", [2, 1, 1]), init("w1", [2, 1, 1, 1]), init("g", [2]),
        init("beta", [2]), init("m", [2]), numpy_helper.from_array(np.array([0.5, 0.7], np.float32), "v"),
        numpy_helper.from_array(np.array([-1, 4], np.int64), "shape")], [2, 3, 3])
    yield "matmul_add_clip", model([
        N("MatMul", ["x", "w"], ["mm"], name="mm"),
        N("Add", ["mm", "b"], ["a"], name="bias"),
        N("Clip", ["a", "lo", "hi"], ["cl"], name="relu6"),
        N("Tanh", ["cl"], ["t"], name="tanh"),
        N("Dropout", ["t"], ["dr"], name="drop"),
        N("Identity", ["dr"], ["y"], name="id"),
    ], [init("w", [6, 5]), init("b", [5]), numpy_helper.from_array(np.array(0, np.float32), "lo"),
        numpy_helper.from_array(np.array(6, np.float32), "hi")], [6])
    yield "residual_constant", model([
        N("Constant", [], ["k"], name="kconst",
          value=numpy_helper.from_array(rng.uniform(-1, 1, (2, 2, 3, 3)).astype(np.float32))),
        N("Conv", ["x", "k"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], dilations=[1, 1]),
        N("Add", ["c", "x"], ["a"], name="res"),
        N("Relu", ["a"], ["r"], name="relu"),
        N("Flatten", ["r"], ["y"], name="flat"),
    ], [], [2, 5, 5])
    yield "external_data", model([
        N("Conv", ["x", "we"], ["c"], name="conv", kernel_shape=[3, 3], strides=[2, 2]),
        N("Flatten", ["c"], ["f"], name="flat"),
        N("Gemm", ["f", "w2"], ["y"], name="fc", transB=1),
    ], [external("we", [2, 1, 3, 3], 16), external("w2", [4, 8], 512)], [1, 5, 5])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    count = 0
    for name, m in seeds():
        with open(os.path.join(out, name + ".onnx"), "wb") as f:
            f.write(m.SerializeToString())
        count += 1
    print("make_onnx_seeds: wrote %d seeds to %s" % (count, out))


if __name__ == "__main__":
    main()
