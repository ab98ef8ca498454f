// Training, fine-tuning (optionally distilling from a teacher) and evaluation loops.
//
//   TrainOptions o;  o.epochs = 2;  o.seed = 1;
//   TrainResult r = train(ex, train_set, o, &val_set);
//   EvalResult e = evaluate(ex, test_set);      // e.accuracy, e.loss, e.n
//
// Loss: ce_weight * cross-entropy; with a teacher, + alpha * T^2 * KL(softmax(t/T) || softmax(s/T))
// (Hinton et al.; alpha = 2, T = 5 in the shunt-connection paper), + each feature term
// weight * fn(student node, teacher node) (distill/: feature matching, attention transfer).
// Only some nodes can train (`trainable`; the others are frozen, their BatchNorm included), and
// a student can start from the teacher's value of a node (`feed`): training a shunt alone
// against the teacher's feature map runs only the shunt.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compress/executor.h"
#include "compress/ir/dataset.h"

namespace shrink {

/// A feature loss between a student and a teacher value: (student, teacher) -> scalar.
using FeatureLossFn = std::function<torch::Tensor(const torch::Tensor& student, const torch::Tensor& teacher)>;

/// One extra training loss term: weight * fn(student's output of node `student`, teacher's output
/// of node `teacher`). Needs a teacher.
struct LossTerm {
  std::string kind;      ///< for messages ("mse", "attention")
  std::string student, teacher;
  double weight = 1;
  FeatureLossFn fn;
};

/// Feature-loss kinds by name, for recipes and commands. distill::register_losses() registers
/// "mse" and "attention"; feature_loss throws BadInput listing the known kinds.
void register_feature_loss(const std::string& kind, FeatureLossFn fn);
FeatureLossFn feature_loss(const std::string& kind);
std::vector<std::string> feature_loss_kinds();

/// Resumable training (`shrink run --resume`, docs/recipes.md "Resuming a run"). The train()
/// calls sharing one TrainCheckpoint are numbered in call order (0, 1, ...); call k keeps its
/// state in file(k), rewritten atomically after every epoch: every tensor of the executor
/// (parameters, BatchNorm statistics, pruning masks, centroids...), the optimizer state, the
/// state of LibTorch's default generator (dropout; the sample order is a function of seed and
/// epoch), the epoch reached and the history. When file(k) exists as call k starts, train()
/// checks it was written by the same training (same sizes, epochs, batches, tensors; else
/// BadInput), replays the callbacks of the epochs it skips (on_step for every step, then
/// on_epoch, in the order they ran) so callbacks that count steps (pruning schedules) catch
/// up, then restores the state (overwriting whatever the replayed callbacks did to tensors)
/// and goes on with the next epoch; a finished call returns at once with its saved history.
/// The weights then equal those of a run never stopped, bit for bit (same thread count).
///
///   auto ck = std::make_shared<TrainCheckpoint>();  ck->prefix = "run/checkpoint/02-finetune.";
///   o.checkpoint = ck;  train(ex, data, o);         // killed and started again: it continues
struct TrainCheckpoint {
  std::string prefix;  ///< file(k) = prefix + "train-<k>.pt"; the folder must exist
  int calls = 0;       ///< train() calls made so far (the number of the next one)
  std::string file(int k) const { return prefix + "train-" + std::to_string(k) + ".pt"; }
};

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
  /// Feature terms (need a teacher); every node named must exist in its model.
  std::vector<LossTerm> terms;
  /// Weight of the cross-entropy on labels. With ce_weight 0 and no KD term (no teacher or
  /// alpha 0) the student's logits are not computed: only what the terms need runs.
  double ce_weight = 1;
  /// Nodes whose tensors train (empty: every node). The others are frozen: not updated, and
  /// their BatchNorm keeps its running statistics.
  std::vector<std::string> trainable;
  /// Student nodes that take the teacher's output of the same-named node instead of computing
  /// it (the student must equal the teacher up to there: a frozen shared prefix).
  std::vector<std::string> feed;
  /// Called after every optimizer step (global step, epoch); e.g. pruning schedules.
  std::function<void(int64_t step, int epoch)> on_step;
  /// Called after every epoch with its index (0-based).
  std::function<void(int epoch)> on_epoch;
  /// Epoch checkpoints (null: none); copies of the options share it (see TrainCheckpoint). With
  /// data parallelism shard 0 writes them and every shard restores from them.
  std::shared_ptr<TrainCheckpoint> checkpoint;
  /// Data parallelism (docs/scaling.md): every global batch of batch_size samples is cut into
  /// shard_count contiguous slices and this process computes slice shard_rank, its loss weighted
  /// by slice / (batch / shard_count) so that the mean of the ranks' gradients is the
  /// single-process gradient. `average` (required when shard_count > 1; dist::Group::allreduce
  /// with Reduce::Avg) makes tensors equal to their mean over the ranks in place: it is called
  /// with the gradients after every backward, with the BatchNorm running statistics and the
  /// epoch's loss / accuracy sums after every epoch. Every rank must run the same options.
  int shard_rank = 0, shard_count = 1;
  std::function<void(std::vector<torch::Tensor>& tensors)> average;
};

struct EpochStats {
  int epoch = 0;
  double loss = 0, train_accuracy = 0;  ///< train_accuracy -1 when no logits were computed
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

/// The logit part of the loss train() minimises for one batch: ce_weight * mean cross-entropy
/// of `student` logits {N, K} against int64 `labels` {N}; when `teacher` logits are defined, plus
/// alpha * T^2 * mean over the batch of KL(softmax(teacher/T) || softmax(student/T)).
/// Throws BadInput when a label is outside [0, K).
torch::Tensor training_loss(const torch::Tensor& student, const torch::Tensor& labels,
                            const torch::Tensor& teacher = {}, double temperature = 5,
                            double alpha = 2, double ce_weight = 1);

/// Learning rate at optimizer step `step` (0-based) of `total` under o.schedule:
/// cosine lr * (1 + cos(pi * step / total)) / 2 (per step, towards 0); step: lr, x0.1 from
/// 50% of the steps, x0.01 from 75%; constant: lr. Throws BadInput for an unknown schedule.
double learning_rate(const TrainOptions& o, int64_t step, int64_t total);

/// A data set as torch tensors: x {N, sample_shape...} float32 and y {N} int64 (copies).
std::pair<torch::Tensor, torch::Tensor> dataset_to_torch(const ir::Dataset& data, int64_t limit = -1);

}  // namespace shrink
