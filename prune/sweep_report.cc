// Reports of the pruning sensitivity sweep (declared in prune/sweep.h): report.json, report.csv
// and a self-contained report.html built with the shared chart code of compress/report.h.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "compress/report.h"
#include "prune/sweep.h"

namespace shrink::prune {
namespace {

using nlohmann::json;
using report::format_double;
using report::html_escape;
using report::thousands;

/// A finite number, or null (JSON has no NaN or infinity).
json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string acc_text(double a) { return std::isfinite(a) ? format_double("%.4f", a) : "n/a"; }

std::string level_text(double l) { return format_double("%.4g", l); }

/// Methods in the order swept, then any method only the records name.
std::vector<std::string> method_order(const SweepResult& s) {
  std::vector<std::string> out = s.methods;
  for (const SweepRecord& r : s.records)
    if (std::find(out.begin(), out.end(), r.method) == out.end()) out.push_back(r.method);
  return out;
}

/// What a level means for a method (the x axis).
std::string level_meaning(const std::string& method) {
  return method == "magnitude" ? "fraction of the layer's weights removed" : "fraction of the group's channels removed";
}

/// Series colours: the palette for a few layers, evenly spaced hues for many.
std::string series_color(size_t i, size_t n) {
  if (n <= 6) return "";
  return "hsl(" + std::to_string(static_cast<int>(360.0 * static_cast<double>(i) / static_cast<double>(n))) +
         ",65%,45%)";
}

/// One accuracy-vs-level chart per method, one curve per layer, the baseline dashed.
void html_method_charts(std::ostream& o, const SweepResult& s) {
  o << "<h2>Accuracy vs level</h2>\n<p>Only the named layer (magnitude) or channel group (structured "
       "criteria) is pruned; the rest of the model is untouched. Dashed: the unpruned baseline "
    << acc_text(s.baseline.accuracy) << ".</p>\n<div class=\"charts\">\n";
  for (const std::string& method : method_order(s)) {
    std::vector<std::string> layers;
    std::set<double> levels;
    for (const SweepRecord& r : s.records)
      if (r.method == method) {
        if (std::find(layers.begin(), layers.end(), r.layer) == layers.end()) layers.push_back(r.layer);
        levels.insert(r.level);
      }
    if (layers.empty()) continue;
    report::LineChart c;
    c.title = method;
    c.x.label = level_meaning(method);
    c.y.label = "accuracy";
    c.x.ticks.assign(levels.begin(), levels.end());
    if (levels.size() > 10) c.x.ticks.clear();  // too many labels to read: round ticks
    c.width = 540;
    c.height = 320;
    for (size_t i = 0; i < layers.size(); ++i) {
      std::vector<std::pair<double, double>> pts;
      for (const SweepRecord& r : s.records)
        if (r.method == method && r.layer == layers[i]) pts.emplace_back(r.level, r.accuracy);
      std::sort(pts.begin(), pts.end());
      report::ChartSeries series;
      series.name = layers[i];
      series.color = series_color(i, layers.size());
      for (const auto& [x, y] : pts) {
        series.x.push_back(x);
        series.y.push_back(y);
      }
      c.series.push_back(std::move(series));
    }
    c.ref_lines.push_back({"unpruned " + acc_text(s.baseline.accuracy), s.baseline.accuracy, "#666"});
    o << "<figure class=\"prune-curves\" data-method=\"" << html_escape(method) << "\">" << report::svg_line_chart(c)
      << "</figure>\n";
  }
  o << "</div>\n";
}

void html_records(std::ostream& o, const SweepResult& s) {
  o << "<h2>All points</h2>\n<table class=\"records\"><tr><th>method</th><th>layer</th><th>level</th>"
       "<th>accuracy</th><th>drop (pp)</th><th>loss</th><th>params</th><th>MACs</th><th>seconds</th></tr>\n";
  for (const SweepRecord& r : s.records) {
    const double drop = (s.baseline.accuracy - r.accuracy) * 100;
    o << "<tr><td>" << html_escape(r.method) << "</td><td>" << html_escape(r.layer) << "</td><td class=\"n\">"
      << level_text(r.level) << "</td><td class=\"n\">" << acc_text(r.accuracy) << "</td><td class=\"n\">"
      << (std::isfinite(drop) ? format_double("%.2f", drop) : "n/a") << "</td><td class=\"n\">" << acc_text(r.loss)
      << "</td><td class=\"n\">" << thousands(r.params) << "</td><td class=\"n\">" << thousands(r.macs)
      << "</td><td class=\"n\">" << format_double("%.2f", r.seconds) << "</td></tr>\n";
  }
  o << "</table>\n";
}

std::string csv_number(double v) { return std::isfinite(v) ? format_double("%.10g", v) : ""; }

}  // namespace

nlohmann::json sweep_report_json(const SweepResult& s) {
  json records = json::array();
  for (const SweepRecord& r : s.records) {
    json j = r.to_json();
    j["accuracy"] = finite_or_null(r.accuracy);
    j["loss"] = finite_or_null(r.loss);
    records.push_back(std::move(j));
  }
  return {{"model", s.model},
          {"data", s.data},
          {"images", s.images},
          {"baseline",
           {{"accuracy", finite_or_null(s.baseline.accuracy)},
            {"loss", finite_or_null(s.baseline.loss)},
            {"params", s.baseline.params},
            {"nonzero_params", s.baseline.nonzero_params},
            {"macs", s.baseline.macs}}},
          {"seconds", finite_or_null(s.seconds)},
          {"pruning", records}};
}

std::string sweep_report_csv(const SweepResult& s) {
  std::string out = "layer,method,level,accuracy,loss,params,macs,seconds\n";
  for (const SweepRecord& r : s.records)
    out += report::csv_field(r.layer) + ',' + report::csv_field(r.method) + ',' + csv_number(r.level) + ',' +
           csv_number(r.accuracy) + ',' + csv_number(r.loss) + ',' + std::to_string(r.params) + ',' +
           std::to_string(r.macs) + ',' + csv_number(r.seconds) + '\n';
  return out;
}

std::string sweep_report_html(const SweepResult& s) {
  std::ostringstream o;
  o << report::html_head("shrink pruning sweep: " + s.model,
                         ".charts{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}\n");
  std::string methods;
  for (const std::string& m : method_order(s)) methods += (methods.empty() ? "" : ", ") + m;
  o << "<h1>Pruning sweep: " << html_escape(s.model) << "</h1>\n<p class=\"big\">unpruned accuracy <b>"
    << acc_text(s.baseline.accuracy) << "</b> (loss " << acc_text(s.baseline.loss) << ") on " << thousands(s.images)
    << " images of " << html_escape(s.data) << "</p>\n<table class=\"summary\"><tr><th>model</th><td>"
    << html_escape(s.model) << "</td></tr><tr><th>data</th><td>" << html_escape(s.data)
    << "</td></tr><tr><th>images</th><td class=\"n\">" << thousands(s.images)
    << "</td></tr><tr><th>baseline params</th><td class=\"n\">" << thousands(s.baseline.params)
    << "</td></tr><tr><th>baseline MACs</th><td class=\"n\">" << thousands(s.baseline.macs)
    << "</td></tr><tr><th>methods</th><td>" << html_escape(methods) << "</td></tr><tr><th>points</th><td class=\"n\">"
    << s.records.size() << "</td></tr><tr><th>wall time</th><td class=\"n\">" << format_double("%.1f", s.seconds)
    << " s</td></tr></table>\n<p>params: the whole model's weights after pruning the one layer (magnitude: "
       "nonzero weights); MACs: the whole model's (magnitude: dense, the zeros are still counted).</p>\n";
  html_method_charts(o, s);
  html_records(o, s);
  o << "</body></html>\n";
  return o.str();
}

void write_sweep_report(const std::string& dir, const SweepResult& s) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw BadInput(dir, ": cannot create the output folder: ", ec.message());
  ir::write_file_atomic(dir + "/report.json", sweep_report_json(s).dump(2) + "\n");
  ir::write_file_atomic(dir + "/report.csv", sweep_report_csv(s));
  ir::write_file_atomic(dir + "/report.html", sweep_report_html(s));
}

}  // namespace shrink::prune
