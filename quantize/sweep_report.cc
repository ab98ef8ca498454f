// Reports of the sensitivity sweep and the exploration (declared in quantize/sweep.h):
// report.json, report.csv, report.html, mixed_precision.yaml. No LibTorch is used here.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "compress/report.h"
#include "quantize/sweep.h"

namespace shrink::quant {
namespace {

using nlohmann::json;
using report::format_double;
using report::html_escape;
using report::thousands;

/// SQNR of an exact tensor is stored as this value (docs/quantization.md).
constexpr double kExactSqnr = 1e9;

/// A finite number, or null (JSON has no NaN or infinity).
json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string sqnr_text(double db) {
  if (std::isnan(db)) return "n/a";
  if (db >= kExactSqnr) return "exact";
  return format_double("%.1f", db);
}

std::string acc_text(double a) { return std::isfinite(a) ? format_double("%.4f", a) : "n/a"; }

/// Accuracy drop from the baseline in percentage points, e.g. "0.35".
std::string drop_pp_text(double baseline, double acc) {
  const double pp = (baseline - acc) * 100;
  if (!std::isfinite(pp)) return "n/a";
  return format_double(std::fabs(pp) < 10 ? "%.2f" : "%.1f", pp);
}

std::string yes_no(bool b) { return b ? "yes" : "no"; }

/// Every swept layer in graph order, then any layer only the records name.
std::vector<std::string> layer_order(const SweepResult& s) {
  std::vector<std::string> out = s.layers;
  for (const SweepRecord& r : s.records)
    if (std::find(out.begin(), out.end(), r.layer) == out.end()) out.push_back(r.layer);
  return out;
}

/// Values of a field in first-appearance order, `preferred` first.
std::vector<std::string> present(const SweepResult& s, const std::vector<std::string>& preferred,
                                 std::string SweepRecord::*field) {
  std::vector<std::string> out;
  for (const std::string& p : preferred)
    for (const SweepRecord& r : s.records)
      if (r.*field == p) {
        out.push_back(p);
        break;
      }
  for (const SweepRecord& r : s.records)
    if (std::find(out.begin(), out.end(), r.*field) == out.end()) out.push_back(r.*field);
  return out;
}

// ---- SweepRecord validation ----

[[noreturn]] void bad_record(const json& j, const std::string& msg) {
  std::string where;
  if (j.is_object() && j.contains("layer") && j["layer"].is_string()) where = " '" + j["layer"].get<std::string>() + "'";
  throw BadInput("sweep record", where, ": ", msg);
}

std::string field_string(const json& j, const char* key) {
  if (!j.contains(key)) bad_record(j, std::string("missing key '") + key + "'");
  if (!j[key].is_string()) bad_record(j, std::string("'") + key + "' must be a string, got " + j[key].dump());
  return j[key].get<std::string>();
}

int field_int(const json& j, const char* key) {
  if (!j.contains(key)) bad_record(j, std::string("missing key '") + key + "'");
  const json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() < -1000000 || v.get<int64_t>() > 1000000)
    bad_record(j, std::string("'") + key + "' must be an integer, got " + v.dump());
  return v.get<int>();
}

std::optional<int> field_opt_int(const json& j, const char* key) {
  if (!j.contains(key)) bad_record(j, std::string("missing key '") + key + "' (null when absent)");
  if (j[key].is_null()) return std::nullopt;
  return field_int(j, key);
}

/// A number, or null for a value that was not finite (NaN).
double field_double(const json& j, const char* key) {
  if (!j.contains(key)) bad_record(j, std::string("missing key '") + key + "'");
  const json& v = j[key];
  if (v.is_null()) return NAN;
  if (!v.is_number()) bad_record(j, std::string("'") + key + "' must be a number, got " + v.dump());
  return v.get<double>();
}

// ---- HTML parts ----

/// One accuracy-vs-bits chart per layer and target; series = methods, fp32 baseline dashed.
void html_layer_charts(std::ostream& o, const SweepResult& s, const std::vector<std::string>& layers,
                       const std::vector<std::string>& targets, const std::vector<std::string>& methods) {
  o << "<h2>Accuracy vs bits per layer</h2>\n<p>Only the named tensor is quantized, everything else stays fp32. "
       "fixed: width of the fixed-point values; kmeans: index bits (2^b centroids). Dashed: the fp32 baseline "
    << acc_text(s.baseline_accuracy) << ".</p>\n";
  for (const std::string& layer : layers) {
    o << "<h3>" << html_escape(layer);
    auto p = s.layer_params.find(layer);
    if (p != s.layer_params.end()) o << " <small>(" << thousands(p->second) << " weights)</small>";
    o << "</h3>\n<div class=\"charts\">\n";
    for (const std::string& target : targets) {
      report::LineChart c;
      c.title = layer + " — " + target;
      c.x.label = "bits";
      c.y.label = "accuracy";
      std::set<int> bits;
      for (const std::string& method : methods) {
        std::vector<std::pair<int, double>> pts;
        for (const SweepRecord& r : s.records)
          if (r.layer == layer && r.target == target && r.method == method) pts.emplace_back(r.bits, r.accuracy);
        if (pts.empty()) continue;
        std::sort(pts.begin(), pts.end());
        report::ChartSeries series;
        series.name = method;
        for (const auto& [b, a] : pts) {
          series.x.push_back(b);
          series.y.push_back(a);
          bits.insert(b);
        }
        c.series.push_back(series);
      }
      if (c.series.empty()) continue;
      c.x.ticks.assign(bits.begin(), bits.end());
      c.ref_lines.push_back({"fp32 " + acc_text(s.baseline_accuracy), s.baseline_accuracy, "#666"});
      o << "<figure class=\"acc-bits\" data-layer=\"" << html_escape(layer) << "\" data-target=\"" << html_escape(target)
        << "\">" << report::svg_line_chart(c) << "</figure>\n";
    }
    o << "</div>\n";
  }
}

/// One heat map layer x bits per (target, method), coloured by the accuracy drop from fp32.
void html_heat_maps(std::ostream& o, const SweepResult& s, const std::vector<std::string>& layers,
                    const std::vector<std::string>& targets, const std::vector<std::string>& methods) {
  o << "<h2>Accuracy drop heat maps</h2>\n<p>Cell: fp32 accuracy minus the accuracy with that one tensor "
       "quantized, in percentage points (negative: the quantized model was better).</p>\n<div class=\"charts\">\n";
  for (const std::string& target : targets) {
    for (const std::string& method : methods) {
      std::set<int> bits;
      double worst = 0;
      for (const SweepRecord& r : s.records) {
        if (r.target != target || r.method != method) continue;
        bits.insert(r.bits);
        const double drop = (s.baseline_accuracy - r.accuracy) * 100;
        if (std::isfinite(drop)) worst = std::max(worst, drop);
      }
      if (bits.empty()) continue;
      report::HeatMap h;
      h.title = target + ", " + method;
      h.row_label = "layer";
      h.col_label = method == "kmeans" ? "index bits" : "bits";
      h.rows = layers;
      for (int b : bits) h.cols.push_back(std::to_string(b));
      h.values.assign(layers.size(), std::vector<double>(bits.size(), NAN));
      h.text.assign(layers.size(), std::vector<std::string>(bits.size(), "n/a"));
      for (const SweepRecord& r : s.records) {
        if (r.target != target || r.method != method) continue;
        const auto row = static_cast<size_t>(std::find(layers.begin(), layers.end(), r.layer) - layers.begin());
        const auto col = static_cast<size_t>(std::distance(bits.begin(), bits.find(r.bits)));
        h.values[row][col] = (s.baseline_accuracy - r.accuracy) * 100;
        h.text[row][col] = drop_pp_text(s.baseline_accuracy, r.accuracy);
      }
      // Full red at the worst drop, but between 1 and 10 pp so that small and large drops stay apart.
      h.vmin = 0;
      h.vmax = std::clamp(worst, 1.0, 10.0);
      h.scale_label = "accuracy drop (pp)";
      h.vmin_text = "0";
      h.vmax_text = (worst > h.vmax ? "≥ " : "") + format_double("%.3g", h.vmax);
      o << "<figure class=\"heat-map\" data-target=\"" << html_escape(target) << "\" data-method=\""
        << html_escape(method) << "\">" << report::svg_heat_map(h) << "</figure>\n";
    }
  }
  o << "</div>\n";
}

void html_config_row(std::ostream& o, const std::string& name, const MixedConfig& c, double baseline) {
  o << "<tr><td>" << html_escape(name) << "</td><td class=\"n\">" << thousands(c.weight_bytes) << "</td><td class=\"n\">"
    << thousands(c.activation_bytes) << "</td><td class=\"n\">" << format_double("%.4g", c.bitops)
    << "</td><td class=\"n\">" << acc_text(c.accuracy) << "</td><td class=\"n\">" << drop_pp_text(baseline, c.accuracy)
    << "</td></tr>\n";
}

/// Pareto chart, the chosen formats against uniform 8-bit, and every evaluated configuration.
void html_exploration(std::ostream& o, const SweepResult& s, const ExploreResult& e) {
  const double budget = e.baseline_accuracy - e.max_drop;
  o << "<section id=\"exploration\">\n<h2>Network space exploration</h2>\n<p>Objective <b>"
    << html_escape(e.objective) << "</b> under an accuracy budget of " << format_double("%.2f", e.max_drop * 100)
    << " pp: accuracy &ge; " << acc_text(budget) << " (fp32 " << acc_text(e.baseline_accuracy) << "). "
    << e.evaluated.size() << " configurations measured on the fully quantized model (fixed point) in "
    << format_double("%.1f", e.seconds) << " s.</p>\n";

  report::ScatterChart c;
  c.title = "Pareto front: weight bytes vs accuracy";
  c.x.label = "weight bytes";
  c.y.label = "accuracy";
  c.points_label = "evaluated configurations";
  c.front_label = "Pareto front";
  for (const MixedConfig& m : e.evaluated) {
    c.xs.push_back(static_cast<double>(m.weight_bytes));
    c.ys.push_back(m.accuracy);
    c.point_labels.push_back(m.label);
  }
  c.front = e.pareto;
  if (e.uniform8) c.marks.push_back({*e.uniform8, "uniform 8-bit", "#4a4a4a"});
  if (e.chosen) c.marks.push_back({*e.chosen, "chosen", "#2a9d4b"});
  c.ref_lines.push_back({"budget " + acc_text(budget), budget, "#c0392b"});
  c.ref_lines.push_back({"fp32 " + acc_text(e.baseline_accuracy), e.baseline_accuracy, "#666"});
  o << "<figure class=\"pareto\">" << report::svg_scatter_chart(c) << "</figure>\n";

  o << "<h3>Chosen formats</h3>\n";
  if (!e.chosen || *e.chosen >= e.evaluated.size()) {
    o << "<p class=\"big\">No configuration met the budget.</p>\n";
  } else {
    const MixedConfig& ch = e.evaluated[*e.chosen];
    o << "<p>" << html_escape(ch.label) << " (written to mixed_precision.yaml)</p>\n"
      << "<table class=\"chosen\"><tr><th>layer</th><th>weight bits</th><th>activation bits</th></tr>\n";
    std::vector<std::string> layers = layer_order(s);
    for (const auto& [name, b] : ch.weight_bits)
      if (std::find(layers.begin(), layers.end(), name) == layers.end()) layers.push_back(name);
    for (const auto& [name, b] : ch.act_bits)
      if (std::find(layers.begin(), layers.end(), name) == layers.end()) layers.push_back(name);
    for (const std::string& l : layers) {
      auto w = ch.weight_bits.find(l);
      auto a = ch.act_bits.find(l);
      if (w == ch.weight_bits.end() && a == ch.act_bits.end()) continue;
      o << "<tr><td>" << html_escape(l) << "</td><td class=\"n\">"
        << (w == ch.weight_bits.end() ? "" : std::to_string(w->second)) << "</td><td class=\"n\">"
        << (a == ch.act_bits.end() ? "" : std::to_string(a->second)) << "</td></tr>\n";
    }
    o << "</table>\n<table class=\"compare\"><tr><th>configuration</th><th>weight bytes</th><th>activation bytes</th>"
         "<th>bit-ops</th><th>accuracy</th><th>drop (pp)</th></tr>\n";
    if (e.uniform8 && *e.uniform8 < e.evaluated.size())
      html_config_row(o, "uniform 8-bit", e.evaluated[*e.uniform8], e.baseline_accuracy);
    html_config_row(o, "chosen", ch, e.baseline_accuracy);
    o << "</table>\n";
    if (e.uniform8 && *e.uniform8 < e.evaluated.size() && ch.weight_bytes > 0)
      o << "<p>The chosen weights take " << format_double("%.2f", static_cast<double>(e.evaluated[*e.uniform8].weight_bytes) / ch.weight_bytes)
        << "x fewer bytes than uniform 8-bit.</p>\n";
  }

  o << "<h3>Evaluated configurations</h3>\n<table class=\"evaluated\"><tr><th>#</th><th>configuration</th>"
       "<th>weight bytes</th><th>activation bytes</th><th>bit-ops</th><th>accuracy</th><th>drop (pp)</th>"
       "<th>within budget</th><th>Pareto</th></tr>\n";
  for (size_t i = 0; i < e.evaluated.size(); ++i) {
    const MixedConfig& m = e.evaluated[i];
    const bool front = std::find(e.pareto.begin(), e.pareto.end(), i) != e.pareto.end();
    std::string name = m.label;
    if (e.chosen == i) name += " (chosen)";
    o << "<tr><td class=\"n\">" << i << "</td><td>" << (e.chosen == i ? "<b>" : "") << html_escape(name)
      << (e.chosen == i ? "</b>" : "") << "</td><td class=\"n\">" << thousands(m.weight_bytes) << "</td><td class=\"n\">"
      << thousands(m.activation_bytes) << "</td><td class=\"n\">" << format_double("%.4g", m.bitops)
      << "</td><td class=\"n\">" << acc_text(m.accuracy) << "</td><td class=\"n\">"
      << drop_pp_text(e.baseline_accuracy, m.accuracy) << "</td><td>" << yes_no(m.within_budget) << "</td><td>"
      << (front ? "yes" : "") << "</td></tr>\n";
  }
  o << "</table>\n</section>\n";
}

void html_records(std::ostream& o, const SweepResult& s) {
  o << "<h2>All points</h2>\n<table class=\"records\"><tr><th>layer</th><th>target</th><th>method</th><th>bits</th>"
       "<th>IL</th><th>FL</th><th>accuracy</th><th>loss</th><th>SQNR dB</th><th>seconds</th></tr>\n";
  auto opt = [](const std::optional<int>& v) { return v ? std::to_string(*v) : std::string(); };
  for (const SweepRecord& r : s.records) {
    o << "<tr><td>" << html_escape(r.layer) << "</td><td>" << html_escape(r.target) << "</td><td>"
      << html_escape(r.method) << "</td><td class=\"n\">" << r.bits << "</td><td class=\"n\">" << opt(r.il)
      << "</td><td class=\"n\">" << opt(r.fl) << "</td><td class=\"n\">" << acc_text(r.accuracy)
      << "</td><td class=\"n\">" << acc_text(r.loss) << "</td><td class=\"n\">" << sqnr_text(r.sqnr_db)
      << "</td><td class=\"n\">" << format_double("%.2f", r.seconds) << "</td></tr>\n";
  }
  o << "</table>\n";
}

std::string csv_number(double v) { return std::isfinite(v) ? format_double("%.10g", v) : ""; }

/// A YAML mapping key: plain when it is a simple name, else double-quoted.
std::string yaml_key(const std::string& k) {
  const bool plain = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' || c == '-';
  }) && k[0] != '-' && k != "null" && k != "true" && k != "false" && k != "~";
  if (plain) return k;
  std::string q = "\"";
  for (char c : k) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

}  // namespace

