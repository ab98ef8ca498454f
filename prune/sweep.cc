// Pruning sensitivity sweep: one pruned layer per point, the rest of the model untouched.
//
// Contracts kept here:
// - The baseline is the unpruned model evaluated exactly as every point is (same executor
//   setup, images and batch size), so a point at level 0 reproduces its accuracy bit for bit.
// - Structured criteria rank every prunable group once on the unpruned model (scores do not
//   depend on the level); a point keeps the group's channels choose_channels picks at its level,
//   masks them and thins the model.
// - Workers measure points in parallel, each with its own executor and one LibTorch thread;
//   records do not depend on the number of workers.
#include "prune/sweep.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <set>

#include "compress/dist.h"
#include "compress/executor_setup.h"
#include "compress/ir/analyzer.h"
#include "compress/ir/error.h"
#include "compress/parallel.h"
#include "compress/progress.h"
#include "compress/train.h"
#include "prune/channels.h"
#include "prune/prune_model.h"
#include "prune/rank.h"

namespace shrink::prune {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

struct Point {
  std::string method, layer;
  double level = 0;
};

}  // namespace

nlohmann::json SweepRecord::to_json() const {
  return {{"layer", layer},   {"method", method}, {"level", level}, {"accuracy", accuracy},
          {"loss", loss},     {"params", params}, {"macs", macs},   {"seconds", seconds}};
}

std::vector<std::string> sweep_methods() {
  std::vector<std::string> m = {"magnitude"};
  const auto& s = structured_methods();
  m.insert(m.end(), s.begin(), s.end());
  return m;
}

void check_sweep_options(const SweepOptions& o) {
  const std::vector<std::string> known = sweep_methods();
  if (o.methods.empty()) throw BadInput("--methods: expected at least one of ", joined(known));
  for (const auto& m : o.methods)
    if (std::find(known.begin(), known.end(), m) == known.end())
      throw BadInput("--methods ", m, ": not a pruning method (known: ", joined(known), ")");
  for (const auto* list : {&o.levels, &o.structured_levels, &o.magnitude_levels})
    for (double v : *list)
      if (!(v >= 0.0 && v < 1.0)) throw BadInput("--levels ", v, ": expected 0 <= level < 1");
  if (o.levels.empty() && (o.structured_levels.empty() || o.magnitude_levels.empty()))
    throw BadInput("--levels: expected at least one level");
  if (o.workers < 1) throw BadInput("--workers ", o.workers, ": expected >= 1");
  if (o.shard_count < 1 || o.shard_rank < 0 || o.shard_rank >= o.shard_count)
    throw BadInput("sweep: shard ", o.shard_rank, " of ", o.shard_count, ", expected 0 <= rank < count");
  if (o.shard_count > 1 && !o.gather) throw BadInput("sweep: a sweep over ", o.shard_count, " processes needs `gather`");
  if (o.batch < 1) throw BadInput("batch ", o.batch, ": expected >= 1");
}

