// Layer Analysis: one quantized tensor per point, everything else fp32, measured on val.
//
// Contracts kept here:
// - The model is BatchNorm-folded first (as quantize_model does), so weights are the ones the
//   quantizer will see; the baseline is that folded fp32 model on the same images.
// - "weights" of a layer: its weight tensor (the bias stays fp32: at deployment it is int32 at
//   FL_x + FL_w, far finer than the weights). "activations" of a layer: the tensor the runtime
//   stores after it, i.e. the layer's output or, when its only consumer is a ReLU / ReLU6, the
//   clamped output (the fused activation; quantize_model calibrates the same tensor).
// - Fixed-point points choose the FL with o.fl_method (weights on the weights, activations on
//   the first o.calibration images); k-means points fit 2^b centroids (weights: kmeans_quantize
//   with fixed-point centroids; activations: kmeans_1d on the calibration values, outputs
//   snapped to the nearest centroid, ties to the lower one).
// - With the cache, every value a layer's suffix reads from before it (for a chain: the
//   layer's input) is computed once per batch and the point reruns only the suffix; the
//   numbers are the same as a full rerun (a test checks it).
// - Workers run points in parallel, each with its own Executor and one LibTorch thread;
//   records do not depend on the number of workers.
#include "quantize/sweep.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <set>

#include "compress/dist.h"
#include "compress/executor.h"
#include "compress/ir/analyzer.h"
#include "compress/ir/error.h"
#include "compress/ir/passes.h"
#include "compress/parallel.h"
#include "compress/progress.h"
#include "compress/train.h"
#include "quantize/kmeans.h"
#include "quantize/qformat.h"
#include "runtime/include/shrink_fixed_point.h"

