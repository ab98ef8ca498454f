// Training, fine-tuning (optionally distilling from a teacher) and evaluation loops.
//
//   TrainOptions o;  o.epochs = 2;  o.seed = 1;
//   TrainResult r = train(ex, train_set, o, &val_set);
//   EvalResult e = evaluate(ex, test_set);      // e.accuracy, e.loss, e.n
//
// Loss: cross-entropy; with a teacher, CE + alpha * T^2 * KL(softmax(t/T) || softmax(s/T))
// (Hinton et al.; alpha = 2, T = 5 in the shunt-connection paper).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "compress/executor.h"
#include "compress/ir/dataset.h"

namespace shrink {

struct TrainOptions {
  int epochs = 2;
  int64_t batch_size = 64;
  std::string optimizer = "adam";  ///< "adam" | "sgd"
  double lr = 1e-3;
  double momentum = 0.9;           ///< sgd
  double weight_decay = 0;
  std::string schedule = "cosine"; ///< "cosine" | "step" (x0.1 at 50% and 75%) | "constant"
  int64_t limit = -1;              ///< use the first N training samples
  uint64_t seed = 1;               ///< shuffling and dropout; same seed, same weights
  bool progress = true;            ///< progress bar on a terminal, plain lines otherwise
  // Knowledge distillation (optional).
  Executor* teacher = nullptr;
  double temperature = 5;
  double alpha = 2;
  /// Called after every optimizer step (global step, epoch); e.g. pruning schedules.
  std::function<void(int64_t step, int epoch)> on_step;
  /// Called after every epoch with its index (0-based).
  std::function<void(int epoch)> on_epoch;
};

struct EpochStats {
  int epoch = 0;
  double loss = 0, train_accuracy = 0;
  double val_accuracy = -1, val_loss = -1;  ///< -1 when no validation set
  double seconds = 0;
};

struct TrainResult {
  std::vector<EpochStats> history;
};

struct EvalResult {
  double accuracy = 0;
  double loss = 0;
  int64_t n = 0;
};

TrainResult train(Executor& model, const ir::Dataset& data, const TrainOptions& o,
                  const ir::Dataset* val = nullptr);
EvalResult evaluate(Executor& model, const ir::Dataset& data, int64_t batch_size = 256,
                    bool progress = false);

/// Sets meta.mean / meta.std from the data (per channel) if the model has none, and
/// meta.labels from the data set if empty.
void fill_metadata_from_data(ir::Graph& g, const ir::Dataset& data);

/// Sets LibTorch's intra-op threads; n <= 0 means all cores.
void set_threads(int n);

/// The loss train() minimises for one batch: mean cross-entropy of `student` logits {N, K}
/// against int64 `labels` {N}; when `teacher` logits are defined, plus
/// alpha * T^2 * mean over the batch of KL(softmax(teacher/T) || softmax(student/T)).
/// Throws BadInput when a label is outside [0, K).
torch::Tensor training_loss(const torch::Tensor& student, const torch::Tensor& labels,
                            const torch::Tensor& teacher = {}, double temperature = 5,
                            double alpha = 2);

/// Learning rate at optimizer step `step` (0-based) of `total` under o.schedule:
/// cosine lr * (1 + cos(pi * step / total)) / 2 (per step, towards 0); step: lr, x0.1 from
/// 50% of the steps, x0.01 from 75%; constant: lr. Throws BadInput for an unknown schedule.
double learning_rate(const TrainOptions& o, int64_t step, int64_t total);

/// A data set as torch tensors: x {N, sample_shape...} float32 and y {N} int64 (copies).
std::pair<torch::Tensor, torch::Tensor> dataset_to_torch(const ir::Dataset& data, int64_t limit = -1);

}  // namespace shrink
