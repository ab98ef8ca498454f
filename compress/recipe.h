// Recipe engine: a YAML recipe (model source, data, seed, stages) validated against a registry
// of stages, then run stage after stage on one ir::Graph, writing every stage's model and a
// report (report.h) into an output folder.
//
//   recipe::Recipe r = recipe::load_recipe("recipes/default.yaml");  // BadInput file:line:col
//   recipe::apply_override(r, "train.epochs=1");
//   recipe::RunOptions o;  o.out_dir = "runs/demo";
//   recipe::RunSummary s = recipe::run_recipe(r, o);                  // s.report_html
//   o.resume = true;  recipe::run_recipe(r, o);   // after a kill: continues where it stopped
//
// Schema (docs/recipes.md is the user's reference):
//   name: STRING                                   (required)
//   model: {zoo: NAME} | {file: m.h5} | {onnx: m.onnx}
//   data: {dataset: SPEC, data_dir: DIR, calibration: N, val_limit: N, test_limit: N}
//   seed: INT    threads: INT (0 = all cores)
//   stages: [ {STAGE: {OPTION: VALUE, ...}}, ... ]  every STAGE a registered StageSpec
// Relative paths inside a recipe (model file, teacher file, data_dir) are relative to the folder
// of the recipe file.
//
// Adding a stage (later issues: prune, quantize, shunt, sweep): fill a StageSpec with its
// options (name, type, default, doc: the docs test checks that docs/recipes.md names every
// option) and a run function that reads them into the pass's options struct, transforms
// ctx.model, and call register_stage() before the recipe is loaded (the CLI calls each
// library's registration function at start-up).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "compress/ir/dataset.h"
#include "compress/ir/graph.h"
#include "compress/recipe_spec.h"
#include "compress/train.h"

namespace shrink::dist {
class Group;
}

namespace shrink::recipe {

/// Reads the training keys shared by `train` and `finetune` (epochs, batch_size, optimizer, lr,
/// momentum, weight_decay, schedule, limit) over `defaults`; checks their ranges.
TrainOptions read_train_options(const StageArgs& a, TrainOptions defaults);
/// The OptionSpecs of those keys with the given defaults (for a StageSpec).
std::vector<OptionSpec> train_option_specs(const TrainOptions& defaults);
/// Range checks shared by the CLI and the recipe (epochs >= 0, lr > 0, known optimizer and
/// schedule, ...): calls fail(key, message) for the first bad field (key as in the recipe,
/// e.g. "batch_size"; the CLI maps it to its flag). fail must throw.
void check_train_options(const TrainOptions& o,
                         const std::function<void(const std::string& key, const std::string& msg)>& fail);
/// The `distill` map of stages that fine-tune ({teacher: original | FILE, temperature, alpha}),
/// its checks, and the teacher it names (nullptr without `distill`; sets o.teacher,
/// o.temperature, o.alpha and ctx.extra["teacher"]). Keep the executor alive while training.
struct StageContext;
OptionSpec distill_option_spec();
void check_distill(const StageArgs& a);
std::unique_ptr<Executor> make_teacher(StageContext& ctx, const StageArgs& a, TrainOptions& o);
/// Defaults of the `train` command / stage and of `finetune` (smaller lr, 1 epoch).
TrainOptions default_train_options();
TrainOptions default_finetune_options();

/// A zoo model shaped for a data set (input shape and class count from the data) with its
/// metadata (mean / std / labels) filled from that data.
ir::Graph zoo_model_for(const std::string& zoo_name, const ir::Dataset& data, uint64_t seed);

/// Loads splits of one data set once and keeps them (keyed by split and limit).
class DataSource {
 public:
  DataSource(std::string spec, std::string data_dir) : spec_(std::move(spec)), dir_(std::move(data_dir)) {}
  const ir::Dataset& get(ir::Split split, int64_t limit = -1);
  const std::string& spec() const { return spec_; }

 private:
  std::string spec_, dir_;
  std::map<std::pair<int, int64_t>, ir::Dataset> cache_;
};

/// What a stage's run function gets and fills.
struct StageContext {
  StageContext(const Recipe& r, DataSource& d) : recipe(r), data(d) {}
  const Recipe& recipe;
  DataSource& data;
  int index = 0;            ///< 1-based position in the recipe
  std::string dir;          ///< stages/NN-name/ (exists); write files here
  ir::Graph model;          ///< input model; leave the stage's output here
  const ir::Graph* original = nullptr;  ///< before compression (for `teacher: original`)
  /// Epoch checkpoints of the stage's training (resumable runs): stages copy it into the
  /// TrainOptions of every train() they call (o.checkpoint = ctx.checkpoint). Never null.
  std::shared_ptr<TrainCheckpoint> checkpoint = std::make_shared<TrainCheckpoint>();
  /// The job's processes in a distributed run (null: one process). Every rank runs every stage on
  /// the same model; stages train data-parallel (prepare) and shard sweeps (dist::shard_sweep).
  dist::Group* group = nullptr;
  /// What every train() a stage calls needs: o.checkpoint = checkpoint, and data parallelism
  /// over `group` (dist::use_data_parallel).
  void prepare(TrainOptions& o) const;
  // Filled by the stage:
  double accuracy = -1;     ///< measured by the stage (else the engine measures it on val)
  std::string accuracy_split;
  int64_t accuracy_n = 0;
  std::vector<std::string> files;   ///< files written besides model.h5 (exports)
  nlohmann::json extra = nlohmann::json::object();  ///< stage-specific numbers for report.json
  /// Sections of report.html: (title, trusted HTML fragment, escaped where needed).
  std::vector<std::pair<std::string, std::string>> sections;
};

struct RunOptions {
  std::string out_dir;         ///< empty: runs/<recipe name>
  bool dry_run = false;        ///< validate and print the plan; write nothing
  /// Continue the run in out_dir (docs/recipes.md "Resuming a run"): finished stages are
  /// reloaded, the interrupted one continues from its last epoch checkpoint. BadInput when
  /// out_dir holds a run of another recipe; a folder with no run starts one. Without it, a
  /// run starts afresh and overwrites what it writes (out_dir/checkpoint/ is emptied first).
  bool resume = false;
  int threads = -1;            ///< >= 0 overrides the recipe's threads (set by the CLI)
  /// A distributed run (docs/scaling.md): every rank runs the recipe; rank 0 alone writes
  /// out_dir (stage models, exports, checkpoints, the report) and the others write the stages'
  /// files into a temporary folder they remove, and read out_dir's checkpoints with --resume.
  dist::Group* group = nullptr;
  std::ostream* out = nullptr; ///< progress lines (default std::cout)
};

struct RunSummary {
  std::string out_dir;       ///< absolute
  std::string report_json, report_html;  ///< absolute paths
  double test_accuracy = -1;
  int64_t size_bytes = 0;    ///< final model file
  // The last export stage's runtime measurement of model.shr (runtime_accuracy -1: none).
  double runtime_accuracy = -1;
  int64_t runtime_file_bytes = 0, runtime_arena_bytes = 0;
  std::string runtime_file;  ///< absolute
};

/// The resolved plan (recipe with every default filled in), as printed by --dry-run.
std::string describe_plan(const Recipe& r, const RunOptions& o);
/// Runs every stage; writes out_dir/stages/NN-name/model.h5, report.json, report.html, and
/// out_dir/checkpoint/ (run.json: the recipe's hash; NN-name.json: a finished stage's report
/// row; NN-name.train-K.pt: epoch checkpoints of the stage being run).
RunSummary run_recipe(const Recipe& r, const RunOptions& o);


}  // namespace shrink::recipe
