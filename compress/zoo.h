// Model zoo: architectures built as ir::Graph with freshly initialised weights (PyTorch's
// default initialisation: kaiming-uniform(a = sqrt(5)) weights, uniform(+-1/sqrt(fan_in))
// biases, BatchNorm gamma 1 / beta 0 / mean 0 / var 1), seeded.
//
//   ir::Graph g = zoo::make("lenet5", {});      // 1x28x28 input, 10 classes
//
// - lenet300:    Flatten, fc 300, ReLU, fc 100, ReLU, fc 10 (LeNet-300-100)
// - lenet5:      Caffe LeNet-5 as in Deep Compression: conv 20@5x5, maxpool 2, conv 50@5x5,
//                maxpool 2, fc 500, ReLU, fc 10 (431,080 params, 2,293,000 MACs)
// - mobilenetv2: MobileNetV2, width 0.5 (channels rounded to multiples of 8), stride-1 stem
//                and stride 1 in the first stride-2 stage for 28x28 inputs; 10 residual blocks
// - resnet8:     3 stages of one basic residual block (16, 32, 64 channels)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace shrink::zoo {

struct ZooOptions {
  ir::Shape input_shape{1, 28, 28};
  int64_t num_classes = 10;
  uint64_t seed = 1;
  double width = 0;  ///< mobilenetv2 width multiplier; 0 = the model's default (0.5)
};

std::vector<std::string> names();
/// torchvision's _make_divisible: v rounded to the nearest multiple of `divisor` (at least
/// divisor), never more than 10% below v. Channel counts of mobilenetv2 and of shunt blocks.
int64_t make_divisible(double v, int64_t divisor = 8);
/// Throws BadInput("unknown zoo model 'x' (known: lenet300, lenet5, mobilenetv2, resnet8)").
ir::Graph make(const std::string& name, const ZooOptions& o);

}  // namespace shrink::zoo
