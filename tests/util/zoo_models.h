// Test models: a zoo model with non-trivial BatchNorm statistics and gamma / beta, without
// training (a few train-mode batches of random images), for tests of graph passes.
//
//   const ir::Graph g = testutil::zoo_with_batchnorm_stats("mobilenetv2", /*seed=*/3);
#pragma once
#include <string>

#include <torch/torch.h>

#include "compress/executor.h"
#include "compress/zoo.h"

namespace shrink::testutil {

inline ir::Graph zoo_with_batchnorm_stats(const std::string& name, uint64_t seed) {
  torch::manual_seed(seed);
  Executor ex(zoo::make(name, {}));
  {
    torch::NoGradGuard no_grad;
    for (const auto& [key, t] : ex.named_parameters())
      if (ex.graph().at(key.substr(0, key.find('/'))).op == ir::Op::BatchNorm) t.copy_(t + 0.2 * torch::randn_like(t));
  }
  ex.set_training(true);
  for (int i = 0; i < 4; ++i) ex.forward(torch::rand({8, 1, 28, 28}));
  return ex.sync_to_graph();
}

}  // namespace shrink::testutil
