// shrink finetune: continue training a model, optionally distilling from a teacher model.
#include <cstdio>
#include <iostream>
#include <memory>

#include "compress/cli/common.h"
#include "compress/executor.h"
#include "compress/executor_setup.h"
#include "compress/ir/dataset.h"
#include "compress/ir/error.h"
#include "compress/ir/model_file.h"
#include "compress/recipe.h"

namespace shrink::cli {

int cmd_finetune(int argc, char** argv) {
  auto opts = make_options("finetune", "m.h5 --data DATASET [--teacher t.h5 --temperature 5 --alpha 2] [options] -o f.h5",
                           "Fine-tune a model on the train split (val accuracy after every epoch). With a "
                           "teacher the loss is CE + alpha * T^2 * KL(teacher || student) at temperature T.");
  opts.add_options()("o,output", "output model (.h5)", cxxopts::value<std::string>());
  add_data_options(opts);
  add_train_options(opts, recipe::default_finetune_options());
  add_dist_options(opts);
  opts.add_options("distillation")("teacher", "teacher model (.h5)", cxxopts::value<std::string>())(
      "temperature", "softmax temperature T", cxxopts::value<double>()->default_value("5"))(
      "alpha", "weight of the distillation term", cxxopts::value<double>()->default_value("2"));
  auto r = parse(opts, argc, argv, {"model-file"});
  if (!r) return 0;

  std::string in = input_file(*r, "model-file", "finetune", "the model to fine-tune, m.h5");
  std::string data = required(*r, "data", "finetune", "--data DATASET");
  std::string out = required(*r, "output", "finetune", "-o f.h5 (the output model)");
  require_output_folder(out);
  TrainOptions o = read_train_options(*r, recipe::default_finetune_options());
  std::string data_dir = (*r)["data-dir"].as<std::string>();

  std::unique_ptr<Executor> teacher;
  if (r->count("teacher")) {
    std::string t = (*r)["teacher"].as<std::string>();
    teacher = std::make_unique<Executor>(load_model_file(t));
    teacher->set_training(false);
    o.teacher = teacher.get();
    o.temperature = (*r)["temperature"].as<double>();
    o.alpha = (*r)["alpha"].as<double>();
    if (!(o.temperature > 0)) throw BadInput("--temperature must be > 0, got ", o.temperature);
    if (!(o.alpha >= 0)) throw BadInput("--alpha must be >= 0, got ", o.alpha);
  }
  // A quantized model is fine-tuned quantization-aware and its weights re-snapped afterwards.
  auto m = make_model_executor(load_model_file(in), ExecutorPurpose::Train);
  const ir::Dataset train_set = ir::load_dataset(data, ir::Split::Train, o.limit, data_dir);
  const ir::Dataset val = ir::load_dataset(data, ir::Split::Val, -1, data_dir);
  dist::Group group(read_dist_options(*r));  // data parallel: every rank loads the same model
  use_data_parallel(o, group);
  TrainResult tr = train(m->executor(), train_set, o, group.rank() == 0 ? &val : nullptr);  // rank 0 validates
  if (group.rank() != 0) return 0;  // rank 0 saves the model
  ir::Graph tuned = m->finish();
  double acc = -1;
  if (!tr.history.empty()) acc = tr.history.back().val_accuracy;
  if (acc < 0) {
    auto e = make_model_executor(tuned, ExecutorPurpose::Eval);
    acc = evaluate(e->executor(), val, 256, stderr_is_tty()).accuracy;
  }
  ir::save_model(tuned, out);
  std::printf("val accuracy %.4f (%lld images); wrote %s\n", acc, static_cast<long long>(val.size), out.c_str());
  return 0;
}

}  // namespace shrink::cli
