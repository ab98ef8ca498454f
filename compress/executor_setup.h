// Executors for models that carry compression state: a small registry of setups (installed by
// the compression libraries at start-up) that put their hooks on an executor, so eval, infer,
// finetune and the recipe run a quantized (or otherwise compressed) model as it will run.
//
//   quant::register_all();                                   // in main(): registers "quant"
//   auto m = make_model_executor(ir::load_model("q.h5"), ExecutorPurpose::Train);
//   train(m->executor(), data, o);
//   ir::Graph tuned = m->finish();                           // synced, weights re-snapped
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compress/executor.h"

namespace shrink {

enum class ExecutorPurpose { Eval, Train };

/// What a setup leaves on an executor; destroyed (hooks removed) before the executor.
class ExecutorExtension {
 public:
  virtual ~ExecutorExtension() = default;
  /// After training: fix up the synced graph (e.g. snap weights back onto their grids).
  virtual void finish(ir::Graph& /*g*/) {}
};

/// Returns an extension if the setup applies to ex.graph(), else nullptr.
using ExecutorSetup = std::function<std::unique_ptr<ExecutorExtension>(Executor& ex, ExecutorPurpose p)>;

/// Registers (or replaces) the setup called `name`. Setups run in registration order.
void register_executor_setup(const std::string& name, ExecutorSetup setup);

class ModelExecutor {
 public:
  ModelExecutor(ir::Graph g, ExecutorPurpose p);
  Executor& executor() { return *ex_; }
  /// Names of the setups that applied.
  const std::vector<std::string>& applied() const { return applied_; }
  /// sync_to_graph() and every extension's finish(); returns the resulting graph.
  ir::Graph finish();

 private:
  std::unique_ptr<Executor> ex_;
  std::vector<std::unique_ptr<ExecutorExtension>> ext_;  // destroyed before ex_
  std::vector<std::string> applied_;
};

/// An executor for `g` with every registered setup that applies (eval mode for Eval).
std::unique_ptr<ModelExecutor> make_model_executor(ir::Graph g, ExecutorPurpose p);

}  // namespace shrink
