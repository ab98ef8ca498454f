// Quantized-model simulation through executor hooks (see simulate.h; integer rules in
// runtime/include/shrink_fixed_point.h, called here, never re-implemented).
#include "quantize/simulate.h"

#include <ATen/Parallel.h>

#include <cmath>

#include "compress/ir/error.h"
#include "runtime/include/shrink_fixed_point.h"

namespace shrink::quant {

namespace {

constexpr int kBiasBits = 32;

torch::Tensor as_double(const torch::Tensor& x) { return x.detach().to(torch::kFloat64).contiguous(); }

/// out[i] = f(in[i]) over contiguous double data, in parallel.
template <typename F>
torch::Tensor map_double(const torch::Tensor& x, F f) {
  torch::Tensor in = as_double(x);
  torch::Tensor out = torch::empty_like(in);
  const double* s = in.data_ptr<double>();
  double* d = out.data_ptr<double>();
  at::parallel_for(0, in.numel(), 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) d[i] = f(s[i]);
  });
  return out;
}

/// The same in float32 (Train mode).
torch::Tensor fake_quantize_float(const torch::Tensor& x, QFormat f) {
  torch::Tensor in = x.detach().to(torch::kFloat32).contiguous();
  torch::Tensor out = torch::empty_like(in);
  fake_quantize(in.data_ptr<float>(), in.numel(), f, out.data_ptr<float>());
  return out;
}

torch::Tensor ste(const torch::Tensor& x, const torch::Tensor& fq) { return x + (fq - x).detach(); }

/// Per output channel (dim 0) fake quantization of a weight or bias, in double or float.
torch::Tensor per_channel(const torch::Tensor& w, const std::vector<int>& fls, int bits, int fl_offset, bool dbl) {
  const int64_t oc = w.size(0);
  std::vector<torch::Tensor> parts;
  parts.reserve(static_cast<size_t>(oc));
  for (int64_t c = 0; c < oc; ++c) {
    QFormat f{bits, (fls.size() == 1 ? fls[0] : fls[static_cast<size_t>(c)]) + fl_offset};
    torch::Tensor q = fake_quantize_double(w.select(0, c), f);  // double: bias formats are 32-bit
    parts.push_back(dbl ? q : q.to(torch::kFloat32));
  }
  return torch::stack(parts, 0);
}

}  // namespace

torch::Tensor fake_quantize_double(const torch::Tensor& x, QFormat f) {
  return map_double(x, [f](double v) { return fx::dequantize(fx::quantize(v, f.bits, f.fl), f.fl); });
}

torch::Tensor to_integers(const torch::Tensor& x, int fl) {
  torch::Tensor in = as_double(x);
  torch::Tensor out = torch::empty(in.sizes(), torch::kInt64);
  const double* s = in.data_ptr<double>();
  int64_t* d = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < in.numel(); ++i) d[i] = fx::quantize(s[i], 63, fl);
  return out;
}

std::vector<int64_t> avg_pool_counts(const ir::Node& n, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  auto count = [&](int64_t o, int64_t in, int d) {
    const int64_t pb = n.pads[d], pe = n.pads[d + 2];
    const int64_t start = o * n.stride[d] - pb, end = start + n.kernel[d];
    const int64_t lo = n.count_include_pad ? std::max(start, -pb) : std::max<int64_t>(start, 0);
    const int64_t hi = n.count_include_pad ? std::min(end, in + pe) : std::min(end, in);
    return std::max<int64_t>(hi - lo, 0);
  };
  std::vector<int64_t> c(static_cast<size_t>(oh * ow));
  for (int64_t i = 0; i < oh; ++i)
    for (int64_t j = 0; j < ow; ++j) c[static_cast<size_t>(i * ow + j)] = count(i, h, 0) * count(j, w, 1);
  return c;
}

