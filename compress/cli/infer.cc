// shrink infer: run a model on a .npy input ({input_shape...} or {N, input_shape...}, float32,
// raw data as the runtime receives it) and write the outputs as float32 .npy ({N, outputs...},
// or the output without the batch dimension for an unbatched input). --dump-layers DIR also writes
// every node's output as consumers see it (quantized models: the simulation's dequantized values)
// as DIR/<node name>.npy ('/' and '\' in names become '_'), and the input as the first layer sees it
// (normalized; quantized models: quantized) as DIR/input.npy, all float32 {N, ...}.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "compress/cli/common.h"
#include "compress/executor.h"
#include "compress/executor_setup.h"
#include "compress/ir/error.h"
#include "compress/ir/npy.h"

namespace shrink::cli {

/// The file name (without .npy) of a node's dump: '/' and '\' become '_' (shrink-rt run
/// --dump-layers uses the same rule). Also used by shrink compare (compare.cc).
std::string dump_file_name(const std::string& node) {
  std::string f = node;
  for (char& c : f)
    if (c == '/' || c == '\\') c = '_';
  return f;
}

int cmd_infer(int argc, char** argv) {
  auto opts = make_options("infer", "m.h5 --input x.npy -o y.npy",
                           "Run a model on a NumPy array and write its outputs (float32 .npy).");
  opts.add_options()("input", "input .npy, float32, shape {input_shape...} or {N, input_shape...}",
                     cxxopts::value<std::string>())("o,output", "output .npy", cxxopts::value<std::string>())(
      "batch-size", "samples per forward pass", cxxopts::value<int64_t>()->default_value("256"))(
      "dump-layers", "folder (created) for every node's output as <node>.npy and the input as input.npy",
      cxxopts::value<std::string>()->default_value(""));
  auto r = parse(opts, argc, argv, {"model-file"});
  if (!r) return 0;
  std::string in = input_file(*r, "model-file", "infer", "the model, m.h5");
  std::string xpath = input_file(*r, "input", "infer", "--input x.npy");
  std::string out = required(*r, "output", "infer", "-o y.npy (the output)");
  require_output_folder(out);
  int64_t batch = (*r)["batch-size"].as<int64_t>();
  if (batch < 1) throw BadInput("--batch-size must be >= 1, got ", batch);
  const std::string dump_dir = (*r)["dump-layers"].as<std::string>();
  if (!dump_dir.empty()) {
    require_output_folder(dump_dir);
    std::error_code ec;
    std::filesystem::create_directory(dump_dir, ec);
    if (!std::filesystem::is_directory(dump_dir)) throw BadInput("--dump-layers ", dump_dir, ": cannot create the folder");
  }

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
  std::vector<std::string> names;  // --dump-layers: the input and every node, in graph order
  if (!dump_dir.empty()) {
    names.push_back(ir::Graph::kInput);
    for (const auto& node : ex.graph().nodes) names.push_back(node.name);
  }
  std::map<std::string, std::vector<torch::Tensor>> dumps;
  for (int64_t s = 0; s < n; s += batch) {
    const torch::Tensor xb = all.slice(0, s, std::min(n, s + batch));
    if (names.empty()) {
      outs.push_back(ex.forward(xb));
      continue;
    }
    auto values = ex.forward_with(xb, names);
    outs.push_back(values.at("output"));
    for (const auto& name : names) dumps[name].push_back(values.at(name).to(torch::kFloat32));
  }
  for (const auto& name : names) {
    if (dumps[name].empty()) continue;  // an empty input: nothing ran
    ir::Tensor t = from_torch(torch::cat(dumps[name], 0).contiguous());
    ir::write_npy((std::filesystem::path(dump_dir) / (dump_file_name(name) + ".npy")).string(), t);
  }
  if (!names.empty()) std::printf("wrote %zu tensors to %s\n", names.size(), dump_dir.c_str());
  torch::Tensor y = n > 0 ? torch::cat(outs, 0).contiguous() : torch::empty({0});
  ir::Tensor t = from_torch(y.to(torch::kFloat32));
  if (!batched) t.shape.erase(t.shape.begin());
  ir::write_npy(out, t);
  std::printf("wrote %s %s\n", out.c_str(), ir::shape_str(t.shape).c_str());
  return 0;
}

}  // namespace shrink::cli
