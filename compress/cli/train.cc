// shrink train: a zoo model trained on a data set's train split, evaluated on val, saved.
#include <iostream>

#include "compress/cli/common.h"
#include "compress/executor.h"
#include "compress/ir/dataset.h"
#include "compress/ir/error.h"
#include "compress/ir/model_file.h"
#include "compress/recipe.h"
#include "compress/zoo.h"

namespace shrink::cli {

int cmd_train(int argc, char** argv) {
  auto opts = make_options("train", "--model NAME --data DATASET [options] -o m.h5",
                           "Train a zoo model (input shape, classes, mean / std and labels from the data) on "
                           "the train split, report val accuracy, save the model.");
  std::string zoo_names;
  for (const auto& n : zoo::names()) zoo_names += (zoo_names.empty() ? "" : " | ") + n;
  opts.add_options()("model", "zoo model: " + zoo_names, cxxopts::value<std::string>())(
      "o,output", "output model (.h5)", cxxopts::value<std::string>());
  add_data_options(opts);
  add_train_options(opts, recipe::default_train_options());
  add_dist_options(opts);
  auto r = parse(opts, argc, argv);
  if (!r) return 0;

  std::string model = required(*r, "model", "train", "--model NAME (a zoo model: " + zoo_names + ")");
  std::string data = required(*r, "data", "train", "--data DATASET");
  std::string out = required(*r, "output", "train", "-o m.h5 (the output model)");
  require_output_folder(out);
  TrainOptions o = read_train_options(*r, recipe::default_train_options());
  std::string data_dir = (*r)["data-dir"].as<std::string>();
  const dist::Options dop = read_dist_options(*r);

  // The full train split gives the shapes and the normalization; training may use a prefix.
  const ir::Dataset full = ir::load_dataset(data, ir::Split::Train, -1, data_dir);
  ir::Graph g = recipe::zoo_model_for(model, full, o.seed);
  ir::Dataset limited;
  if (o.limit > 0 && o.limit < full.size) limited = ir::load_dataset(data, ir::Split::Train, o.limit, data_dir);
  const ir::Dataset& train_set = limited.size > 0 ? limited : full;
  const ir::Dataset val = ir::load_dataset(data, ir::Split::Val, -1, data_dir);

  Executor ex(std::move(g));
  dist::Group group(dop);  // data parallel: every rank starts from the same seeded model
  use_data_parallel(o, group);
  if (group.rank() == 0)
    std::cout << "training " << model << " on " << train_set.size << " images of " << data << " for " << o.epochs
            << " epoch(s)\n" << std::flush;
  TrainResult tr = train(ex, train_set, o, group.rank() == 0 ? &val : nullptr);  // rank 0 validates
  if (group.rank() != 0) return 0;  // rank 0 saves the model
  ir::Graph& trained = ex.sync_to_graph();
  double acc = -1;
  if (!tr.history.empty()) acc = tr.history.back().val_accuracy;
  if (acc < 0) {
    ex.set_training(false);
    acc = evaluate(ex, val, 256, stderr_is_tty()).accuracy;
  }
  ir::save_model(trained, out);
  std::printf("val accuracy %.4f (%lld images); wrote %s\n", acc, static_cast<long long>(val.size), out.c_str());
  return 0;
}

}  // namespace shrink::cli
