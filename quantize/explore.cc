// Network Space Exploration: the smallest mixed-precision fixed-point assignment within an
// accuracy budget, every candidate verified by measuring the fully quantized model (the exact
// integer simulation) on the sweep's images.
//
// Search (docs/quantization.md, "Exploration"):
// 1. Groups: the whole network at each candidate width (weights and activations alike); the
//    smallest uniform width within budget is the starting point (uniform 8 is always measured,
//    as the reference the result must beat).
// 2. One tensor at a time: lower one layer's weights (or activations) to the next candidate
//    width, choosing the move with the largest saving per unit of predicted accuracy loss (the
//    sweep's single-layer drop at that width); keep it if the measured accuracy is within
//    budget, else freeze that tensor at its width. With objective "bytes" weights are lowered
//    first (weight storage), then activations (the largest activation tensor, i.e. RAM); with
//    "bitops" both at once (MACs x weight bits x input activation bits).
// Activation widths belong to format groups as in quantize_model: a layer's output (with its
// fused ReLU and the pass-through ops after it), the network input, and each other root
// (Add, pooling...). The configuration written lists every group root by node name.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <sstream>

#include "compress/executor.h"
#include "compress/ir/analyzer.h"
#include "compress/ir/error.h"
#include "compress/ir/passes.h"
#include "compress/progress.h"
#include "compress/train.h"
#include "quantize/quantize_model.h"
#include "quantize/simulate.h"
#include "quantize/sweep.h"
#include "runtime/include/shrink_fixed_point.h"

namespace shrink::quant {

namespace {

/// What the costs need to know about the model.
struct ModelFacts {
  std::vector<std::string> layers;               ///< swept conv / linear layers
  std::vector<std::string> roots;                ///< activation format groups (kInput first)
  std::map<std::string, std::string> root_of;    ///< node -> its group root
  std::map<std::string, int64_t> params, biases, macs;
  std::map<std::string, int64_t> act_numel;      ///< per root: elements of its stored tensor
  std::map<std::string, std::string> input_root; ///< layer -> root of its input
};

ModelFacts facts_of(const ir::Graph& g, const SweepResult& s) {
  ModelFacts f;
  f.layers = s.layers;
  f.root_of[ir::Graph::kInput] = ir::Graph::kInput;
  f.roots.push_back(ir::Graph::kInput);
  for (const auto& n : g.nodes) {
    if (n.op == ir::Op::Softmax) continue;
    if (passes_format_through(n.op) && !n.inputs.empty()) {
      f.root_of[n.name] = f.root_of.at(n.inputs[0]);
    } else {
      f.root_of[n.name] = n.name;
      f.roots.push_back(n.name);
    }
  }
  for (const auto& r : f.roots) f.act_numel[r] = ir::numel(g.shape_of(r));
  ir::Analysis a = ir::analyze(g, {});
  for (const auto& l : a.layers) f.macs[l.name] = l.macs;
  for (const auto& l : f.layers) {
    const ir::Node* n = g.find(l);
    if (!n) throw BadInput("exploration: layer '", l, "' of the sweep is not in the model");
    f.params[l] = n->tensor("weight") ? n->tensor("weight")->numel() : 0;
    f.biases[l] = n->has_bias && n->tensor("bias") ? n->tensor("bias")->numel() : 0;
    f.input_root[l] = f.root_of.at(n->inputs[0]);
  }
  return f;
}

MixedConfig uniform(const ModelFacts& f, int bits) {
  MixedConfig c;
  c.label = "uniform " + std::to_string(bits);
  for (const auto& l : f.layers) c.weight_bits[l] = bits;
  for (const auto& r : f.roots) c.act_bits[r] = bits;
  return c;
}

void compute_costs(const ModelFacts& f, MixedConfig& c) {
  c.weight_bytes = 0;
  c.activation_bytes = 0;
  c.bitops = 0;
  for (const auto& l : f.layers) {
    const int wb = c.weight_bits.at(l);
    c.weight_bytes += (f.params.at(l) * wb + 7) / 8 + 4 * f.biases.at(l);
    c.bitops += static_cast<double>(f.macs.at(l)) * wb * c.act_bits.at(f.input_root.at(l));
  }
  for (const auto& r : f.roots)
    c.activation_bytes = std::max(c.activation_bytes, (f.act_numel.at(r) * c.act_bits.at(r) + 7) / 8);
}

QuantizeOptions options_of(const MixedConfig& c, const ExploreOptions& o) {
  QuantizeOptions q;
  q.scheme = "fixed";
  q.method = o.fl_method;
  q.calibration = o.calibration;
  for (const auto& [name, b] : c.act_bits) q.layers[name].act_bits = b;
  for (const auto& [name, b] : c.weight_bits) q.layers[name].weight_bits = b;
  return q;
}

}  // namespace

ExploreResult explore(const ir::Graph& fp32, const ir::Dataset& data, const SweepResult& sweep,
                      const ExploreOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!(o.max_drop >= 0 && o.max_drop < 1)) throw BadInput("--max-drop ", o.max_drop, ": expected 0 <= x < 1");
  if (o.objective != "bytes" && o.objective != "bitops")
    throw BadInput("--objective ", o.objective, ": expected bytes or bitops");
  std::vector<int> ladder = o.bits;
  std::sort(ladder.begin(), ladder.end());
  ladder.erase(std::unique(ladder.begin(), ladder.end()), ladder.end());
  if (ladder.empty()) throw BadInput("exploration: no candidate widths");
  for (int b : ladder)
    if (!fx::valid_bits(b)) throw BadInput("--bits ", b, ": fixed-point widths are 2..16");