// ---- SweepRecord ----

std::string SweepRecord::key() const { return layer + "/" + target + "/" + method + "/" + std::to_string(bits); }

nlohmann::json SweepRecord::to_json() const {
  const double sqnr = sqnr_db == INFINITY ? kExactSqnr : sqnr_db;
  return {{"layer", layer},
          {"target", target},
          {"method", method},
          {"bits", bits},
          {"il", il ? json(*il) : json(nullptr)},
          {"fl", fl ? json(*fl) : json(nullptr)},
          {"accuracy", number_or_null(accuracy)},
          {"loss", number_or_null(loss)},
          {"sqnr_db", number_or_null(sqnr)},
          {"seconds", number_or_null(seconds)}};
}

SweepRecord SweepRecord::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw BadInput("sweep record: expected an object, got ", j.dump());
  static const std::set<std::string> keys = {"layer", "target", "method", "bits", "il",
                                             "fl",    "accuracy", "loss", "sqnr_db", "seconds"};
  for (const auto& kv : j.items())
    if (!keys.count(kv.key()))
      bad_record(j, "unknown key '" + kv.key() + "', expected layer, target, method, bits, il, fl, accuracy, loss, "
                    "sqnr_db, seconds");
  SweepRecord r;
  r.layer = field_string(j, "layer");
  if (r.layer.empty()) bad_record(j, "'layer' is empty");
  r.target = field_string(j, "target");
  if (r.target != "weights" && r.target != "activations")
    bad_record(j, "target '" + r.target + "': expected weights or activations");
  r.method = field_string(j, "method");
  if (r.method != "fixed" && r.method != "kmeans") bad_record(j, "method '" + r.method + "': expected fixed or kmeans");
  r.bits = field_int(j, "bits");
  if (r.method == "fixed" && (r.bits < 2 || r.bits > 16))
    bad_record(j, "bits " + std::to_string(r.bits) + ": expected 2..16 for fixed");
  if (r.method == "kmeans" && (r.bits < 1 || r.bits > 8))
    bad_record(j, "bits " + std::to_string(r.bits) + ": expected 1..8 index bits for kmeans");
  r.il = field_opt_int(j, "il");
  r.fl = field_opt_int(j, "fl");
  if (r.il.has_value() != r.fl.has_value()) bad_record(j, "'il' and 'fl' must both be integers or both null");
  if (r.fl && (*r.fl < -8 || *r.fl > 24)) bad_record(j, "fl " + std::to_string(*r.fl) + ": expected -8..24");
  if (r.method == "fixed") {
    if (!r.fl) bad_record(j, "a fixed-point record needs 'il' and 'fl'");
    if (*r.il + *r.fl != r.bits - 1)
      bad_record(j, "il " + std::to_string(*r.il) + " + fl " + std::to_string(*r.fl) + " must equal bits - 1 = " +
                        std::to_string(r.bits - 1));
  }
  r.accuracy = field_double(j, "accuracy");
  if (r.accuracy < 0 || r.accuracy > 1) bad_record(j, "accuracy " + j["accuracy"].dump() + ": expected 0..1");
  r.loss = field_double(j, "loss");
  r.sqnr_db = field_double(j, "sqnr_db");
  if (j.contains("seconds")) r.seconds = field_double(j, "seconds");
  if (r.seconds < 0) bad_record(j, "seconds " + j["seconds"].dump() + ": expected >= 0");
  return r;
}

