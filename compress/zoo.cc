// Model zoo. Every model is an ir::Graph with PyTorch-default initialisation drawn from one
// torch::Generator seeded with ZooOptions::seed, in graph order: same seed, same weights.
//
// Node names (what pruning and shunt passes look for):
// - lenet300: flatten, fc1, relu1, fc2, relu2, fc3
// - lenet5:   conv1, pool1, conv2, pool2, flatten, fc1, relu1, fc2
// - mobilenetv2: conv1 (+ conv1.bn, conv1.relu); blockK for K = 1..17 with blockK.expand
//   (absent when t = 1), blockK.expand.bn, blockK.expand.relu, blockK.dw, blockK.dw.bn,
//   blockK.dw.relu, blockK.project, blockK.project.bn and blockK.add for residual blocks;
//   conv_last (+ .bn, .relu), pool, flatten, fc
// - resnet8: conv1 (+ conv1.bn, conv1.relu); blockK for K = 1..3 with blockK.conv1,
//   blockK.bn1, blockK.relu1, blockK.conv2, blockK.bn2, blockK.shortcut and
//   blockK.shortcut.bn (when the shape changes), blockK.add, blockK.relu; pool, flatten, fc
#include "compress/zoo.h"

#include <cmath>

#include "compress/executor.h"
#include "compress/graph_builder.h"
#include "compress/ir/error.h"

#ifndef SHRINK_VERSION
#define SHRINK_VERSION "unknown"
#endif

namespace shrink::zoo {

namespace {

// The graph lives in a base constructed before the GraphBuilder that appends to it.
struct GraphHolder {
  ir::Graph g_;
};

class Builder : private GraphHolder, public GraphBuilder {
 public:
  Builder(const std::string& name, const ZooOptions& o) : GraphHolder(), GraphBuilder(g_, o.seed) {
    g_.meta.name = name;
    g_.meta.input_shape = o.input_shape;
    g_.meta.producer = std::string("shrink ") + SHRINK_VERSION;
  }

