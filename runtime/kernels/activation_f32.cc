// Element-wise float activations (the float part of a graph, or fp32 models).
#include <cmath>

#include "kernels/internal.h"

namespace shrink::rt::kernels {

void activation_f32(FloatAct act, const float* x, float* y, size_t count, float alpha) {
  switch (act) {
    case FloatAct::kRelu:
      for (size_t i = 0; i < count; ++i) y[i] = act_f32(x[i], Act::kRelu);
      break;
    case FloatAct::kRelu6:
      for (size_t i = 0; i < count; ++i) y[i] = act_f32(x[i], Act::kRelu6);
      break;
    case FloatAct::kLeakyRelu:
      for (size_t i = 0; i < count; ++i) y[i] = x[i] >= 0.0f ? x[i] : alpha * x[i];
      break;
    case FloatAct::kSigmoid:
      for (size_t i = 0; i < count; ++i) y[i] = 1.0f / (1.0f + std::exp(-x[i]));
      break;
    case FloatAct::kTanh:
      for (size_t i = 0; i < count; ++i) y[i] = std::tanh(x[i]);
      break;
  }
}

}  // namespace shrink::rt::kernels