Simulation::Simulation(Executor& ex, SimMode mode) : ex_(ex), mode_(mode), mq_(read_model_quant(ex.graph())) {
  const ir::Graph& g = ex.graph();
  for (const auto& n : g.nodes) {
    auto it = mq_.nodes.find(n.name);
    if (it == mq_.nodes.end()) continue;
    const NodeQuant& nq = it->second;
    if (is_lut_op(n.op)) luts_[n.name] = build_lut(n, mq_.format_of(n.inputs[0]), nq.output);
    bool leaves = std::find(g.outputs.begin(), g.outputs.end(), n.name) != g.outputs.end();
    bool feeds_int = false;
    for (const auto& c : g.consumers(n.name)) {
      if (mq_.nodes.count(c)) feeds_int = true;
      else leaves = true;
    }
    if (leaves && feeds_int)
      throw BadInput("node '", n.name, "' feeds both integer and float nodes; the integer part must end in one place");
    to_float_[n.name] = leaves;
    if (nq.scheme == "kmeans") {
      std::vector<int64_t> idx(nq.codebook->indices.begin(), nq.codebook->indices.end());
      index_[n.name] = torch::tensor(idx, torch::kInt64);
      if (mode_ == SimMode::Train) {
        std::vector<float> c;
        for (size_t k = 0; k < nq.codebook->centroids_q.size(); ++k) c.push_back(nq.codebook->centroid(static_cast<int>(k)));
        ex.set_tensor(n.name, "centroids", torch::tensor(c, torch::kFloat32), /*trainable=*/true);
      }
    }
  }
  NodeHooks h;
  const QFormat in_f = mq_.input;
  if (mode_ == SimMode::Exact) {
    h.input = [in_f](const torch::Tensor& x) { return fake_quantize_double(x, in_f); };
    h.weight = [this](const ir::Node& n, const std::string& k, const torch::Tensor& t) { return exact_weight(n, k, t); };
    h.op = [this](const ir::Node& n, const std::vector<torch::Tensor>& in) { return exact_op(n, in); };
    h.output = [this](const ir::Node& n, const torch::Tensor& y) { return exact_output(n, y); };
  } else {
    h.input = [in_f](const torch::Tensor& x) { return ste(x, fake_quantize_float(x, in_f)); };
    h.weight = [this](const ir::Node& n, const std::string& k, const torch::Tensor& t) { return train_weight(n, k, t); };
    h.output = [this](const ir::Node& n, const torch::Tensor& y) { return train_output(n, y); };
  }
  hook_ = ex_.add_hook(std::move(h));
}

Simulation::~Simulation() { ex_.remove_hook(hook_); }

torch::Tensor Simulation::exact_weight(const ir::Node& n, const std::string& key, const torch::Tensor& t) {
  auto it = mq_.nodes.find(n.name);
  if (it == mq_.nodes.end() || !it->second.has_weight) return t;
  const NodeQuant& nq = it->second;
  if (key == "weight") {
    if (nq.scheme == "fixed") return per_channel(t, nq.weight_fl, nq.weight_bits, 0, true);
    const Codebook& cb = *nq.codebook;
    std::vector<double> c;
    for (int32_t q : cb.centroids_q) c.push_back(fx::dequantize(q, cb.centroid_format.fl));
    return torch::tensor(c, torch::kFloat64).index_select(0, index_.at(n.name)).reshape(t.sizes());
  }
  if (key == "bias") {
    // q_b[c] = quantize(b[c]) at FL_x + FL_w[c], saturated to int32.
    return per_channel(t, nq.weight_fl, kBiasBits, mq_.format_of(n.inputs[0]).fl, true);
  }
  return t;
}

torch::Tensor Simulation::exact_op(const ir::Node& n, const std::vector<torch::Tensor>& in) {
  auto it = mq_.nodes.find(n.name);
  if (it == mq_.nodes.end()) return {};
  const QFormat out = it->second.output;
  if (n.op == ir::Op::Add) {
    // Each input requantized to FL_y (exact sum: no saturation before the sum), summed, saturated.
    torch::Tensor acc = torch::zeros(in[0].sizes(), torch::kInt64);
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i].sizes() != in[0].sizes())
        throw BadInput("node '", n.name, "' (Add): input ", i, " has shape ", in[i].sizes(), ", expected ", in[0].sizes());
      const int fl_in = mq_.format_of(n.inputs[i]).fl;
      torch::Tensor q = to_integers(in[i], fl_in);
      const int64_t* s = q.data_ptr<int64_t>();
      int64_t* a = acc.data_ptr<int64_t>();
      for (int64_t j = 0; j < q.numel(); ++j) a[j] += fx::requantize(s[j], fl_in - out.fl, kBiasBits);
    }
    torch::Tensor y = torch::empty(acc.sizes(), torch::kFloat64);
    const int64_t* a = acc.data_ptr<int64_t>();
    double* d = y.data_ptr<double>();
    for (int64_t j = 0; j < acc.numel(); ++j) d[j] = fx::dequantize(fx::saturate(a[j], out.bits), out.fl);
    return y;
  }
  auto lt = luts_.find(n.name);
  if (lt != luts_.end()) {
    const Lut& lut = lt->second;
    const int fl_in = lut.in.fl;
    return map_double(in[0], [&lut, fl_in](double v) {
      return fx::dequantize(lut.lookup(fx::quantize(v, lut.in.bits, fl_in)), lut.out.fl);
    });
  }
  return {};
}