  ir::Graph g = fp32;
  g.state.erase("quant");
  for (auto& n : g.nodes) n.state.erase("quant");
  ir::fold_batchnorm(g);
  g.infer_shapes();
  const ModelFacts f = facts_of(g, sweep);

  ExploreResult res;
  res.baseline_accuracy = sweep.baseline_accuracy;
  res.max_drop = o.max_drop;
  res.objective = o.objective;
  const double floor_acc = res.baseline_accuracy - o.max_drop;

  ProgressBar bar(0, "explore " + g.meta.name, o.progress);
  auto measure = [&](MixedConfig c) {
    compute_costs(f, c);
    ir::Graph q = quantize_model(g, data, options_of(c, o));
    Executor ex(q);
    Simulation sim(ex, SimMode::Exact);
    EvalResult e = evaluate(ex, data, o.batch, false);
    c.accuracy = e.accuracy;
    c.loss = e.loss;
    c.within_budget = c.accuracy >= floor_acc - 1e-12;
    res.evaluated.push_back(c);
    bar.update(static_cast<int64_t>(res.evaluated.size()), c.label);
    return res.evaluated.size() - 1;
  };

  // 1. Groups: uniform widths, widest first.
  std::vector<int> uniform_bits = ladder;
  if (!std::count(uniform_bits.begin(), uniform_bits.end(), 8)) uniform_bits.push_back(8);
  std::sort(uniform_bits.rbegin(), uniform_bits.rend());
  std::optional<size_t> start;
  int start_bits = 0;
  for (int b : uniform_bits) {
    size_t i = measure(uniform(f, b));
    if (b == 8) res.uniform8 = i;
    if (res.evaluated[i].within_budget && std::count(ladder.begin(), ladder.end(), b)) {
      start = i;
      start_bits = b;
    }
  }

