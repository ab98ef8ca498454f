#include "export/runtime_eval.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <vector>

#include "compress/ir/error.h"
#include "runtime/include/shrink_rt.h"
#include "runtime/tools/fits_on.h"

namespace shrink::exporter {

namespace {

using LoadedModel = std::unique_ptr<shrink_rt_model, void (*)(shrink_rt_model*)>;

LoadedModel load(const std::string& shr_path) {
  shrink_rt_model* raw = nullptr;
  char msg[256] = "";
  if (shrink_rt_load_file(shr_path.c_str(), &raw, msg, sizeof msg) != SHRINK_RT_OK)
    throw BadInput(shr_path, ": the runtime refused it: ", msg);
  return LoadedModel(raw, shrink_rt_free);
}

}  // namespace

std::vector<DeployedLayer> deployed_layers(const std::string& shr_path) {
  LoadedModel m = load(shr_path);
  std::vector<DeployedLayer> out;
  for (int i = 0; i < shrink_rt_op_count(m.get()); ++i) {
    shrink_rt_op_info o{};
    shrink_rt_op_info_get(m.get(), i, &o);
    DeployedLayer l;
    l.name = o.name;
    l.op = o.op;
    for (const int id : {o.weight, o.bias, o.lut}) {
      if (id < 0) continue;
      shrink_rt_tensor_info t{};
      shrink_rt_tensor_info_get(m.get(), id, &t);
      l.bytes += static_cast<int64_t>(t.stored_bytes);
      if (id != o.weight) continue;
      l.storage = shrink_rt_storage_str(t.storage);
      l.huffman = t.encoding == 1;
      if (t.storage == SHRINK_RT_CSR || t.storage == SHRINK_RT_CSR_CODEBOOK) l.nnz = t.nnz;
    }
    if (o.weight >= 0 || o.bias >= 0 || o.lut >= 0) out.push_back(std::move(l));
  }
  return out;
}

RuntimeEval runtime_eval(const std::string& shr_path, const ir::Dataset& d) {
  LoadedModel m = load(shr_path);
  shrink_rt_tensor_info in{}, out{};
  shrink_rt_tensor_info_get(m.get(), shrink_rt_input_tensor(m.get(), 0), &in);
  shrink_rt_tensor_info_get(m.get(), shrink_rt_output_tensor(m.get(), 0), &out);
  const int64_t per = ir::numel(d.sample_shape);
  if (static_cast<int64_t>(in.numel) != per)
    throw BadInput(shr_path, ": the model takes ", in.numel, " values per sample, the data set has ", per);
  RuntimeEval e;
  const rt::FitsEstimate fit = rt::fits_estimate(m.get());
  for (const rt::McuTarget& t : rt::kMcuTargets) e.fits_on.push_back({t.name, fit.fits(t), fit.flash(), fit.ram()});
  e.arena_bytes = shrink_rt_arena_size(m.get());
  e.file_bytes = static_cast<size_t>(std::filesystem::file_size(shr_path));
  std::vector<unsigned char> arena(e.arena_bytes);
  std::vector<float> y(out.numel);
  int64_t correct = 0;
  std::vector<double> times;
  times.reserve(static_cast<size_t>(d.size));
  for (int64_t s = 0; s < d.size; ++s) {
    const float* x = d.x.data() + s * per;
    shrink_rt_status st = shrink_rt_set_input_f32(m.get(), arena.data(), arena.size(), 0, x, static_cast<size_t>(per));
    const auto t0 = std::chrono::steady_clock::now();
    if (st == SHRINK_RT_OK) st = shrink_rt_run(m.get(), arena.data(), arena.size());
    times.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    if (st == SHRINK_RT_OK) st = shrink_rt_get_output_f32(m.get(), arena.data(), 0, y.data(), y.size());
    if (st != SHRINK_RT_OK) throw BadInput(shr_path, ": sample ", s, ": ", shrink_rt_status_str(st));
    correct += std::max_element(y.begin(), y.end()) - y.begin() == d.y[static_cast<size_t>(s)];
  }
  e.n = d.size;
  if (!times.empty()) {
    std::nth_element(times.begin(), times.begin() + static_cast<long>(times.size() / 2), times.end());
    e.latency_us = times[times.size() / 2];
  }
  e.accuracy = d.size ? static_cast<double>(correct) / static_cast<double>(d.size) : 0.0;
  return e;
}

}  // namespace shrink::exporter