// ---- MixedConfig / ExploreResult ----

nlohmann::json MixedConfig::to_json() const {
  return {{"label", label},
          {"weight_bits", weight_bits},
          {"act_bits", act_bits},
          {"weight_bytes", weight_bytes},
          {"activation_bytes", activation_bytes},
          {"bitops", number_or_null(bitops)},
          {"accuracy", number_or_null(accuracy)},
          {"loss", number_or_null(loss)},
          {"within_budget", within_budget}};
}

std::string ExploreResult::chosen_yaml() const {
  if (!chosen || *chosen >= evaluated.size())
    throw InternalError("chosen_yaml: the exploration chose no configuration (check ExploreResult::chosen first)");
  const MixedConfig& c = evaluated[*chosen];
  std::ostringstream o;
  o << "# Mixed precision chosen by shrink sweep --explore: smallest " << objective << " within an accuracy budget of "
    << format_double("%.2f", max_drop * 100) << " pp\n"
    << "# fp32 baseline accuracy " << acc_text(baseline_accuracy) << ", this configuration " << acc_text(c.accuracy)
    << " (" << c.label << ")\n"
    << "# weight bytes " << c.weight_bytes;
  if (uniform8 && *uniform8 < evaluated.size())
    o << " (uniform 8-bit: " << evaluated[*uniform8].weight_bytes << ", accuracy "
      << acc_text(evaluated[*uniform8].accuracy) << ")";
  o << ", largest activation " << c.activation_bytes << " bytes\n";
  if (std::isfinite(c.accuracy)) o << "accuracy: " << format_double("%.6g", c.accuracy) << "\n";
  o << "bytes: " << c.weight_bytes << "\nlayers:\n";
  std::set<std::string> names;
  for (const auto& [n, b] : c.weight_bits) names.insert(n);
  for (const auto& [n, b] : c.act_bits) names.insert(n);
  for (const std::string& n : names) {
    o << "  " << yaml_key(n) << ": {";
    auto w = c.weight_bits.find(n);
    auto a = c.act_bits.find(n);
    if (w != c.weight_bits.end()) o << "weight_bits: " << w->second << (a != c.act_bits.end() ? ", " : "");
    if (a != c.act_bits.end()) o << "act_bits: " << a->second;
    o << "}\n";
  }
  return o.str();
}

