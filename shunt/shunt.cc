#include "shunt/shunt.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "compress/executor.h"
#include "compress/executor_setup.h"
#include "compress/ir/analyzer.h"
#include "compress/ir/error.h"
#include "compress/report.h"
#include "distill/losses.h"

namespace shrink::shunt {

namespace {

double accuracy(const ir::Graph& m, const ir::Dataset& val) {
  return evaluate(make_model_executor(m, ExecutorPurpose::Eval)->executor(), val, 256, false).accuracy;
}

// Trains a copy of `m` (through the executor setups, so quantized models train as such).
ir::Graph trained(const ir::Graph& m, const ir::Dataset& data, const TrainOptions& o, const ir::Dataset* val) {
  auto ex = make_model_executor(m, ExecutorPurpose::Train);
  train(ex->executor(), data, o, val);
  return ex->finish();
}

}  // namespace

ShuntOptions::ShuntOptions() {
  shunt_train.epochs = 2;
  shunt_train.lr = 1e-3;
  finetune.epochs = 1;
  finetune.lr = 1e-4;
  finetune.temperature = 5;
  finetune.alpha = 2;
}

double run_kq(const KqTable& kq, const Run& run) {
  double sum = 0;
  for (const auto& row : kq.rows)
    if (row.block.id >= run.first && row.block.id <= run.last) sum += row.kq;
  return sum;
}

Run choose_run(const ir::Graph& g, const KqTable& kq, const ShuntSpec& s, double max_kq) {
  check_spec(s);
  const std::vector<Block> blocks = find_blocks(g);
  int end = 0;  // blocks [0, end) produce {C, H, W}
  while (end < static_cast<int>(blocks.size()) && blocks[static_cast<size_t>(end)].out_shape.size() == 3) ++end;
  std::optional<Run> best;
  double best_kq = 0;
  int64_t best_saved = 0;
  auto residual = [&](int i) { return i >= 0 && i < end && blocks[static_cast<size_t>(i)].residual(); };
  for (int i = 0; i < end; ++i) {
    if (blocks[static_cast<size_t>(i)].entry == ir::Graph::kInput || !(residual(i) || residual(i + 1))) continue;
    for (int j = i; j < end; ++j) {
      if (!residual(j) || shunt_stride(blocks[static_cast<size_t>(i)].in_shape, blocks[static_cast<size_t>(j)].out_shape) == 0)
        continue;
      Run r = make_run(blocks, i, j);
      const double k = run_kq(kq, r);
      if (k > max_kq) continue;
      const int64_t saved = r.macs - shunt_macs(r, s);
      if (!best || saved > best_saved || (saved == best_saved && k < best_kq)) {
        best = r;
        best_kq = k;
        best_saved = saved;
      }
    }
  }
  if (!best || best_saved <= 0)
    throw BadInput("shunt --auto: no run of blocks has a summed KQ <= ", max_kq, " and a ", s.arch,
                   " shunt that saves MACs; raise --max-kq or name the blocks");
  return *best;
}

double shunt_mse(const ir::Graph& original, const ir::Graph& shunted, const Run& run, const std::string& shunt_out,
                 const ir::Dataset& data) {
  auto teacher = make_model_executor(original, ExecutorPurpose::Eval);
  auto student = make_model_executor(shunted, ExecutorPurpose::Eval);
  auto [x, y] = dataset_to_torch(data);
  std::vector<int64_t> shape{x.size(0)};
  for (int64_t d : original.meta.input_shape) shape.push_back(d);
  x = x.reshape(shape);
  torch::NoGradGuard no_grad;
  double sum = 0, count = 0;
  for (int64_t lo = 0; lo < x.size(0); lo += 256) {
    torch::Tensor xb = x.slice(0, lo, std::min(x.size(0), lo + 256));
    auto tv = teacher->executor().forward_with(xb, {run.entry, run.exit}, false);
    auto sv = student->executor().forward_from({{run.entry, tv.at(run.entry)}}, {shunt_out}, false);
    sum += (sv.at(shunt_out) - tv.at(run.exit)).pow(2).sum().item<double>();
    count += static_cast<double>(tv.at(run.exit).numel());
  }
  return sum / count;
}

ShuntResult shunt_model(const ir::Graph& g, const Run& run, const ShuntOptions& o, const ir::Dataset& train_set,
                        const ir::Dataset& val) {
  ShuntResult r;
  r.run = run;
  Inserted ins = insert_shunt(g, run, o.spec);
  r.shunt_nodes = ins.nodes;
  r.shunt_macs = ins.macs;
  const ir::Analysis a0 = ir::analyze(g, {}), a1 = ir::analyze(ins.graph, {});
  r.macs_before = a0.macs;
  r.macs_after = a1.macs;
  r.params_before = a0.params;
  r.params_after = a1.params;
  r.accuracy_original = accuracy(g, val);
  r.accuracy_inserted = accuracy(ins.graph, val);
  r.mse_before = shunt_mse(g, ins.graph, run, ins.output, val);

  auto teacher = make_model_executor(g, ExecutorPurpose::Eval);
  // Phase 1: the shunt alone, from the teacher's value at the run's entry, against its exit.
  TrainOptions t1 = o.shunt_train;
  t1.teacher = &teacher->executor();
  t1.alpha = 0;
  t1.ce_weight = 0;
  t1.terms = {distill::term("mse", ins.output, run.exit)};
  t1.feed = {run.entry};
  t1.trainable = ins.nodes;
  ir::Graph phase1 = t1.epochs > 0 ? trained(ins.graph, train_set, t1, nullptr) : ins.graph;
  r.mse_after = shunt_mse(g, phase1, run, ins.output, val);
  r.accuracy_shunt_trained = accuracy(phase1, val);

  // Phase 2: the whole model with knowledge distillation from the original.
  TrainOptions t2 = o.finetune;
  if (!t2.teacher) t2.teacher = &teacher->executor();
  r.model = t2.epochs > 0 ? trained(phase1, train_set, t2, nullptr) : phase1;
  r.accuracy_kd = accuracy(r.model, val);
  if (o.compare_plain) {
    TrainOptions t3 = o.finetune;
    t3.teacher = nullptr;
    t3.terms.clear();
    r.plain = t3.epochs > 0 ? trained(phase1, train_set, t3, nullptr) : phase1;
    r.accuracy_plain = accuracy(*r.plain, val);
  }
  return r;
}

nlohmann::json kq_to_json(const KqTable& t) {
  nlohmann::json blocks = nlohmann::json::array();
  for (const auto& row : t.rows)
    blocks.push_back({{"id", row.block.id},
                      {"name", row.block.name},
                      {"macs", row.block.macs},
                      {"accuracy_without", row.accuracy_without},
                      {"kq", row.kq}});
  return {{"accuracy", t.accuracy}, {"images", t.images}, {"macs", t.macs}, {"blocks", blocks}};
}

KqTable kq_from_json(const nlohmann::json& j, const std::vector<Block>& blocks, const std::string& file) {
  KqTable t;
  try {
    t.accuracy = j.at("accuracy").get<double>();
    t.images = j.at("images").get<int64_t>();
    t.macs = j.at("macs").get<int64_t>();
    for (const auto& b : j.at("blocks")) {
      const int id = b.at("id").get<int>();
      const std::string name = b.at("name").get<std::string>();
      if (id < 0 || id >= static_cast<int>(blocks.size()) || blocks[static_cast<size_t>(id)].name != name ||
          !blocks[static_cast<size_t>(id)].residual())
        throw BadInput(file, ": block ", id, " '", name, "' is not a residual block of this model");
      t.rows.push_back({blocks[static_cast<size_t>(id)], b.at("accuracy_without").get<double>(), b.at("kq").get<double>()});
    }
  } catch (const nlohmann::json::exception& e) {
    throw BadInput(file, ": not a KQ table of shrink shunt --kq-only --json (", e.what(), ")");
  }
  return t;
}

std::string kq_to_table(const KqTable& t) {
  std::ostringstream os;
  char line[160];
  std::snprintf(line, sizeof line, "%4s  %-14s %12s %8s %10s\n", "id", "block", "MACs", "MACs %", "KQ");
  os << line;
  for (const auto& row : t.rows) {
    std::snprintf(line, sizeof line, "%4d  %-14s %12lld %7.2f%% %10.4f\n", row.block.id, row.block.name.c_str(),
                  static_cast<long long>(row.block.macs),
                  t.macs > 0 ? 100.0 * static_cast<double>(row.block.macs) / static_cast<double>(t.macs) : 0.0, row.kq);
    os << line;
  }
  std::snprintf(line, sizeof line, "val accuracy %.4f on %lld images; model %lld MACs\n", t.accuracy,
                static_cast<long long>(t.images), static_cast<long long>(t.macs));
  os << line;
  return os.str();
}

nlohmann::json result_to_json(const ShuntResult& r, const ShuntSpec& s) {
  auto opt = [](double v) { return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v); };
  return {{"run", {{"first", r.run.first}, {"last", r.run.last}, {"entry", r.run.entry}, {"exit", r.run.exit},
                   {"in_shape", r.run.in_shape}, {"out_shape", r.run.out_shape}, {"stride", r.run.stride},
                   {"macs", r.run.macs}}},
          {"shunt", {{"arch", s.arch}, {"width", effective_width(s)}, {"nodes", r.shunt_nodes}, {"macs", r.shunt_macs}}},
          {"macs_before", r.macs_before},
          {"macs_after", r.macs_after},
          {"macs_saved_fraction",
           r.macs_before > 0 ? 1.0 - static_cast<double>(r.macs_after) / static_cast<double>(r.macs_before) : 0.0},
          {"params_before", r.params_before},
          {"params_after", r.params_after},
          {"mse", {{"inserted", opt(r.mse_before)}, {"shunt_trained", opt(r.mse_after)}}},
          {"accuracy",
           {{"original", opt(r.accuracy_original)},
            {"inserted", opt(r.accuracy_inserted)},
            {"shunt_trained", opt(r.accuracy_shunt_trained)},
            {"kd", opt(r.accuracy_kd)},
            {"plain", opt(r.accuracy_plain)}}}};
}

