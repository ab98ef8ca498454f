// shrink shunt: Knowledge Quotient of residual blocks (--kq-only), and a run of blocks replaced by
// a shunt trained by feature matching, then the whole model fine-tuned with knowledge
// distillation from the original (shunt/shunt.h, docs/shunt.md).
#include <cstdio>
#include <iostream>

#include "compress/cli/common.h"
#include "compress/ir/dataset.h"
#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "compress/ir/model_file.h"
#include "compress/recipe.h"
#include "shunt/shunt.h"

namespace shrink::cli {

int cmd_shunt(int argc, char** argv) {
  auto opts = make_options(
      "shunt",
      "m.h5 --data DATASET (--kq-only | --blocks I-J [--arch NAME] | --auto [--max-kq K]) [--epochs E] -o s.h5",
      "Rank the residual blocks by their Knowledge Quotient (KQ = 1 - acc without the block / acc), replace a run of "
      "blocks by a shunt, train it alone against the run's output, then fine-tune the whole model with knowledge "
      "distillation from the original. docs/shunt.md.");
  add_data_options(opts);
  opts.add_options()("o,output", "output model (.h5)", cxxopts::value<std::string>())(
      "kq-only", "print the KQ table and stop")("json", "print JSON instead of tables")(
      "blocks", "the run to replace: I-J (block ids or names, e.g. 8-10 or block8-block10)",
      cxxopts::value<std::string>())("auto", "choose the run from the KQs (most MACs saved with summed KQ <= --max-kq)")(
      "max-kq", "--auto: bound on the run's summed KQ", cxxopts::value<double>()->default_value("0.1"))(
      "arch", "shunt architecture: arch1 | arch2 | arch3 | arch4", cxxopts::value<std::string>()->default_value("arch1"))(
      "width", "hidden channels per output channel (0: the architecture's default)",
      cxxopts::value<double>()->default_value("0"))(
      "kq", "--auto: reuse the KQ table of --kq-only --json (a .json file) instead of measuring it",
      cxxopts::value<std::string>())(
      "limit", "val images for the KQs and accuracies (-1: all)", cxxopts::value<int64_t>()->default_value("-1"));
  opts.add_options("training")("shunt-epochs", "phase 1: epochs training the shunt alone (feature matching)",
                               cxxopts::value<int>()->default_value("2"))(
      "shunt-lr", "phase 1 learning rate", cxxopts::value<double>()->default_value("0.001"))(
      "epochs", "phase 2: epochs fine-tuning the whole model", cxxopts::value<int>()->default_value("1"))(
      "lr", "phase 2 learning rate", cxxopts::value<double>()->default_value("0.0001"))(
      "batch-size", "samples per optimizer step", cxxopts::value<int64_t>()->default_value("64"))(
      "train-limit", "train on the first N training samples (-1: all)", cxxopts::value<int64_t>()->default_value("-1"))(
      "no-kd", "phase 2 without knowledge distillation (cross-entropy only)")(
      "temperature", "KD softmax temperature T", cxxopts::value<double>()->default_value("5"))(
      "alpha", "KD weight (lambda)", cxxopts::value<double>()->default_value("2"))(
      "compare-plain", "also fine-tune without KD from the same start and report both");
  add_dist_options(opts);
  auto r = parse(opts, argc, argv, {"model-file"});
  if (!r) return 0;
  const std::string in = input_file(*r, "model-file", "shunt", "the model, m.h5");
  const std::string data = required(*r, "data", "shunt", "--data DATASET");
  const bool kq_only = r->count("kq-only") > 0, automatic = r->count("auto") > 0, json = r->count("json") > 0;
  if (kq_only + automatic + (r->count("blocks") > 0) != 1)
    throw BadInput("shunt: give exactly one of --kq-only, --blocks I-J and --auto");
  std::string out;
  if (!kq_only) {
    out = required(*r, "output", "shunt", "-o s.h5 (the output model)");
    require_output_folder(out);
  }
  const int64_t limit = (*r)["limit"].as<int64_t>();
  if (limit == 0 || limit < -1) throw BadInput("--limit must be -1 (all) or >= 1, got ", limit);

  shunt::ShuntOptions o;
  o.spec.arch = (*r)["arch"].as<std::string>();
  o.spec.width = (*r)["width"].as<double>();
  o.spec.seed = seed(*r);
  shunt::check_spec(o.spec);
  const double max_kq = (*r)["max-kq"].as<double>();
  o.shunt_train.epochs = (*r)["shunt-epochs"].as<int>();
  o.shunt_train.lr = (*r)["shunt-lr"].as<double>();
  o.finetune.epochs = (*r)["epochs"].as<int>();
  o.finetune.lr = (*r)["lr"].as<double>();
  for (TrainOptions* t : {&o.shunt_train, &o.finetune}) {
    t->batch_size = (*r)["batch-size"].as<int64_t>();
    t->limit = (*r)["train-limit"].as<int64_t>();
    t->seed = o.spec.seed;
    t->progress = stderr_is_tty();
  }
  o.finetune.temperature = (*r)["temperature"].as<double>();
  o.finetune.alpha = r->count("no-kd") ? 0.0 : (*r)["alpha"].as<double>();
  o.compare_plain = r->count("compare-plain") > 0;
  recipe::check_train_options(o.shunt_train, [](const std::string& k, const std::string& m) {
    throw BadInput("--", k == "epochs" ? "shunt-epochs" : k == "lr" ? "shunt-lr" : k, " ", m);
  });
  recipe::check_train_options(o.finetune, [](const std::string& k, const std::string& m) {
    throw BadInput("--", k == "limit" ? "train-limit" : k, " ", m);
  });
  if (!(o.finetune.temperature > 0)) throw BadInput("--temperature must be > 0");
  if (!(o.finetune.alpha >= 0)) throw BadInput("--alpha must be >= 0");
  const dist::Options dop = read_dist_options(*r);

  const ir::Graph g = load_model_file(in);
  const std::vector<shunt::Block> blocks = shunt::find_blocks(g);
  shunt::residual_blocks(blocks, g.meta.name);  // a model without residual blocks stops here
  shunt::Run run;
  if (r->count("blocks")) {  // checked before any data is read
    auto [first, last] = shunt::parse_block_range(blocks, (*r)["blocks"].as<std::string>());
    run = shunt::make_run(blocks, first, last);
  }
  const std::string data_dir = (*r)["data-dir"].as<std::string>();
  const ir::Dataset val = ir::load_dataset(data, ir::Split::Val, limit, data_dir);
  nlohmann::json report = nlohmann::json::object();
  if (kq_only || automatic) {
    shunt::KqTable kq;
    if (r->count("kq") && automatic) {
      const std::string file = (*r)["kq"].as<std::string>();
      require_file(file, "--kq (a KQ table)");
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(ir::read_file(file));
      } catch (const nlohmann::json::exception& e) {
        throw BadInput(file, ": not JSON: ", e.what());
      }
      kq = shunt::kq_from_json(j, blocks, file);
    } else {
      kq = shunt::knowledge_quotients(g, val, stderr_is_tty());
    }
    report = shunt::kq_to_json(kq);
    if (!json && dop.rank == 0) std::cout << shunt::kq_to_table(kq) << std::flush;
    if (kq_only) {
      if (json && dop.rank == 0) std::cout << report.dump(2) << "\n";
      return 0;
    }
    run = shunt::choose_run(g, kq, o.spec, max_kq);
    report["run_kq"] = shunt::run_kq(kq, run);
    if (!json && dop.rank == 0)
      std::printf("auto: blocks %d-%d (%s to %s), summed KQ %.4f, %lld MACs\n", run.first, run.last,
                  blocks[static_cast<size_t>(run.first)].name.c_str(), blocks[static_cast<size_t>(run.last)].name.c_str(),
                  shunt::run_kq(kq, run), static_cast<long long>(run.macs));
  }
  const ir::Dataset train_set = ir::load_dataset(data, ir::Split::Train, o.finetune.limit, data_dir);
  // Data parallel training (docs/scaling.md): every rank trains its slice of every batch of both
  // phases; rank 0 writes the model and the report.
  dist::Group group(dop);
  use_data_parallel(o.shunt_train, group);
  use_data_parallel(o.finetune, group);
  shunt::ShuntResult res = shunt::shunt_model(g, run, o, train_set, val);
  if (group.rank() != 0) return 0;
  ir::save_model(res.model, out);
  nlohmann::json rj = shunt::result_to_json(res, o.spec);
  for (auto it = rj.begin(); it != rj.end(); ++it) report[it.key()] = it.value();
  report["output"] = out;
  if (json) {
    std::cout << report.dump(2) << "\n";
    return 0;
  }
  std::printf("shunt %s over blocks %d-%d: MACs %lld -> %lld (-%.1f%%), params %lld -> %lld\n", o.spec.arch.c_str(),
              run.first, run.last, static_cast<long long>(res.macs_before), static_cast<long long>(res.macs_after),
              100.0 * (1.0 - static_cast<double>(res.macs_after) / static_cast<double>(res.macs_before)),
              static_cast<long long>(res.params_before), static_cast<long long>(res.params_after));
  std::printf("val accuracy (%lld images): original %.4f, shunt inserted %.4f, shunt trained %.4f (feature MSE %.4g -> %.4g), "
              "fine-tuned with KD %.4f",
              static_cast<long long>(val.size), res.accuracy_original, res.accuracy_inserted, res.accuracy_shunt_trained,
              res.mse_before, res.mse_after, res.accuracy_kd);
  if (res.accuracy_plain >= 0) std::printf(", fine-tuned without KD %.4f", res.accuracy_plain);
  std::printf("; wrote %s\n", out.c_str());
  return 0;
}

}  // namespace shrink::cli