  // 2. One tensor at a time, from the smallest uniform width within budget.
  if (start) {
    MixedConfig cur = res.evaluated[*start];
    auto record_drop = [&](const std::string& layer, const std::string& target, int bits) {
      for (const auto& r : sweep.records)
        if (r.layer == layer && r.target == target && r.method == "fixed" && r.bits == bits)
          return std::max(0.0, sweep.baseline_accuracy - r.accuracy);
      return 0.01;  // not swept: assume a moderate loss
    };
    auto lower = [&](int b) {
      auto it = std::lower_bound(ladder.begin(), ladder.end(), b);
      return it == ladder.begin() ? -1 : *(it - 1);
    };
    std::vector<std::vector<std::string>> phases =
        o.objective == "bytes" ? std::vector<std::vector<std::string>>{{"weights"}, {"activations"}}
                               : std::vector<std::vector<std::string>>{{"weights", "activations"}};
    std::set<std::string> frozen;
    int step = 0;
    for (const auto& targets : phases) {
      for (;;) {
        struct Move { std::string node, target; int from, to; double score; };
        std::optional<Move> best;
        for (const auto& target : targets) {
          const std::vector<std::string>& nodes = target == "weights" ? f.layers : f.roots;
          for (const auto& node : nodes) {
            if (frozen.count(node + "/" + target)) continue;
            const int from = target == "weights" ? cur.weight_bits.at(node) : cur.act_bits.at(node);
            const int to = lower(from);
            if (to < 0) continue;
            MixedConfig c = cur;
            (target == "weights" ? c.weight_bits : c.act_bits)[node] = to;
            compute_costs(f, c);
            double saved;
            if (o.objective == "bitops") saved = cur.bitops - c.bitops;
            else if (target == "weights") saved = static_cast<double>(cur.weight_bytes - c.weight_bytes);
            else saved = static_cast<double>(cur.activation_bytes - c.activation_bytes);
            if (target == "activations" && o.objective == "bytes" && saved <= 0)
              saved = static_cast<double>(f.act_numel.at(node)) * (from - to) / 8.0 * 1e-3;  // below the peak: a tie-break
            if (saved <= 0) continue;
            const double drop = record_drop(node, target, to);
            const double score = saved / (drop + 0.002);
            if (!best || score > best->score) best = Move{node, target, from, to, score};
          }
        }
        if (!best) break;
        MixedConfig c = cur;
        (best->target == "weights" ? c.weight_bits : c.act_bits)[best->node] = best->to;
        c.label = "step " + std::to_string(++step) + ": " + best->node + " " + best->target + " " +
                  std::to_string(best->from) + "->" + std::to_string(best->to);
        size_t i = measure(c);
        if (res.evaluated[i].within_budget) cur = res.evaluated[i];
        else frozen.insert(best->node + "/" + best->target);
      }
    }
    (void)start_bits;
  }

  // Chosen: the smallest objective within budget (ties: higher accuracy).
  auto cost = [&](const MixedConfig& c) {
    return o.objective == "bitops" ? std::make_pair(c.bitops, 0.0)
                                   : std::make_pair(static_cast<double>(c.weight_bytes), static_cast<double>(c.activation_bytes));
  };
  for (size_t i = 0; i < res.evaluated.size(); ++i) {
    const MixedConfig& c = res.evaluated[i];
    if (!c.within_budget) continue;
    if (!res.chosen || cost(c) < cost(res.evaluated[*res.chosen]) ||
        (cost(c) == cost(res.evaluated[*res.chosen]) && c.accuracy > res.evaluated[*res.chosen].accuracy))
      res.chosen = i;
  }
  // Pareto front of (objective, accuracy): no other point is at most as costly and more accurate.
  for (size_t i = 0; i < res.evaluated.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < res.evaluated.size() && !dominated; ++j) {
      if (i == j) continue;
      const auto ci = cost(res.evaluated[i]).first, cj = cost(res.evaluated[j]).first;
      const double ai = res.evaluated[i].accuracy, aj = res.evaluated[j].accuracy;
      dominated = cj <= ci && aj >= ai && (cj < ci || aj > ai || j < i);
    }
    if (!dominated) res.pareto.push_back(i);
  }
  std::sort(res.pareto.begin(), res.pareto.end(),
            [&](size_t a, size_t b) { return cost(res.evaluated[a]).first < cost(res.evaluated[b]).first; });
  bar.finish(res.chosen ? res.evaluated[*res.chosen].label : "no configuration within budget");
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace shrink::quant