std::string result_to_html(const ShuntResult& r, const ShuntSpec& s, const KqTable* kq) {
  using report::html_escape;
  using report::thousands;
  auto acc = [](double a) { return a < 0 ? std::string("n/a") : report::format_double("%.4f", a); };
  std::ostringstream o;
  if (kq && !kq->rows.empty()) {
    std::vector<std::string> labels;
    std::vector<double> values;
    double vmax = 0;
    for (const auto& row : kq->rows) {
      labels.push_back(row.block.name);
      values.push_back(row.kq);
      vmax = std::max(vmax, row.kq);
    }
    o << "<p>Knowledge Quotient of every residual block: KQ = 1 - accuracy without the block / accuracy ("
      << report::format_double("%.4f", kq->accuracy) << " on " << kq->images << " val images). Low KQ: the block adds "
      << "little.</p>\n"
      << report::svg_bar_chart(labels, values, vmax > 0 ? vmax : 1, "KQ") << "\n"
      << "<table><tr><th>id</th><th>block</th><th>MACs</th><th>accuracy without</th><th>KQ</th></tr>\n";
    for (const auto& row : kq->rows)
      o << "<tr><td>" << row.block.id << "</td><td>" << html_escape(row.block.name) << "</td><td>"
        << thousands(row.block.macs) << "</td><td>" << acc(row.accuracy_without) << "</td><td>"
        << report::format_double("%.4f", row.kq) << "</td></tr>\n";
    o << "</table>\n";
  }
  const double saved = r.macs_before > 0 ? 1.0 - static_cast<double>(r.macs_after) / static_cast<double>(r.macs_before) : 0;
  o << "<p>Shunt <b>" << html_escape(s.arch) << "</b> (width " << report::format_double("%g", effective_width(s))
    << ") over blocks " << r.run.first << "-" << r.run.last << " (" << html_escape(r.run.entry) << " to "
    << html_escape(r.run.exit) << "): MACs " << thousands(r.macs_before) << " &rarr; <b>" << thousands(r.macs_after)
    << "</b> (-" << report::format_double("%.1f", 100 * saved) << "%), parameters " << thousands(r.params_before)
    << " &rarr; " << thousands(r.params_after) << ".</p>\n"
    << "<table><tr><th>model</th><th>val accuracy</th></tr>\n"
    << "<tr><td>original</td><td>" << acc(r.accuracy_original) << "</td></tr>\n"
    << "<tr><td>shunt inserted</td><td>" << acc(r.accuracy_inserted) << "</td></tr>\n"
    << "<tr><td>shunt trained (feature matching, MSE " << report::format_double("%.4g", r.mse_before) << " &rarr; "
    << report::format_double("%.4g", r.mse_after) << ")</td><td>" << acc(r.accuracy_shunt_trained) << "</td></tr>\n"
    << "<tr><td>fine-tuned with knowledge distillation</td><td><b>" << acc(r.accuracy_kd) << "</b></td></tr>\n";
  if (r.accuracy_plain >= 0)
    o << "<tr><td>fine-tuned without distillation</td><td>" << acc(r.accuracy_plain) << "</td></tr>\n";
  o << "</table>\n";
  return o.str();
}

}  // namespace shrink::shunt
