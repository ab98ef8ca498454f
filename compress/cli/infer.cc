// shrink infer: run a model on a .npy input ({input_shape...} or {N, input_shape...}, float32,
// raw data as the runtime receives it) and write the outputs as float32 .npy ({N, outputs...},
// or the output without the batch dimension for an unbatched input).
#include <algorithm>
#include <cstdio>

#include "compress/cli/common.h"
#include "compress/executor.h"
#include "compress/executor_setup.h"
#include "compress/ir/error.h"
#include "compress/ir/npy.h"

namespace shrink::cli {

int cmd_infer(int argc, char** argv) {
  auto opts = make_options("infer", "m.h5 --input x.npy -o y.npy",
                           "Run a model on a NumPy array and write its outputs (float32 .npy).");
  opts.add_options()("input", "input .npy, float32, shape {input_shape...} or {N, input_shape...}",
                     cxxopts::value<std::string>())("o,output", "output .npy", cxxopts::value<std::string>())(
      "batch-size", "samples per forward pass", cxxopts::value<int64_t>()->default_value("256"));
  auto r = parse(opts, argc, argv, {"model-file"});
  if (!r) return 0;
  std::string in = input_file(*r, "model-file", "infer", "the model, m.h5");
  std::string xpath = input_file(*r, "input", "infer", "--input x.npy");
  std::string out = required(*r, "output", "infer", "-o y.npy (the output)");
  require_output_folder(out);
  int64_t batch = (*r)["batch-size"].as<int64_t>();
  if (batch < 1) throw BadInput("--batch-size must be >= 1, got ", batch);

  auto m = make_model_executor(load_model_file(in), ExecutorPurpose::Eval);  // quantized: simulated
  Executor& ex = m->executor();
  const ir::Shape& in_shape = ex.graph().meta.input_shape;
  ir::NpyArray x = ir::read_npy(xpath);
  if (x.is_int64) throw BadInput(xpath, ": expected a float32 array of shape {N, ", ir::shape_str(in_shape), "}, got int64");
  bool batched;
  if (x.shape == in_shape) {
    batched = false;
  } else if (x.shape.size() == in_shape.size() + 1 && std::equal(in_shape.begin(), in_shape.end(), x.shape.begin() + 1)) {
    batched = true;
  } else {
    throw BadInput(xpath, ": shape ", ir::shape_str(x.shape), " does not match the model's input ",
                   ir::shape_str(in_shape), " (expected ", ir::shape_str(in_shape), " or {N, ",
                   ir::shape_str(in_shape).substr(1, ir::shape_str(in_shape).size() - 2), "})");
  }
  const int64_t n = batched ? x.shape[0] : 1;
  std::vector<int64_t> dims = {n};
  dims.insert(dims.end(), in_shape.begin(), in_shape.end());
  torch::Tensor all = torch::from_blob(x.f32.data(), dims, torch::kFloat32);

  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> outs;
  for (int64_t s = 0; s < n; s += batch) outs.push_back(ex.forward(all.slice(0, s, std::min(n, s + batch))));
  torch::Tensor y = n > 0 ? torch::cat(outs, 0).contiguous() : torch::empty({0});
  ir::Tensor t = from_torch(y.to(torch::kFloat32));
  if (!batched) t.shape.erase(t.shape.begin());
  ir::write_npy(out, t);
  std::printf("wrote %s %s\n", out.c_str(), ir::shape_str(t.shape).c_str());
  return 0;
}

}  // namespace shrink::cli