// ---- Reports ----

nlohmann::json sweep_report_json(const SweepResult& s, const ExploreResult* e) {
  json records = json::array();
  for (const SweepRecord& r : s.records) records.push_back(r.to_json());
  json exploration = nullptr, chosen = nullptr;
  if (e) {
    json evaluated = json::array();
    for (const MixedConfig& m : e->evaluated) evaluated.push_back(m.to_json());
    auto index = [](const std::optional<size_t>& i) { return i ? json(*i) : json(nullptr); };
    exploration = {{"baseline_accuracy", number_or_null(e->baseline_accuracy)},
                   {"max_drop", e->max_drop},
                   {"objective", e->objective},
                   {"seconds", number_or_null(e->seconds)},
                   {"evaluated", evaluated},
                   {"pareto", e->pareto},
                   {"chosen", index(e->chosen)},
                   {"uniform8", index(e->uniform8)}};
    if (e->chosen && *e->chosen < e->evaluated.size()) chosen = e->evaluated[*e->chosen].to_json();
  }
  return {{"model", s.model},
          {"images", s.images},
          {"baseline", {{"accuracy", number_or_null(s.baseline_accuracy)}, {"loss", number_or_null(s.baseline_loss)}}},
          {"seconds", number_or_null(s.seconds)},
          {"cached", s.cached},
          {"sensitivity", records},
          {"exploration", exploration},
          {"chosen_config", chosen}};
}