  ir::Graph finish(const std::string& output) {
    g_.outputs = {output};
    g_.infer_shapes();
    return std::move(g_);
  }
};

void expect_image(const std::string& model, const ZooOptions& o, int64_t min_hw) {
  if (o.input_shape.size() != 3 || o.input_shape[0] < 1 || o.input_shape[1] < min_hw ||
      o.input_shape[2] < min_hw)
    throw BadInput("zoo model '", model, "': input shape ", ir::shape_str(o.input_shape),
                   " is not supported, expected [C, H, W] with H, W >= ", min_hw);
}

ir::Graph lenet300(const ZooOptions& o) {
  int64_t features = ir::numel(o.input_shape);
  if (o.input_shape.empty() || features < 1)
    throw BadInput("zoo model 'lenet300': input shape ", ir::shape_str(o.input_shape), " is empty");
  Builder b("lenet300", o);
  std::string x = b.simple("flatten", ir::Op::Flatten, {ir::Graph::kInput});
  x = b.linear("fc1", x, features, 300);
  x = b.simple("relu1", ir::Op::ReLU, {x});
  x = b.linear("fc2", x, 300, 100);
  x = b.simple("relu2", ir::Op::ReLU, {x});
  x = b.linear("fc3", x, 100, o.num_classes);
  return b.finish(x);
}

ir::Graph lenet5(const ZooOptions& o) {
  expect_image("lenet5", o, 16);
  Builder b("lenet5", o);
  int64_t h = ((o.input_shape[1] - 4) / 2 - 4) / 2, w = ((o.input_shape[2] - 4) / 2 - 4) / 2;
  std::string x = b.conv("conv1", ir::Graph::kInput, o.input_shape[0], 20, 5, 1, 0, 1, true);
  x = b.pool("pool1", x, ir::Op::MaxPool, 2, 2);
  x = b.conv("conv2", x, 20, 50, 5, 1, 0, 1, true);
  x = b.pool("pool2", x, ir::Op::MaxPool, 2, 2);
  x = b.simple("flatten", ir::Op::Flatten, {x});
  x = b.linear("fc1", x, 50 * h * w, 500);
  x = b.simple("relu1", ir::Op::ReLU, {x});
  x = b.linear("fc2", x, 500, o.num_classes);
  return b.finish(x);
}

ir::Graph mobilenetv2(const ZooOptions& o) {
  expect_image("mobilenetv2", o, 8);
  double width = o.width > 0 ? o.width : 0.5;
  struct Stage { int64_t t, c, n, s; };
  // The standard table; the first stride-2 stage (c = 24) runs at stride 1 for 28x28 inputs.
  const Stage stages[] = {{1, 16, 1, 1}, {6, 24, 2, 1}, {6, 32, 3, 2}, {6, 64, 4, 2},
                          {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  Builder b("mobilenetv2", o);
  int64_t cin = make_divisible(32 * width);
  int64_t last = make_divisible(1280 * std::max(1.0, width));
  std::string x = b.conv("conv1", ir::Graph::kInput, o.input_shape[0], cin, 3, 1, 1, 1, false);
  x = b.bn("conv1.bn", x, cin);
  x = b.simple("conv1.relu", ir::Op::ReLU6, {x});
  int block = 0;
  for (const Stage& st : stages) {
    int64_t cout = make_divisible(static_cast<double>(st.c) * width);
    for (int64_t i = 0; i < st.n; ++i) {
      int64_t stride = i == 0 ? st.s : 1;
      std::string p = "block" + std::to_string(++block);
      int64_t hidden = static_cast<int64_t>(std::llround(static_cast<double>(cin * st.t)));
      std::string in = x;
      if (st.t != 1) {
        x = b.conv(p + ".expand", x, cin, hidden, 1, 1, 0, 1, false);
        x = b.bn(p + ".expand.bn", x, hidden);
        x = b.simple(p + ".expand.relu", ir::Op::ReLU6, {x});
      }
      x = b.conv(p + ".dw", x, hidden, hidden, 3, stride, 1, hidden, false);
      x = b.bn(p + ".dw.bn", x, hidden);
      x = b.simple(p + ".dw.relu", ir::Op::ReLU6, {x});
      x = b.conv(p + ".project", x, hidden, cout, 1, 1, 0, 1, false);
      x = b.bn(p + ".project.bn", x, cout);
      if (stride == 1 && cin == cout) x = b.simple(p + ".add", ir::Op::Add, {in, x});
      cin = cout;
    }
  }
  x = b.conv("conv_last", x, cin, last, 1, 1, 0, 1, false);
  x = b.bn("conv_last.bn", x, last);
  x = b.simple("conv_last.relu", ir::Op::ReLU6, {x});
  x = b.simple("pool", ir::Op::GlobalAvgPool, {x});
  x = b.simple("flatten", ir::Op::Flatten, {x});
  x = b.linear("fc", x, last, o.num_classes);
  return b.finish(x);
}

ir::Graph resnet8(const ZooOptions& o) {
  expect_image("resnet8", o, 4);
  Builder b("resnet8", o);
  std::string x = b.conv("conv1", ir::Graph::kInput, o.input_shape[0], 16, 3, 1, 1, 1, false);
  x = b.bn("conv1.bn", x, 16);
  x = b.simple("conv1.relu", ir::Op::ReLU, {x});
  int64_t cin = 16;
  const int64_t widths[] = {16, 32, 64}, strides[] = {1, 2, 2};
  for (int i = 0; i < 3; ++i) {
    std::string p = "block" + std::to_string(i + 1);
    int64_t cout = widths[i], s = strides[i];
    std::string shortcut = x;
    std::string y = b.conv(p + ".conv1", x, cin, cout, 3, s, 1, 1, false);
    y = b.bn(p + ".bn1", y, cout);
    y = b.simple(p + ".relu1", ir::Op::ReLU, {y});
    y = b.conv(p + ".conv2", y, cout, cout, 3, 1, 1, 1, false);
    y = b.bn(p + ".bn2", y, cout);
    if (s != 1 || cin != cout) {
      shortcut = b.conv(p + ".shortcut", x, cin, cout, 1, s, 0, 1, false);
      shortcut = b.bn(p + ".shortcut.bn", shortcut, cout);
    }
    y = b.simple(p + ".add", ir::Op::Add, {y, shortcut});
    x = b.simple(p + ".relu", ir::Op::ReLU, {y});
    cin = cout;
  }
  x = b.simple("pool", ir::Op::GlobalAvgPool, {x});
  x = b.simple("flatten", ir::Op::Flatten, {x});
  x = b.linear("fc", x, cin, o.num_classes);
  return b.finish(x);
}

}  // namespace

// torchvision's _make_divisible: round to the nearest multiple of `divisor` (at least divisor),
// never going more than 10% below v.
int64_t make_divisible(double v, int64_t divisor) {
  int64_t r = std::max<int64_t>(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (static_cast<double>(r) < 0.9 * v) r += divisor;
  return r;
}

std::vector<std::string> names() { return {"lenet300", "lenet5", "mobilenetv2", "resnet8"}; }

ir::Graph make(const std::string& name, const ZooOptions& o) {
  if (o.num_classes < 1)
    throw BadInput("zoo model '", name, "': num_classes is ", o.num_classes, ", expected >= 1");
  if (name == "lenet300") return lenet300(o);
  if (name == "lenet5") return lenet5(o);
  if (name == "mobilenetv2") return mobilenetv2(o);
  if (name == "resnet8") return resnet8(o);
  throw BadInput("unknown zoo model '", name, "' (known: lenet300, lenet5, mobilenetv2, resnet8)");
}

}  // namespace shrink::zoo
