// The shunt pass: choose a run of blocks (by id or automatically from the Knowledge Quotients),
// replace it by a shunt, train the shunt alone by feature matching against the original run's
// output (everything else frozen), then fine-tune the whole model with knowledge distillation
// from the original (docs/shunt.md).
//
//   shunt::ShuntOptions o;  o.spec.arch = "arch1";  o.finetune.epochs = 2;
//   shunt::Run run = shunt::choose_run(g, kq, o.spec, /*max_kq=*/0.15);   // or make_run(blocks, 8, 10)
//   shunt::ShuntResult r = shunt::shunt_model(g, run, o, train_set, val);
//   r.model;  r.accuracy_inserted, r.accuracy_shunt_trained, r.accuracy_kd, r.macs_after
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress/ir/dataset.h"
#include "compress/ir/graph.h"
#include "compress/train.h"
#include "shunt/arch.h"
#include "shunt/blocks.h"

namespace shrink::shunt {

/// The run --auto picks. Candidates: runs of consecutive blocks before the first block whose
/// output is not {C, H, W}, not reading the model's input, ending at a residual block and
/// starting at a residual block or at the block just before one (the stage's first block, which
/// may change stride and channels), that a shunt fits. Among those whose residual blocks' KQs sum
/// to at most max_kq (a non-residual block has no KQ), the one saving the most MACs (run MACs -
/// shunt MACs); ties: the lower KQ sum. Throws BadInput when no run qualifies.
Run choose_run(const ir::Graph& g, const KqTable& kq, const ShuntSpec& s, double max_kq);
/// Summed KQ of the residual blocks of a run.
double run_kq(const KqTable& kq, const Run& run);

struct ShuntOptions {
  ShuntSpec spec;
  /// Phase 1, the shunt alone (feature-matching MSE; ce and KD off). Defaults: 2 epochs, lr 1e-3.
  TrainOptions shunt_train;
  /// Phase 2, the whole model with KD (teacher, temperature, alpha set here; teacher = the
  /// original when null). Defaults: 1 epoch, lr 1e-4, T 5, alpha 2.
  TrainOptions finetune;
  /// Also fine-tune the phase-1 model without KD (same options, alpha 0) and report it.
  bool compare_plain = false;
  ShuntOptions();
};

struct ShuntResult {
  ir::Graph model;                 ///< after phase 2 (KD)
  std::optional<ir::Graph> plain;  ///< after phase 2 without KD (compare_plain)
  Run run;
  std::vector<std::string> shunt_nodes;
  int64_t shunt_macs = 0, macs_before = 0, macs_after = 0;
  int64_t params_before = 0, params_after = 0;
  double accuracy_original = -1, accuracy_inserted = -1, accuracy_shunt_trained = -1, accuracy_kd = -1,
         accuracy_plain = -1;
  double mse_before = -1, mse_after = -1;  ///< shunt output vs the run's output on val, before / after phase 1
};

/// Runs the pass. `val` measures every accuracy; `train` is what phases 1 and 2 train on.
ShuntResult shunt_model(const ir::Graph& g, const Run& run, const ShuntOptions& o, const ir::Dataset& train,
                        const ir::Dataset& val);

/// Mean squared error between the shunt's output in `shunted` and the run's output in `original`
/// on `data` (the shunt reads the original's value of the run's entry).
double shunt_mse(const ir::Graph& original, const ir::Graph& shunted, const Run& run, const std::string& shunt_out,
                 const ir::Dataset& data);

/// {"accuracy", "images", "macs", "blocks": [{"id", "name", "macs", "accuracy_without", "kq"}...]}
nlohmann::json kq_to_json(const KqTable& t);
/// The table kq_to_json wrote, for the same model (block ids and names must match `blocks`);
/// BadInput naming the file otherwise.
KqTable kq_from_json(const nlohmann::json& j, const std::vector<Block>& blocks, const std::string& file);
/// A fixed-width table: id, name, MACs, KQ.
std::string kq_to_table(const KqTable& t);
/// Everything a report shows: run, shunt, MACs before / after, the accuracies.
nlohmann::json result_to_json(const ShuntResult& r, const ShuntSpec& s);
/// report.html's section: the KQ table with a bar chart (when kq has rows), the run, the MACs
/// before and after, the accuracy after insertion, shunt training and fine-tuning.
std::string result_to_html(const ShuntResult& r, const ShuntSpec& s, const KqTable* kq);

}  // namespace shrink::shunt