std::string sweep_report_csv(const SweepResult& s) {
  std::string out = "layer,target,method,bits,il,fl,accuracy,loss,sqnr_db,seconds\n";
  for (const SweepRecord& r : s.records) {
    out += report::csv_field(r.layer) + ',' + report::csv_field(r.target) + ',' + report::csv_field(r.method) + ',' + std::to_string(r.bits) +
           ',' + (r.il ? std::to_string(*r.il) : "") + ',' + (r.fl ? std::to_string(*r.fl) : "") + ',' +
           csv_number(r.accuracy) + ',' + csv_number(r.loss) + ',' +
           csv_number(r.sqnr_db == INFINITY ? kExactSqnr : r.sqnr_db) + ',' + csv_number(r.seconds) + '\n';
  }
  return out;
}

std::string sweep_report_html(const SweepResult& s, const ExploreResult* e) {
  const std::vector<std::string> layers = layer_order(s);
  const std::vector<std::string> targets = present(s, {"weights", "activations"}, &SweepRecord::target);
  const std::vector<std::string> methods = present(s, {"fixed", "kmeans"}, &SweepRecord::method);
  std::ostringstream o;
  o << report::html_head("shrink sweep: " + s.model,
                         ".charts{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}h3 small{font-weight:normal}\n");
  o << "<h1>Quantization sweep: " << html_escape(s.model) << "</h1>\n<p class=\"big\">fp32 baseline accuracy <b>"
    << acc_text(s.baseline_accuracy) << "</b> (loss " << acc_text(s.baseline_loss) << ") on " << thousands(s.images)
    << " val images</p>\n<table class=\"summary\"><tr><th>model</th><td>" << html_escape(s.model)
    << "</td></tr><tr><th>images</th><td class=\"n\">" << thousands(s.images)
    << "</td></tr><tr><th>baseline accuracy</th><td class=\"n\">" << acc_text(s.baseline_accuracy)
    << "</td></tr><tr><th>layers</th><td class=\"n\">" << layers.size() << "</td></tr><tr><th>points</th><td class=\"n\">"
    << s.records.size() << "</td></tr><tr><th>wall time</th><td class=\"n\">" << format_double("%.1f", s.seconds)
    << " s</td></tr><tr><th>activation cache</th><td>" << yes_no(s.cached) << "</td></tr>";
  if (e) o << "<tr><th>exploration</th><td class=\"n\">" << format_double("%.1f", e->seconds) << " s</td></tr>";
  o << "</table>\n";
  html_layer_charts(o, s, layers, targets, methods);
  html_heat_maps(o, s, layers, targets, methods);
  if (e) html_exploration(o, s, *e);
  html_records(o, s);
  o << "</body></html>\n";
  return o.str();
}

void write_sweep_report(const std::string& dir, const SweepResult& s, const ExploreResult* e) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw BadInput(dir, ": cannot create the output folder: ", ec.message());
  ir::write_file_atomic(dir + "/report.json", sweep_report_json(s, e).dump(2) + "\n");
  ir::write_file_atomic(dir + "/report.csv", sweep_report_csv(s));
  ir::write_file_atomic(dir + "/report.html", sweep_report_html(s, e));
  const std::string yaml = dir + "/mixed_precision.yaml";
  if (e && e->chosen && *e->chosen < e->evaluated.size()) {
    ir::write_file_atomic(yaml, e->chosen_yaml());
  } else {
    fs::remove(yaml, ec);  // a configuration of an earlier run would contradict report.json
  }
}

}  // namespace shrink::quant
