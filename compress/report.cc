#include "compress/report.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "compress/ir/fileio.h"

namespace shrink::report {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string human_bytes(int64_t b) {
  if (b < 1024) return std::to_string(b) + " B";
  if (b < 1024 * 1024) return fmt("%.1f KiB", b / 1024.0);
  return fmt("%.2f MiB", b / (1024.0 * 1024.0));
}

std::string thousands(int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return (v < 0 ? "-" : "") + out;
}

std::string accuracy_text(double a) { return a < 0 ? "n/a" : fmt("%.4f", a); }

nlohmann::json accuracy_json(double a) { return a < 0 ? nlohmann::json(nullptr) : nlohmann::json(a); }

}  // namespace

std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string svg_bar_chart(const std::vector<std::string>& labels, const std::vector<double>& values,
                          double vmax, const std::string& y_label) {
  const int bar = 56, gap = 24, left = 56, top = 16, plot_h = 200, bottom = 56;
  const int n = static_cast<int>(values.size());
  const int width = left + n * (bar + gap) + gap;
  const int height = top + plot_h + bottom;
  if (!(vmax > 0)) vmax = 1;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" viewBox=\"0 0 " << width << ' ' << height << "\" role=\"img\" aria-label=\""
    << html_escape(y_label) << "\">\n";
  // Axis with 5 grid lines.
  for (int t = 0; t <= 4; ++t) {
    double v = vmax * t / 4;
    int y = top + plot_h - static_cast<int>(std::lround(plot_h * t / 4.0));
    o << "<line x1=\"" << left << "\" y1=\"" << y << "\" x2=\"" << width << "\" y2=\"" << y
      << "\" stroke=\"#ddd\"/><text x=\"" << left - 6 << "\" y=\"" << y + 4
      << "\" font-size=\"11\" text-anchor=\"end\">" << fmt("%.2f", v) << "</text>\n";
  }
  o << "<text x=\"12\" y=\"" << top + plot_h / 2 << "\" font-size=\"11\" transform=\"rotate(-90 12 "
    << top + plot_h / 2 << ")\" text-anchor=\"middle\">" << html_escape(y_label) << "</text>\n";
  for (int i = 0; i < n; ++i) {
    int x = left + gap + i * (bar + gap);
    double v = values[static_cast<size_t>(i)];
    std::string label = i < static_cast<int>(labels.size()) ? labels[static_cast<size_t>(i)] : "";
    if (v >= 0) {
      int h = static_cast<int>(std::lround(plot_h * std::min(v, vmax) / vmax));
      o << "<rect x=\"" << x << "\" y=\"" << top + plot_h - h << "\" width=\"" << bar << "\" height=\""
        << h << "\" fill=\"#4a7bd0\"><title>" << html_escape(label) << ": " << fmt("%.4f", v)
        << "</title></rect>\n<text x=\"" << x + bar / 2 << "\" y=\"" << top + plot_h - h - 4
        << "\" font-size=\"11\" text-anchor=\"middle\">" << fmt("%.4f", v) << "</text>\n";
    } else {
      o << "<text x=\"" << x + bar / 2 << "\" y=\"" << top + plot_h - 4
        << "\" font-size=\"11\" text-anchor=\"middle\">n/a</text>\n";
    }
    o << "<text x=\"" << x + bar / 2 << "\" y=\"" << top + plot_h + 16
      << "\" font-size=\"11\" text-anchor=\"middle\">" << html_escape(label) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

nlohmann::json to_json(const RunReport& r) {
  nlohmann::json stages = nlohmann::json::array();
  for (const StageRow& s : r.stages) {
    stages.push_back({{"index", s.index},
                      {"name", s.name},
                      {"seconds", s.seconds},
                      {"accuracy", accuracy_json(s.accuracy)},
                      {"accuracy_split", s.accuracy_split},
                      {"accuracy_n", s.accuracy_n},
                      {"params", s.params},
                      {"macs", s.macs},
                      {"size_bytes", s.size_bytes},
                      {"model_file", s.model_file},
                      {"files", s.files},
                      {"extra", s.extra}});
  }
  nlohmann::json files = nlohmann::json::array();
  for (const FileRow& f : r.files) files.push_back({{"path", f.path}, {"bytes", f.bytes}});
  return {{"name", r.name},
          {"producer", r.producer},
          {"recipe", r.recipe},
          {"stages", stages},
          {"final",
           {{"test_accuracy", accuracy_json(r.test_accuracy)},
            {"test_n", r.test_n},
            {"size_bytes", r.size_bytes},
            {"model_file", r.model_file},
            {"params", r.analysis.params},
            {"macs", r.analysis.macs},
            {"files", files}}},
          {"analysis", ir::analysis_to_json(r.analysis)}};
}

std::string to_html(const RunReport& r) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>shrink report: "
    << html_escape(r.name) << "</title>\n<style>\n"
    << "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}\n"
    << "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 8px}\n"
    << "td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f0f0f0}\n"
    << ".big{font-size:1.3em}\n</style></head><body>\n";
  o << "<h1>" << html_escape(r.name) << "</h1>\n<p>" << html_escape(r.producer) << "</p>\n";

  o << "<h2>Result</h2>\n<p class=\"big\">test accuracy <b>" << accuracy_text(r.test_accuracy)
    << "</b> (" << thousands(r.test_n) << " images), model size <b>" << human_bytes(r.size_bytes)
    << "</b> (" << thousands(r.size_bytes) << " bytes, " << html_escape(r.model_file) << "), "
    << thousands(r.analysis.params) << " parameters, " << thousands(r.analysis.macs) << " MACs</p>\n";

  o << "<h2>Accuracy after every stage</h2>\n";
  std::vector<std::string> labels;
  std::vector<double> values;
  for (const StageRow& s : r.stages) {
    labels.push_back(std::to_string(s.index) + " " + s.name);
    values.push_back(s.accuracy);
  }
  labels.push_back("final (test)");
  values.push_back(r.test_accuracy);
  o << svg_bar_chart(labels, values, 1.0, "accuracy");

  o << "<h2>Stages</h2>\n<table><tr><th>#</th><th>stage</th><th>seconds</th><th>accuracy</th>"
       "<th>split</th><th>params</th><th>MACs</th><th>model file</th><th>bytes</th></tr>\n";
  for (const StageRow& s : r.stages) {
    o << "<tr><td class=\"n\">" << s.index << "</td><td>" << html_escape(s.name) << "</td><td class=\"n\">"
      << fmt("%.1f", s.seconds) << "</td><td class=\"n\">" << accuracy_text(s.accuracy) << "</td><td>"
      << html_escape(s.accuracy_split) << "</td><td class=\"n\">" << thousands(s.params)
      << "</td><td class=\"n\">" << thousands(s.macs) << "</td><td>" << html_escape(s.model_file)
      << "</td><td class=\"n\">" << thousands(s.size_bytes) << "</td></tr>\n";
  }
  o << "</table>\n";

  const ir::Analysis& a = r.analysis;
  o << "<h2>Layers of the final model</h2>\n<p>weight bytes at " << a.options.bits
    << " bits; activation bytes of each layer's output</p>\n"
    << "<table><tr><th>layer</th><th>op</th><th>output shape</th><th>params</th><th>nonzero</th>"
       "<th>MACs</th><th>weight bytes</th><th>activation bytes</th></tr>\n";
  for (const ir::LayerAnalysis& l : a.layers) {
    o << "<tr><td>" << html_escape(l.name) << "</td><td>" << html_escape(l.op) << "</td><td>"
      << html_escape(ir::shape_str(l.out_shape)) << "</td><td class=\"n\">" << thousands(l.params)
      << "</td><td class=\"n\">" << thousands(l.nonzero_params) << "</td><td class=\"n\">"
      << thousands(l.macs) << "</td><td class=\"n\">" << thousands(l.weight_bytes)
      << "</td><td class=\"n\">" << thousands(l.activation_bytes) << "</td></tr>\n";
  }
  o << "<tr><th>total</th><th></th><th></th><th>" << thousands(a.params) << "</th><th>"
    << thousands(a.nonzero_params) << "</th><th>" << thousands(a.macs) << "</th><th>"
    << thousands(a.weight_bytes) << "</th><th>peak " << thousands(a.peak_activation_bytes)
    << "</th></tr>\n</table>\n";

  for (const Section& s : r.sections) o << "<h2>" << html_escape(s.title) << "</h2>\n" << s.html << "\n";

  o << "<h2>Files</h2>\n<table><tr><th>file</th><th>bytes</th></tr>\n";
  for (const FileRow& f : r.files)
    o << "<tr><td>" << html_escape(f.path) << "</td><td class=\"n\">" << thousands(f.bytes) << "</td></tr>\n";
  o << "</table>\n";

  o << "<h2>Recipe</h2>\n<pre>" << html_escape(r.recipe.dump(2)) << "</pre>\n</body></html>\n";
  return o.str();
}

void write_report(const RunReport& r, const std::string& dir) {
  ir::write_file_atomic(dir + "/report.json", to_json(r).dump(2) + "\n");
  ir::write_file_atomic(dir + "/report.html", to_html(r));
}

}  // namespace shrink::report