namespace shrink::quant {

namespace {

constexpr int64_t kMaxCalibrationValues = 2'000'000;

bool weighted(ir::Op op) { return op == ir::Op::Conv2d || op == ir::Op::Linear; }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double sqnr_db(double signal, double noise) {
  if (noise <= 0) return 1e9;
  if (signal <= 0) return -1e9;
  return 10.0 * std::log10(signal / noise);
}

/// The node whose output is a layer's stored activation: its only consumer when that is a
/// ReLU / ReLU6, else the layer itself.
std::string activation_node(const ir::Graph& g, const std::string& layer) {
  auto cons = g.consumers(layer);
  if (cons.size() == 1) {
    const ir::Node* c = g.find(cons[0]);
    if (c && (c->op == ir::Op::ReLU || c->op == ir::Op::ReLU6)) return c->name;
  }
  return layer;
}

/// Values computed before node index p that nodes at p or later read.
std::vector<std::string> frontier(const ir::Graph& g, size_t p) {
  std::set<std::string> before{ir::Graph::kInput};
  for (size_t i = 0; i < p; ++i) before.insert(g.nodes[i].name);
  std::set<std::string> out;
  for (size_t i = p; i < g.nodes.size(); ++i)
    for (const auto& in : g.nodes[i].inputs)
      if (before.count(in)) out.insert(in);
  return {out.begin(), out.end()};
}

struct Point {
  std::string layer, target, method;
  int bits = 0;
  std::string key() const { return layer + "/" + target + "/" + method + "/" + std::to_string(bits); }
};

/// Per-batch data: the input batch, labels and (with the cache) the frontier values.
struct Batch {
  torch::Tensor x, y;
  std::map<std::string, torch::Tensor> cached;
};

struct Accumulator {
  double loss_sum = 0;
  int64_t correct = 0, n = 0;
  void add(const torch::Tensor& logits, const torch::Tensor& y) {
    loss_sum += training_loss(logits, y).item<double>() * static_cast<double>(y.size(0));
    correct += logits.argmax(1).eq(y).sum().item<int64_t>();
    n += y.size(0);
  }
  double accuracy() const { return n ? static_cast<double>(correct) / static_cast<double>(n) : 0; }
  double loss() const { return n ? loss_sum / static_cast<double>(n) : 0; }
};

/// Fake quantization in float32 with the DESIGN rule (round half up, saturate): exact, because
/// y * 2^FL and the +0.5 are exact in float32 for every value that does not saturate.
torch::Tensor fake_fixed(const torch::Tensor& y, QFormat f) {
  const double scale = std::ldexp(1.0, f.fl);
  torch::Tensor q = torch::floor(y * scale + 0.5).clamp(static_cast<double>(fx::qmin(f.bits)),
                                                         static_cast<double>(fx::qmax(f.bits)));
  return q / scale;
}

}  // namespace

void check_sweep_options(const SweepOptions& o) {
  auto list = [](const std::vector<std::string>& v, const std::set<std::string>& allowed, const char* flag) {
    if (v.empty()) throw BadInput(flag, ": expected at least one of ", [&] {
        std::string s;
        for (const auto& a : allowed) s += (s.empty() ? "" : ", ") + a;
        return s;
      }());
    for (const auto& x : v)
      if (!allowed.count(x)) {
        std::string s;
        for (const auto& a : allowed) s += (s.empty() ? "" : ", ") + a;
        throw BadInput(flag, " ", x, ": expected ", s);
      }
  };
  list(o.targets, {"weights", "activations"}, "--targets");
  list(o.methods, {"fixed", "kmeans"}, "--methods");
  auto has = [](const std::vector<std::string>& v, const char* s) { return std::find(v.begin(), v.end(), s) != v.end(); };
  if (has(o.methods, "fixed")) {
    if (o.fixed_bits.empty()) throw BadInput("--bits: expected at least one width for fixed point");
    for (int b : o.fixed_bits)
      if (!fx::valid_bits(b)) throw BadInput("--bits ", b, ": fixed-point widths are 2..16");
  }
  if (has(o.methods, "kmeans")) {
    if (o.kmeans_bits.empty()) throw BadInput("--bits: expected at least one index width for kmeans");
    for (int b : o.kmeans_bits)
      if (b < 1 || b > 8) throw BadInput("--bits ", b, ": k-means index bits are 1..8");
  }
  if (o.calibration < 1) throw BadInput("--calibration ", o.calibration, ": expected >= 1 images");
  if (!fx::valid_bits(o.centroid_bits)) throw BadInput("--centroid-bits ", o.centroid_bits, ": expected 2..16");
  if (o.kmeans_init != "linear" && o.kmeans_init != "kmeans++")
    throw BadInput("--kmeans-init ", o.kmeans_init, ": expected linear or kmeans++");
  fl_method_from_name(o.fl_method);
  if (o.workers < 1) throw BadInput("--workers ", o.workers, ": expected >= 1");
  if (o.shard_count < 1 || o.shard_rank < 0 || o.shard_rank >= o.shard_count)
    throw BadInput("sweep: shard ", o.shard_rank, " of ", o.shard_count, ", expected 0 <= rank < count");
  if (o.shard_count > 1 && !o.gather) throw BadInput("sweep: a sweep over ", o.shard_count, " processes needs `gather`");
  if (o.batch < 1) throw BadInput("batch ", o.batch, ": expected >= 1");
}

std::vector<std::string> sweepable_layers(const ir::Graph& g) {
  std::vector<std::string> out;
  for (const auto& n : g.nodes)
    if (weighted(n.op)) out.push_back(n.name);
  return out;
}

SweepResult sweep_layers(const ir::Graph& fp32, const ir::Dataset& data, const SweepOptions& o) {
  check_sweep_options(o);
  const auto t0 = std::chrono::steady_clock::now();
  const FlMethod fl_method = fl_method_from_name(o.fl_method);
  if (data.size < 1) throw BadInput("sweep: the data '", data.name, "' is empty");

  ir::Graph g = fp32;
  g.state.erase("quant");
  for (auto& n : g.nodes) n.state.erase("quant");
  ir::fold_batchnorm(g);
  g.infer_shapes();

  SweepResult res;
  res.model = g.meta.name;
  res.cached = o.cache;
  const std::vector<std::string> all = sweepable_layers(g);
  if (o.layers.empty()) {
    res.layers = all;
  } else {
    for (const auto& l : o.layers)
      if (std::find(all.begin(), all.end(), l) == all.end())
        throw BadInput("--layers ", l, ": not a conv / linear layer of model '", g.meta.name, "'");
    for (const auto& l : all)
      if (std::find(o.layers.begin(), o.layers.end(), l) != o.layers.end()) res.layers.push_back(l);
  }
  if (res.layers.empty()) throw BadInput("sweep: model '", g.meta.name, "' has no conv / linear layer");
  for (const auto& l : res.layers) res.layer_params[l] = g.find(l)->tensor("weight")->numel();

  std::map<std::string, size_t> position;
  for (size_t i = 0; i < g.nodes.size(); ++i) position[g.nodes[i].name] = i;
  std::map<std::string, std::vector<std::string>> front;
  std::map<std::string, std::string> act_node;
  std::set<std::string> cache_names;
  for (const auto& l : res.layers) {
    front[l] = frontier(g, position.at(l));
    act_node[l] = activation_node(g, l);
    cache_names.insert(front[l].begin(), front[l].end());
  }
  const bool want_acts = std::find(o.targets.begin(), o.targets.end(), "activations") != o.targets.end();

  torch::NoGradGuard no_grad;
  auto [x_all, y_all] = dataset_to_torch(data);
  res.images = data.size;

  // One fp32 pass: baseline, activation cache, calibration values of the activation tensors.
  std::vector<Batch> batches;
  std::map<std::string, std::vector<float>> cal_values;
  {
    Executor ex(g);
    ex.set_training(false);
    const int64_t n_cal = std::min<int64_t>(o.calibration, data.size);
    std::vector<std::string> names(cache_names.begin(), cache_names.end());
    std::map<std::string, int64_t> stride, seen;
    if (want_acts)
      for (const auto& l : res.layers) {
        const std::string& s = act_node[l];
        if (stride.count(s)) continue;
        names.push_back(s);
        const int64_t total = n_cal * ir::numel(g.shape_of(s));
        stride[s] = std::max<int64_t>(1, (total + kMaxCalibrationValues - 1) / kMaxCalibrationValues);
        seen[s] = 0;
      }
    Accumulator base;
    for (int64_t lo = 0; lo < data.size; lo += o.batch) {
      const int64_t hi = std::min(data.size, lo + o.batch);
      Batch b;
      b.x = x_all.slice(0, lo, hi);
      b.y = y_all.slice(0, lo, hi);
      auto out = ex.forward_with(b.x, names);
      base.add(out.at("output"), b.y);
      if (o.cache)
        for (const auto& c : cache_names) b.cached[c] = out.at(c);
      for (auto& [s, st] : stride) {
        if (lo >= n_cal) break;
        torch::Tensor t = out.at(s).slice(0, 0, std::min(hi, n_cal) - lo).contiguous().flatten();
        const int64_t first = (st - seen[s] % st) % st;
        if (first < t.numel()) {
          torch::Tensor pick = t.slice(0, first, t.numel(), st).contiguous();
          auto& v = cal_values[s];
          v.insert(v.end(), pick.data_ptr<float>(), pick.data_ptr<float>() + pick.numel());
        }
        seen[s] += t.numel();
      }
      batches.push_back(std::move(b));
    }
    res.baseline_accuracy = base.accuracy();
    res.baseline_loss = base.loss();
  }

  // The points, in the report's order; those already measured are kept, not rerun.
  std::map<std::string, SweepRecord> done;
  for (const auto& r : o.done) done[r.key()] = r;
  std::vector<Point> points, todo;
  for (const auto& l : res.layers)
    for (const auto& t : o.targets)
      for (const auto& m : o.methods)
        for (int b : (m == "fixed" ? o.fixed_bits : o.kmeans_bits)) {
          Point p{l, t, m, b};
          if (std::find_if(points.begin(), points.end(), [&](const Point& q) { return q.key() == p.key(); }) != points.end())
            continue;
          points.push_back(p);
          if (!done.count(p.key())) todo.push_back(p);
        }
  if (o.shard_count > 1) {
    // Estimated cost: the MACs a point reruns (the suffix from its layer with the cache) per
    // image, plus k-means clustering (values x centroids x ~20 iterations).
    std::map<std::string, double> macs;
    double total = 0;
    for (const auto& l : ir::analyze(g, {}).layers) macs[l.name] = static_cast<double>(l.macs), total += l.macs;
    std::vector<double> cost;
    for (const Point& p : todo) {
      double suffix = 0;
      for (size_t i = position.at(p.layer); i < g.nodes.size(); ++i) suffix += macs[g.nodes[i].name];
      double c = (o.cache ? suffix : total) * static_cast<double>(data.size);
      if (p.method == "kmeans") {
        const double values = p.target == "weights" ? static_cast<double>(res.layer_params.at(p.layer))
                                                    : static_cast<double>(cal_values[act_node.at(p.layer)].size());
        c += values * static_cast<double>(1 << p.bits) * 20;
      }
      cost.push_back(c);
    }
    const std::vector<int> owner = dist::balance(cost, o.shard_count);
    std::vector<Point> mine;
    for (size_t i = 0; i < todo.size(); ++i)
      if (owner[i] == o.shard_rank) mine.push_back(todo[i]);
    todo.swap(mine);
  }

  std::map<std::string, SweepRecord> measured;
  std::mutex mu;
  ProgressBar bar(static_cast<int64_t>(todo.size()), "sweep " + g.meta.name, o.progress);
  int64_t finished = 0;

  auto run_point = [&](Executor& ex, const Point& p) {
    const auto tp = std::chrono::steady_clock::now();
    SweepRecord r;
    r.layer = p.layer;
    r.target = p.target;
    r.method = p.method;
    r.bits = p.bits;
    double signal = 0, noise = 0;
    int hook = -1;
    if (p.target == "weights") {
      const ir::Tensor& w = *g.find(p.layer)->tensor("weight");
      torch::Tensor fq = to_torch(w);
      if (p.method == "fixed") {
        FormatChoice c = choose_format(w.data.data(), w.numel(), p.bits, fl_method);
        fake_quantize(w.data.data(), w.numel(), c.format, fq.data_ptr<float>());
        r.il = c.format.il();
        r.fl = c.format.fl;
        r.sqnr_db = c.sqnr_db;
      } else {
        KMeansOptions ko;
        ko.index_bits = p.bits;
        ko.centroid_bits = o.centroid_bits;
        ko.init = o.kmeans_init;
        ko.seed = o.seed;
        Codebook cb = kmeans_quantize(w.data.data(), w.numel(), ko);
        float* d = fq.data_ptr<float>();
        for (int64_t i = 0; i < w.numel(); ++i) {
          d[i] = cb.value(i);
          const double e = static_cast<double>(d[i]) - w.data[static_cast<size_t>(i)];
          signal += static_cast<double>(w.data[static_cast<size_t>(i)]) * w.data[static_cast<size_t>(i)];
          noise += e * e;
        }
        r.il = cb.centroid_format.il();
        r.fl = cb.centroid_format.fl;
        r.sqnr_db = sqnr_db(signal, noise);
      }
      NodeHooks h;
      h.weight = [fq](const ir::Node&, const std::string& key, const torch::Tensor& t) {
        return key == "weight" ? fq : t;
      };
      hook = ex.add_hook(std::move(h), p.layer);
    } else {
      const std::string& s = act_node.at(p.layer);
      const std::vector<float>& v = cal_values.at(s);
      std::function<torch::Tensor(const torch::Tensor&)> q;
      if (p.method == "fixed") {
        QFormat f = choose_format(v.data(), static_cast<int64_t>(v.size()), p.bits, fl_method).format;
        r.il = f.il();
        r.fl = f.fl;
        q = [f](const torch::Tensor& y) { return fake_fixed(y, f); };
      } else {
        std::vector<double> c = kmeans_1d(v.data(), static_cast<int64_t>(v.size()), 1 << p.bits, o.kmeans_init,
                                          100, o.seed);
        std::vector<double> mids;
        for (size_t j = 0; j + 1 < c.size(); ++j) mids.push_back(0.5 * (c[j] + c[j + 1]));
        torch::Tensor ct = torch::tensor(c, torch::kFloat64).to(torch::kFloat32);
        torch::Tensor mt = torch::tensor(mids.empty() ? std::vector<double>{0.0} : mids, torch::kFloat64)
                               .to(torch::kFloat32);
        const bool single = mids.empty();
        q = [ct, mt, single](const torch::Tensor& y) {
          if (single) return torch::full_like(y, ct[0].item<float>());
          return ct.index({torch::bucketize(y, mt)});
        };
      }
      NodeHooks h;
      h.output = [q, &signal, &noise](const ir::Node&, const torch::Tensor& y) {
        torch::Tensor yq = q(y);
        signal += y.to(torch::kFloat64).pow(2).sum().item<double>();
        noise += (yq - y).to(torch::kFloat64).pow(2).sum().item<double>();
        return yq;
      };
      hook = ex.add_hook(std::move(h), s);
    }
    Accumulator acc;
    for (const Batch& b : batches) {
      torch::Tensor logits;
      if (o.cache) {
        std::map<std::string, torch::Tensor> given;
        for (const auto& f : front.at(p.layer)) given[f] = b.cached.at(f);
        logits = ex.forward_from(given).at("output");
      } else {
        logits = ex.forward_with(b.x, {}).at("output");
      }
      acc.add(logits, b.y);
    }
    ex.remove_hook(hook);
    if (p.target == "activations") r.sqnr_db = sqnr_db(signal, noise);
    r.accuracy = acc.accuracy();
    r.loss = acc.loss();
    r.seconds = seconds_since(tp);
    return r;
  };

  for_each_point(todo.size(), o.workers, [&] {
    auto ex = std::make_shared<Executor>(g);
    ex->set_training(false);
    return [&, ex](size_t i) {
      SweepRecord r = run_point(*ex, todo[i]);
      std::lock_guard<std::mutex> lock(mu);
      measured[r.key()] = r;
      if (o.on_record) o.on_record(r);
      bar.update(++finished, todo[i].key());
    };
  });
  bar.finish(std::to_string(todo.size()) + " points measured, " + std::to_string(done.size()) + " resumed");
  if (o.shard_count > 1) {  // every rank's new records, to every rank
    nlohmann::json mine = nlohmann::json::array();
    for (const auto& [k, r] : measured) mine.push_back(r.to_json());
    for (const std::string& bytes : o.gather(mine.dump()))
      for (const auto& j : nlohmann::json::parse(bytes)) {
        SweepRecord r = SweepRecord::from_json(j);
        measured.emplace(r.key(), r);
      }
  }

  for (const Point& p : points) {
    auto it = measured.find(p.key());
    if (it == measured.end() && !done.count(p.key())) throw InternalError("sweep: no record for point ", p.key());
    res.records.push_back(it != measured.end() ? it->second : done.at(p.key()));
  }
  res.seconds = seconds_since(t0);
  return res;
}

}  // namespace shrink::quant
