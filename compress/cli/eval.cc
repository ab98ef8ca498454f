// shrink eval: accuracy and mean cross-entropy loss of a model on a split (default test).
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "compress/cli/common.h"
#include "compress/executor.h"
#include "compress/executor_setup.h"
#include "compress/ir/dataset.h"
#include "compress/ir/error.h"

namespace shrink::cli {

int cmd_eval(int argc, char** argv) {
  auto opts = make_options("eval", "m.h5 --data DATASET [--split test|val|train] [--limit N] [--json]",
                           "Accuracy and loss of a model on a split of a data set.");
  add_data_options(opts);
  opts.add_options()("split", "test | val | train", cxxopts::value<std::string>()->default_value("test"))(
      "limit", "the first N samples of the split (-1: all)", cxxopts::value<int64_t>()->default_value("-1"))(
      "json", "print {\"accuracy\": A, \"loss\": L, \"n\": N} on stdout, nothing else");
  auto r = parse(opts, argc, argv, {"model-file"});
  if (!r) return 0;
  std::string in = input_file(*r, "model-file", "eval", "the model to evaluate, m.h5");
  std::string data = required(*r, "data", "eval", "--data DATASET");
  ir::Split split = ir::split_from_name((*r)["split"].as<std::string>());
  int64_t limit = (*r)["limit"].as<int64_t>();
  if (limit == 0 || limit < -1) throw BadInput("--limit must be -1 (all) or >= 1, got ", limit);
  bool json = r->count("json") > 0;

  auto m = make_model_executor(load_model_file(in), ExecutorPurpose::Eval);  // quantized: simulated
  const ir::Dataset d = ir::load_dataset(data, split, limit, (*r)["data-dir"].as<std::string>());
  EvalResult e = evaluate(m->executor(), d, 256, !json && stderr_is_tty());
  if (json) {
    std::cout << nlohmann::json{{"accuracy", e.accuracy}, {"loss", e.loss}, {"n", e.n}}.dump() << "\n";
  } else {
    std::printf("%s %s: accuracy %.4f, loss %.4f, n %lld\n", data.c_str(), ir::split_name(split), e.accuracy,
                e.loss, static_cast<long long>(e.n));
  }
  return 0;
}

}  // namespace shrink::cli
