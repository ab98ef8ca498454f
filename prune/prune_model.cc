#include "prune/prune_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "compress/executor.h"
#include "compress/executor_setup.h"
#include "compress/ir/error.h"
#include "prune/channels.h"
#include "prune/rank.h"

namespace shrink::prune {

namespace {

bool is_layer(const ir::Node& n) { return (n.op == ir::Op::Conv2d || n.op == ir::Op::Linear) && n.tensor("weight"); }

/// One layer's weights and mask as raw arrays (IR or torch storage).
struct LayerRef {
  std::string name;
  float* w;
  float* m;
  int64_t n;
  double level;
};

/// Removes the smallest |w * m| per layer (or over all layers) until each reaches its level.
void prune_refs(std::vector<LayerRef>& refs, bool global) {
  auto remove_smallest = [](std::vector<std::pair<float*, float*>>& items, int64_t k) {
    std::vector<size_t> order(items.size());
    std::iota(order.begin(), order.end(), 0);
    auto mag = [&](size_t i) { return std::fabs(*items[i].first * *items[i].second); };
    if (k <= 0) return;
    k = std::min<int64_t>(k, static_cast<int64_t>(items.size()));
    std::nth_element(order.begin(), order.begin() + (k - 1), order.end(),
                     [&](size_t a, size_t b) { return mag(a) < mag(b) || (mag(a) == mag(b) && a < b); });
    for (int64_t i = 0; i < k; ++i) {
      *items[order[static_cast<size_t>(i)]].second = 0.0f;
      *items[order[static_cast<size_t>(i)]].first = 0.0f;
    }
  };
  if (!global) {
    for (LayerRef& r : refs) {
      std::vector<std::pair<float*, float*>> items;
      for (int64_t i = 0; i < r.n; ++i) items.push_back({r.w + i, r.m + i});
      remove_smallest(items, static_cast<int64_t>(std::llround(r.level * static_cast<double>(r.n))));
    }
    return;
  }
  std::vector<std::pair<float*, float*>> items;
  double level = 0;
  for (LayerRef& r : refs) {
    for (int64_t i = 0; i < r.n; ++i) items.push_back({r.w + i, r.m + i});
    level += r.level * static_cast<double>(r.n);
  }
  remove_smallest(items, static_cast<int64_t>(std::llround(level)));
}

std::map<std::string, double> magnitude_levels(const ir::Graph& g, const PruneOptions& o) {
  std::map<std::string, double> levels;
  if (o.layers.empty()) {
    for (const ir::Node& n : g.nodes)
      if (is_layer(n)) levels[n.name] = o.sparsity.value_or(0.0);
    return levels;
  }
  for (const auto& [name, level] : o.layers) {
    const ir::Node* n = g.find(name);
    if (!n) throw BadInput("no layer named '", name, "' to prune");
    if (!is_layer(*n)) throw BadInput("layer '", name, "' (", ir::op_name(n->op), ") has no weights to prune");
    levels[name] = level;
  }
  return levels;
}

void check_level(double v, const std::string& key, const std::function<void(const std::string&, const std::string&)>& fail) {
  if (!(v >= 0.0 && v < 1.0)) fail(key, "must be in [0, 1), got " + std::to_string(v));
}

}  // namespace

double agp_sparsity(double s_initial, double s_final, int64_t t, int64_t n) {
  const double f = n > 0 ? 1.0 - static_cast<double>(std::min(t, n)) / static_cast<double>(n) : 0.0;
  return s_final + (s_initial - s_final) * f * f * f;
}

void magnitude_masks(ir::Graph& g, const std::map<std::string, double>& levels, bool global) {
  std::vector<LayerRef> refs;
  for (const auto& [name, level] : levels) {
    ir::Node& n = g.at(name);
    ir::Tensor& w = *n.tensor("weight");
    if (!n.tensor(kWeightMask) || n.tensor(kWeightMask)->shape != w.shape)
      n.tensors[kWeightMask] = ir::Tensor(w.shape, std::vector<float>(static_cast<size_t>(w.numel()), 1.0f));
    refs.push_back({name, w.data.data(), n.tensor(kWeightMask)->data.data(), w.numel(), level});
  }
  prune_refs(refs, global);
}

std::map<std::string, double> weight_sparsity(const ir::Graph& g) {
  std::map<std::string, double> s;
  int64_t zeros = 0, total = 0;
  for (const ir::Node& n : g.nodes) {
    if (!is_layer(n)) continue;
    const ir::Tensor& w = *n.tensor("weight");
    const int64_t z = std::count(w.data.begin(), w.data.end(), 0.0f);
    s[n.name] = w.numel() ? static_cast<double>(z) / static_cast<double>(w.numel()) : 0.0;
    zeros += z;
    total += w.numel();
  }
  s[""] = total ? static_cast<double>(zeros) / static_cast<double>(total) : 0.0;
  return s;
}

void check_options(const PruneOptions& o, const std::function<void(const std::string&, const std::string&)>& fail) {
  const auto& sm = structured_methods();
  const bool structured = std::find(sm.begin(), sm.end(), o.method) != sm.end();
  if (o.method != "magnitude" && !structured) {
    std::string list = "magnitude";
    for (const auto& m : sm) list += ", " + m;
    fail("method", "unknown method '" + o.method + "' (known: " + list + ")");
  }
  if (o.layers.empty()) {
    if (o.method == "magnitude" && !o.sparsity) fail("sparsity", "is needed by method magnitude (or a per-layer config)");
    if (structured && !o.ratio) fail("ratio", "is needed by method " + o.method + " (or a per-layer config)");
  }
  if (o.sparsity) check_level(*o.sparsity, "sparsity", fail);
  if (o.ratio) check_level(*o.ratio, "ratio", fail);
  for (const auto& [name, v] : o.layers) check_level(v, "layers." + name, fail);
  if (o.schedule != "oneshot" && o.schedule != "iterative" && o.schedule != "agp")
    fail("schedule", "must be oneshot, iterative or agp, got '" + o.schedule + "'");
  if (o.schedule != "oneshot" && o.method != "magnitude") fail("schedule", o.schedule + " applies to method magnitude only");
  if (o.steps < 1) fail("steps", "must be >= 1");
  if (o.train.epochs < 0) fail("epochs", "must be >= 0");
}

ir::Graph prune_model(const ir::Graph& in, const PruneOptions& o, const PruneData& d) {
  check_options(o, [](const std::string& key, const std::string& msg) { throw BadInput("prune: ", key, " ", msg); });
  if (in.state.contains("quant")) throw BadInput("prune: the model is quantized; prune before quantizing");
  if (o.train.epochs > 0 && !d.train) throw BadInput("prune: fine-tuning needs training data");
  ir::Graph g = in;
  g.infer_shapes();

  if (o.method == "magnitude") {
    const std::map<std::string, double> levels = magnitude_levels(g, o);
    const bool gradual = o.schedule != "oneshot" && o.train.epochs > 0;
    if (!gradual) {
      magnitude_masks(g, levels, o.global);
      if (o.train.epochs == 0) return g;
      auto m = make_model_executor(g, ExecutorPurpose::Train);
      train(m->executor(), *d.train, o.train, d.val);
      return m->finish();
    }
    // Gradual: masks start full; pruning events at steps 0, D, 2D, ... (n events within the
    // first 75% of the optimizer steps), then fine-tuning at the final sparsity.
    std::map<std::string, double> none;
    for (const auto& [name, level] : levels) none[name] = 0.0;
    magnitude_masks(g, none, false);
    auto m = make_model_executor(g, ExecutorPurpose::Train);
    Executor& ex = m->executor();
    const int64_t n_train = o.train.limit > 0 ? std::min(o.train.limit, d.train->size) : d.train->size;
    const int64_t per_epoch = (n_train + o.train.batch_size - 1) / o.train.batch_size;
    const int64_t total = per_epoch * o.train.epochs;
    const int64_t every = std::max<int64_t>(1, total * 3 / 4 / o.steps);
    int done = 0;
    auto event = [&](int k) {  // k = 1..steps
      torch::NoGradGuard no_grad;
      std::vector<LayerRef> refs;
      for (const auto& [name, level] : levels) {
        torch::Tensor& w = ex.tensor(name, "weight");
        torch::Tensor& mk = ex.tensor(name, kWeightMask);
        const double s = o.schedule == "agp" ? agp_sparsity(0.0, level, k, o.steps) : level * k / o.steps;
        refs.push_back({name, w.data_ptr<float>(), mk.data_ptr<float>(), w.numel(), s});
      }
      prune_refs(refs, o.global);
    };
    event(++done);
    TrainOptions t = o.train;
    t.on_step = [&](int64_t step, int) {
      if (done < o.steps && (step + 1) % every == 0) event(++done);
    };
    train(ex, *d.train, t, d.val);
    while (done < o.steps) event(++done);  // fewer steps than events: finish the schedule
    return m->finish();
  }

  // Structured.
  const ChannelAnalysis a = analyze_channels(g);
  std::map<std::string, double> ratios;
  if (o.layers.empty()) {
    for (const ChannelGroup& grp : a.groups)
      if (grp.prunable) ratios[grp.name] = o.ratio.value_or(0.0);
  } else {
    for (const auto& [name, r] : o.layers) {
      const ChannelGroup& grp = a.groups[static_cast<size_t>(a.find(name))];
      if (!grp.prunable) throw BadInput("prune: the channels of '", name, "' cannot be pruned: it ", grp.why_not);
      ratios[name] = r;
    }
  }
  static const ir::Dataset kNone;
  const auto scores = rank_channels(g, a, o.method, d.rank ? *d.rank : kNone, {.seed = o.seed});
  set_channel_masks(g, a, choose_channels(scores, ratios, o.global));
  if (o.thin) g = thin(g);
  if (o.train.epochs == 0) return g;
  auto m = make_model_executor(g, ExecutorPurpose::Train);
  train(m->executor(), *d.train, o.train, d.val);
  return m->finish();
}

}  // namespace shrink::prune
