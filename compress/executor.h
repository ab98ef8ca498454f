// Runs an ir::Graph with LibTorch ops, differentiably. Training, fine-tuning and distillation
// all go through it; passes change what runs through hooks, never by editing the executor.
//
//   Executor ex(ir::load_model("m.h5"));
//   ex.set_training(false);
//   torch::Tensor logits = ex.forward(x);          // x: {N, C, H, W} raw input in [0, 1]
//   int id = ex.add_hook({.weight = fake_quant});  // every node; or name a node
//   ir::Graph trained = ex.sync_to_graph();        // torch values written back to the IR
//
// Input normalization (meta.mean / meta.std) is applied inside forward(): callers pass raw
// data, exactly as the runtime receives it. Ops run in the dtype they receive: float32 by
// default, float64 when hooks turn the input and weights into double (exact simulation).
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "compress/ir/graph.h"

namespace shrink {

/// A pass's hooks. Any may be empty.
struct NodeHooks {
  /// Called for each tensor a node uses ("weight", "bias", ...) before the op runs; returns the
  /// tensor the op uses instead (fake quantization, masks). Gradients flow through it.
  std::function<torch::Tensor(const ir::Node&, const std::string& key, const torch::Tensor&)> weight;
  /// Called on a node's output; returns the tensor its consumers see.
  std::function<torch::Tensor(const ir::Node&, const torch::Tensor&)> output;
  /// Called on the network input after normalization (node is a dummy named Graph::kInput).
  std::function<torch::Tensor(const torch::Tensor&)> input;
  /// Replaces a node's op: gets the node and its inputs (as the consumers see them) and returns
  /// the node's output (output hooks still run on it), or an undefined tensor to run the op as
  /// usual. The first hook returning a defined tensor wins. (Integer Add / lookup tables of the
  /// quantization simulation.)
  std::function<torch::Tensor(const ir::Node&, const std::vector<torch::Tensor>& inputs)> op;
};

/// Tensor keys of pruning masks (prune/): a 0/1 "weight_mask" of the weight's shape, enforced on
/// every use of the weight (training cannot revive a pruned weight), and a 0/1 "out_mask" {C}
/// that zeroes output channels (structured pruning before the channels are physically removed).
inline constexpr const char* kWeightMask = "weight_mask";
inline constexpr const char* kOutMask = "out_mask";

class Executor {
 public:
  /// Takes the graph (shapes are inferred if missing) and creates one torch tensor per IR
  /// tensor: weights and biases of Conv2d / Linear and BatchNorm gamma / beta are trainable,
  /// BatchNorm running statistics are buffers, any other tensor (masks...) is a constant.
  explicit Executor(ir::Graph graph);

  /// x: {N, input_shape...} float32. Returns the outputs of graph.outputs[0].
  torch::Tensor forward(const torch::Tensor& x);
  /// Like forward, but also returns the outputs of the named nodes (for feature distillation,
  /// activation statistics). The returned map holds every requested name and "output".
  /// With `with_output` false only the named nodes (and what they need) run, and "output" is
  /// absent (feature distillation of a part of the network).
  std::map<std::string, torch::Tensor> forward_with(const torch::Tensor& x,
                                                    const std::vector<std::string>& names,
                                                    bool with_output = true);
  /// Runs only the part of the graph the outputs (and `names`) still need, given some values:
  /// `given` maps node names (or Graph::kInput, normalized) to their outputs as consumers see
  /// them (after hooks). Given nodes do not run; nodes only they depend on do not run either.
  /// (Sweeps cache the fp32 values entering a layer and rerun only the suffix from it.)
  std::map<std::string, torch::Tensor> forward_from(const std::map<std::string, torch::Tensor>& given,
                                                    const std::vector<std::string>& names = {},
                                                    bool with_output = true);

  /// Train mode: BatchNorm uses batch statistics and updates its running statistics.
  void set_training(bool on);
  bool training() const { return training_; }
  /// Nodes whose BatchNorm stays in inference mode (running statistics used, not updated) even
  /// in train mode: the frozen part of a network while another part trains.
  void set_frozen(std::set<std::string> nodes) { frozen_ = std::move(nodes); }
  const std::set<std::string>& frozen() const { return frozen_; }

  /// Trainable tensors (requires_grad), in graph order.
  std::vector<torch::Tensor> parameters() const;
  /// Trainable tensors by "node/key".
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() const;
  /// The torch tensor behind an IR tensor; throws BadInput if absent.
  torch::Tensor& tensor(const std::string& node, const std::string& key);
  /// Adds or replaces an IR tensor (a constant unless `trainable`).
  void set_tensor(const std::string& node, const std::string& key, torch::Tensor t,
                  bool trainable = false);

  /// Hooks for one node (node_name) or for all (empty name). Returns an id for remove_hook.
  int add_hook(NodeHooks hooks, const std::string& node_name = "");
  void remove_hook(int id);

  /// Copies every torch tensor back into the IR and returns the graph.
  ir::Graph& sync_to_graph();
  const ir::Graph& graph() const { return graph_; }
  /// The graph itself (structure and state); tensors there are stale until sync_to_graph().
  ir::Graph& graph() { return graph_; }

 private:
  ir::Graph graph_;
  bool training_ = false;
  std::set<std::string> frozen_;
  std::map<std::string, std::map<std::string, torch::Tensor>> tensors_;
  std::map<std::string, std::map<std::string, bool>> trainable_;
  struct HookEntry { int id; std::string node; NodeHooks hooks; };
  std::vector<HookEntry> hooks_;
  int next_hook_id_ = 1;
  torch::Tensor run_node(const ir::Node& n, const std::vector<torch::Tensor>& in);
  std::map<std::string, torch::Tensor> run_graph(std::map<std::string, torch::Tensor> values,
                                                 const std::set<std::string>& wanted, bool with_output);
};

/// Converts IR tensors and data to torch and back.
torch::Tensor to_torch(const ir::Tensor& t);
ir::Tensor from_torch(const torch::Tensor& t);

}  // namespace shrink