SweepResult sweep_pruning(const ir::Graph& in, const ir::Dataset& data, const ir::Dataset* rank,
                          const SweepOptions& o) {
  check_sweep_options(o);
  const auto t0 = std::chrono::steady_clock::now();
  if (in.state.contains("quant")) throw BadInput("sweep: the model is quantized; sweep pruning on the fp32 model");
  if (data.size < 1) throw BadInput("sweep: the data '", data.name, "' is empty");
  ir::Graph g = in;
  g.infer_shapes();

  auto measure = [&](const ir::Graph& m) {
    auto ex = make_model_executor(m, ExecutorPurpose::Eval);
    return evaluate(ex->executor(), data, o.batch, false);
  };

  SweepResult res;
  res.model = g.meta.name;
  res.data = data.name;
  res.images = data.size;
  {
    const EvalResult e = measure(g);
    const ir::Analysis a = ir::analyze(g, {});
    res.baseline = {e.accuracy, e.loss, a.params, a.nonzero_params, a.macs};
  }

  // The points in report order; structured criteria ranked once each.
  std::vector<std::string> methods;
  for (const auto& m : o.methods)
    if (std::find(methods.begin(), methods.end(), m) == methods.end()) methods.push_back(m);
  const ChannelAnalysis analysis = analyze_channels(g);
  std::map<std::string, std::map<std::string, std::vector<double>>> scores;  // method -> group -> channel
  std::vector<Point> points;
  for (const std::string& method : methods) {
    std::vector<double> levels = !o.levels.empty() ? o.levels
                                 : method == "magnitude" ? o.magnitude_levels
                                                         : o.structured_levels;
    std::sort(levels.begin(), levels.end());
    levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
    std::vector<std::string> layers;
    if (method == "magnitude") {
      for (const ir::Node& n : g.nodes)
        if ((n.op == ir::Op::Conv2d || n.op == ir::Op::Linear) && n.tensor("weight")) layers.push_back(n.name);
    } else {
      for (const ChannelGroup& grp : analysis.groups)
        if (grp.prunable) layers.push_back(grp.name);
      if (!layers.empty())
        scores[method] = rank_channels(g, analysis, method, rank ? *rank : data, {.seed = o.seed});
    }
    if (layers.empty())
      throw BadInput("sweep: model '", g.meta.name, "' has nothing ", method,
                     method == "magnitude" ? " can prune (no conv / linear layer)" : " can prune (no prunable channel group)");
    for (const std::string& layer : layers)
      for (double level : levels) points.push_back({method, layer, level});
  }
  res.methods = methods;

  auto run_point = [&](const Point& p) {
    const auto tp = std::chrono::steady_clock::now();
    ir::Graph m = g;
    if (p.method == "magnitude") {
      magnitude_masks(m, {{p.layer, p.level}}, false);
    } else {
      set_channel_masks(m, analysis, choose_channels(scores.at(p.method), {{p.layer, p.level}}, false));
      m = thin(m);
    }
    const EvalResult e = measure(m);
    const ir::Analysis a = ir::analyze(m, {});
    SweepRecord r;
    r.layer = p.layer;
    r.method = p.method;
    r.level = p.level;
    r.accuracy = e.accuracy;
    r.loss = e.loss;
    r.params = p.method == "magnitude" ? a.nonzero_params : a.params;
    r.macs = a.macs;
    r.seconds = seconds_since(tp);
    return r;
  };

  // This process's points (all of them unless sharded): magnitude points run the dense model,
  // structured ones a model about (1 - level) as wide.
  std::vector<size_t> todo;
  {
    std::vector<double> cost;
    for (const Point& p : points) cost.push_back(p.method == "magnitude" ? 1.0 : 1.0 - 0.5 * p.level);
    const std::vector<int> owner = dist::balance(cost, o.shard_count);
    for (size_t i = 0; i < points.size(); ++i)
      if (owner[i] == o.shard_rank) todo.push_back(i);
  }
  res.records.resize(points.size());
  std::mutex mu;
  ProgressBar bar(static_cast<int64_t>(todo.size()), "prune sweep " + g.meta.name, o.progress);
  int64_t finished = 0;
  for_each_point(todo.size(), o.workers, [&] {
    return [&](size_t t) {
      const size_t i = todo[t];
      SweepRecord r = run_point(points[i]);
      std::lock_guard<std::mutex> lock(mu);
      res.records[i] = std::move(r);
      bar.update(++finished, points[i].method + " " + points[i].layer);
    };
  });
  bar.finish(std::to_string(todo.size()) + " points");
  if (o.shard_count > 1) {  // every rank's records, by point index, to every rank
    nlohmann::json mine = nlohmann::json::array();
    for (size_t i : todo) mine.push_back({i, res.records[i].to_json()});
    for (const std::string& bytes : o.gather(mine.dump()))
      for (const auto& j : nlohmann::json::parse(bytes)) {
        const size_t i = j[0].get<size_t>();
        const nlohmann::json& r = j[1];
        if (i >= points.size()) throw InternalError("prune sweep: gathered point ", i, " of ", points.size());
        res.records[i] = {r.at("layer").get<std::string>(), r.at("method").get<std::string>(), r.at("level").get<double>(),
                          r.at("accuracy").get<double>(), r.at("loss").get<double>(), r.at("params").get<int64_t>(),
                          r.at("macs").get<int64_t>(), r.at("seconds").get<double>()};
      }
  }
  res.seconds = seconds_since(t0);
  return res;
}

}  // namespace shrink::prune
