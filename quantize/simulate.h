// Simulation of a quantized model (state "quant", quantize_model.h) in the LibTorch executor,
// through its hooks. The hooks are installed by the constructor and removed by the destructor.
//
//   Executor ex(ir::load_model("q.h5"));
//   { quant::Simulation sim(ex, quant::SimMode::Exact);  auto logits = ex.forward(x); }
//
// Exact: float64, every tensor of the integer part holds q * 2^-FL exactly, so the results are
//   the integers of DESIGN.md "Fixed-point arithmetic" bit for bit (docs/quantization.md,
//   "Simulation"); the last integer tensor is dequantized to float32 and a final Softmax runs in
//   float32. For evaluation (no gradients).
// Train: float32 fake quantization with the straight-through estimator (x + (fq(x) - x).detach());
//   fixed-point weights keep fp32 shadow copies in the executor; k-means weights are
//   centroids[indices] with the centroids a trainable executor tensor "centroids" (each centroid's
//   gradient is the sum of its members'). After training, finish_training() snaps them back.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "compress/executor.h"
#include "quantize/lut.h"
#include "quantize/quantize_model.h"

namespace shrink::quant {

enum class SimMode { Exact, Train };

class Simulation {
 public:
  /// Throws BadInput if the executor's graph is not quantized or its state is malformed.
  Simulation(Executor& ex, SimMode mode);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;
  const ModelQuant& formats() const { return mq_; }

 private:
  Executor& ex_;
  SimMode mode_;
  ModelQuant mq_;
  std::map<std::string, Lut> luts_;
  std::map<std::string, torch::Tensor> index_;  ///< kmeans: int64 indices, flat
  std::map<std::string, bool> to_float_;        ///< integer nodes whose output leaves the integer part
  int hook_ = -1;

  torch::Tensor exact_weight(const ir::Node& n, const std::string& key, const torch::Tensor& t);
  torch::Tensor exact_op(const ir::Node& n, const std::vector<torch::Tensor>& in);
  torch::Tensor exact_output(const ir::Node& n, const torch::Tensor& y);
  torch::Tensor train_weight(const ir::Node& n, const std::string& key, const torch::Tensor& t);
  torch::Tensor train_output(const ir::Node& n, const torch::Tensor& y);
};

/// After training with a Train-mode simulation: copies the executor's tensors to its graph,
/// snaps the weights back onto their grids (snap_weights) and returns the graph.
ir::Graph finish_training(Executor& ex);

/// Integers of a tensor on the grid of FL (x * 2^FL, exact), as int64; for tests and exporters.
torch::Tensor to_integers(const torch::Tensor& x, int fl);
/// Dequantized fixed-point values in double: fx::dequantize(fx::quantize(x, bits, fl), fl).
torch::Tensor fake_quantize_double(const torch::Tensor& x, QFormat f);

/// Cells counted by average pooling at each output position ({OH, OW}, int64), DESIGN.md's rule:
/// with count_include_pad the window's cells inside the padded input, else inside the input.
std::vector<int64_t> avg_pool_counts(const ir::Node& n, int64_t h, int64_t w, int64_t oh, int64_t ow);

}  // namespace shrink::quant