torch::Tensor Simulation::exact_output(const ir::Node& n, const torch::Tensor& y) {
  auto it = mq_.nodes.find(n.name);
  if (it == mq_.nodes.end()) return y;
  const QFormat out = it->second.output;
  torch::Tensor r;
  if (n.op == ir::Op::AvgPool || n.op == ir::Op::GlobalAvgPool) {
    // y = sum / n in double; the integer sum S is recovered exactly (|S| << 2^52), then
    // fx::average (round half up, floor) and requantization to the output format.
    const QFormat f_in = mq_.format_of(n.inputs[0]);
    const ir::Shape& is = ex_.graph().shape_of(n.inputs[0]);
    const int64_t h = is.size() >= 3 ? is[1] : 1, w = is.size() >= 3 ? is[2] : 1;
    const int64_t oh = y.size(2), ow = y.size(3);
    std::vector<int64_t> cnt = n.op == ir::Op::GlobalAvgPool ? std::vector<int64_t>(1, h * w)
                                                               : avg_pool_counts(n, h, w, oh, ow);
    torch::Tensor yd = as_double(y);
    r = torch::empty_like(yd);
    const double* s = yd.data_ptr<double>();
    double* d = r.data_ptr<double>();
    const int64_t plane = oh * ow;
    for (int64_t i = 0; i < yd.numel(); ++i) {
      const int64_t cells = cnt[static_cast<size_t>(i % plane) % cnt.size()];
      const int64_t sum = std::llround(std::ldexp(s[i] * static_cast<double>(cells), f_in.fl));
      const int64_t q = fx::average(sum, cells);
      d[i] = fx::dequantize(fx::requantize(q, f_in.fl - out.fl, out.bits), out.fl);
    }
  } else {
    // Conv / Linear (exact accumulator in double), Concat, pass-through ops (ReLU / ReLU6 clamp,
    // max pooling): quantize = requantize of the exact value (DESIGN.md), idempotent on the grid.
    r = fake_quantize_double(y, out);
  }
  return to_float_.at(n.name) ? r.to(torch::kFloat32) : r;
}

torch::Tensor Simulation::train_weight(const ir::Node& n, const std::string& key, const torch::Tensor& t) {
  auto it = mq_.nodes.find(n.name);
  if (it == mq_.nodes.end() || !it->second.has_weight) return t;
  const NodeQuant& nq = it->second;
  if (key == "weight") {
    if (nq.scheme == "fixed") return ste(t, per_channel(t, nq.weight_fl, nq.weight_bits, 0, false));
    torch::Tensor c = ex_.tensor(n.name, "centroids");
    if (nq.codebook->zero_reserved) c = torch::cat({torch::zeros({1}, c.options()), c.slice(0, 1)});
    c = ste(c, fake_quantize_float(c, nq.codebook->centroid_format));
    return c.index_select(0, index_.at(n.name)).reshape(t.sizes());  // gather: member gradients sum up
  }
  if (key == "bias") return ste(t, per_channel(t, nq.weight_fl, kBiasBits, mq_.format_of(n.inputs[0]).fl, false));
  return t;
}

torch::Tensor Simulation::train_output(const ir::Node& n, const torch::Tensor& y) {
  auto it = mq_.nodes.find(n.name);
  if (it == mq_.nodes.end()) return y;
  return ste(y, fake_quantize_float(y, it->second.output));
}

ir::Graph finish_training(Executor& ex) {
  ir::Graph& g = ex.sync_to_graph();
  snap_weights(g);
  return g;
}

}  // namespace shrink::quant
