// Helpers of bench/compare.sh that need the toolkit's libraries (not a user command):
//
//   shrink_bench_tool torch m.h5 [--iters N]      LibTorch fp32 latency, batch 1, one thread:
//                                                  prints {"median_us": ..., "min_us": ...}
//   shrink_bench_tool sparsify in.h5 S out.h5      zeroes the fraction S of smallest-magnitude
//                                                  weights of every Conv2d / Linear layer
//                                                  (one-shot magnitude pruning, per layer)
//
// The torch peer runs the same executor `shrink infer` uses, in eval mode under NoGradGuard,
// after 10 warm-up runs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "compress/executor.h"
#include "compress/ir/model_file.h"

namespace {

int usage() {
  std::fprintf(stderr, "usage: shrink_bench_tool torch m.h5 [--iters N] | sparsify in.h5 S out.h5\n");
  return 2;
}

int torch_latency(const std::string& path, int iters) {
  torch::set_num_threads(1);
  shrink::ir::Graph g = shrink::ir::load_model(path);
  std::vector<int64_t> shape{1};
  shape.insert(shape.end(), g.meta.input_shape.begin(), g.meta.input_shape.end());
  shrink::Executor ex(std::move(g));
  ex.set_training(false);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::rand(shape);
  for (int i = 0; i < 10; ++i) ex.forward(x);
  std::vector<double> us;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const torch::Tensor y = ex.forward(x);
    (void)y.data_ptr<float>();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  std::printf("{\"median_us\": %.2f, \"min_us\": %.2f, \"iters\": %d}\n", us[us.size() / 2], us.front(), iters);
  return 0;
}

int sparsify(const std::string& in, double s, const std::string& out) {
  shrink::ir::Graph g = shrink::ir::load_model(in);
  for (shrink::ir::Node& n : g.nodes) {
    if (n.op != shrink::ir::Op::Conv2d && n.op != shrink::ir::Op::Linear) continue;
    shrink::ir::Tensor& w = *n.tensor("weight");
    std::vector<float> mag(w.data.size());
    for (size_t i = 0; i < mag.size(); ++i) mag[i] = std::fabs(w.data[i]);
    const size_t k = static_cast<size_t>(std::llround(s * static_cast<double>(mag.size())));
    if (k == 0) continue;
    std::nth_element(mag.begin(), mag.begin() + static_cast<long>(k - 1), mag.end());
    const float cut = mag[k - 1];
    size_t zeroed = 0;
    for (float& v : w.data)
      if (std::fabs(v) <= cut && zeroed < k) v = 0, ++zeroed;
  }
  shrink::ir::save_model(g, out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> a(argv + 1, argv + argc);
    if (a.size() >= 2 && a[0] == "torch") {
      const int iters = a.size() == 4 && a[2] == "--iters" ? std::atoi(a[3].c_str()) : 200;
      return iters > 0 ? torch_latency(a[1], iters) : usage();
    }
    if (a.size() == 4 && a[0] == "sparsify") return sparsify(a[1], std::atof(a[2].c_str()), a[3]);
    return usage();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shrink_bench_tool: %s\n", e.what());
    return 2;
  }
}
