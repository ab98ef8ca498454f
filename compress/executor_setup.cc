#include "compress/executor_setup.h"

#include <utility>

namespace shrink {

namespace {
std::vector<std::pair<std::string, ExecutorSetup>>& setups() {
  static std::vector<std::pair<std::string, ExecutorSetup>> s;
  return s;
}
}  // namespace

void register_executor_setup(const std::string& name, ExecutorSetup setup) {
  for (auto& [n, s] : setups())
    if (n == name) {
      s = std::move(setup);
      return;
    }
  setups().emplace_back(name, std::move(setup));
}

ModelExecutor::ModelExecutor(ir::Graph g, ExecutorPurpose p) : ex_(std::make_unique<Executor>(std::move(g))) {
  ex_->set_training(false);
  for (auto& [name, setup] : setups())
    if (auto e = setup(*ex_, p)) {
      ext_.push_back(std::move(e));
      applied_.push_back(name);
    }
}

ir::Graph ModelExecutor::finish() {
  ir::Graph& g = ex_->sync_to_graph();
  for (auto& e : ext_) e->finish(g);
  return g;
}

std::unique_ptr<ModelExecutor> make_model_executor(ir::Graph g, ExecutorPurpose p) {
  return std::make_unique<ModelExecutor>(std::move(g), p);
}

}  // namespace shrink
