// The run report of `shrink run`: report.json for programs and a self-contained report.html
// (no network: inline CSS and SVG) for people.
//
//   report::RunReport r;  r.name = "demo";  r.stages.push_back({...});
//   r.analysis = ir::analyze(final_model, {});
//   report::write_report(r, "runs/demo");   // runs/demo/report.json, runs/demo/report.html
//
// Later issues add content through `sections` (HTML fragments: sensitivity curves, Q-formats,
// sparsity) and stage `extra` JSON, without changing this header's layout. The chart functions
// below (bar, line, heat map, scatter with a front) are generic and shared by other reports.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress/ir/analyzer.h"

namespace shrink::report {

struct StageRow {
  int index = 0;                 ///< 1-based
  std::string name;
  double seconds = 0;
  double accuracy = -1;          ///< -1: not measured
  std::string accuracy_split;    ///< "val" | "test" | "train"
  int64_t accuracy_n = 0;        ///< samples the accuracy was measured on
  int64_t params = 0, macs = 0;
  int64_t size_bytes = 0;        ///< bytes of the stage's model file
  int64_t shr_bytes = -1;        ///< bytes of the .shr this model exports to (-1: no .shr form)
  std::string model_file;        ///< relative to the report's folder
  std::vector<std::string> files;  ///< other files the stage wrote, relative
  nlohmann::json extra = nlohmann::json::object();
};

/// How one layer of the final model is stored: its formats from the quantization state (what the
/// toolkit simulated, bit-exact with the runtime) and, when the run exported a .shr, the storage
/// and bytes of its constants in that file as the runtime loaded it.
struct LayerFormat {
  std::string weights;      ///< "8-bit [1.6]", "k-means 4-bit, centroids 8-bit [0.7]", "fp32"; "" without weights
  std::string activations;  ///< format of the layer's output: "8-bit [3.4]", "fp32"
  std::string storage;      ///< "dense", "csr", "codebook", "csr-codebook"; "" when not in a .shr
  bool huffman = false;     ///< indices (and column gaps) Huffman-coded in the .shr
  int64_t bytes = -1;       ///< the layer's constants (weight, bias, table) in the .shr; -1: not exported
};

struct FileRow {
  std::string path;  ///< relative to the report's folder
  int64_t bytes = 0;
};

struct Section {
  std::string title;
  std::string html;  ///< trusted fragment (built by the toolkit, escaped where needed)
};

/// What the compression is measured against: the model before compression stages (as loaded,
/// or as the last `train` stage left it) on the test split; bytes = parameters x 4 (fp32).
struct Baseline {
  double accuracy = -1;
  int64_t n = 0;
  int64_t params = 0, macs = 0;
  int64_t bytes() const { return params * 4; }
};

struct RunReport {
  std::string name;
  Baseline baseline;
  nlohmann::json recipe;          ///< the recipe as run (after overrides)
  std::string producer;           ///< "shrink 0.1.0"
  std::vector<StageRow> stages;
  // Final model:
  double test_accuracy = -1;
  int64_t test_n = 0;
  int64_t size_bytes = 0;         ///< final model file
  std::string model_file;         ///< relative
  std::vector<FileRow> files;     ///< every output of the run
  ir::Analysis analysis;          ///< per-layer analysis of the final model
  std::map<std::string, LayerFormat> layer_formats;  ///< by layer name (describe_layers)
  std::vector<Section> sections;
  // What is deployed: the last .shr export measured by the runtime (-1: none).
  double runtime_accuracy = -1;
  int64_t runtime_file_bytes = -1;
  double latency_us = -1;
  /// Microcontroller estimates for the deployed .shr (runtime/tools/fits_on.h, docs/mcu.md):
  /// [{"target", "fits", "flash", "ram"}]; empty without a runtime measurement.
  nlohmann::json fits_on = nlohmann::json::array();
  /// final.bytes: the deployed .shr when there is one, else the final model's .shr form, else
  /// the model file.
  int64_t deployed_bytes() const;
};

/// Fills r.layer_formats from the final model's quantization state and, when `shr_path` is not
/// empty, from that .shr file as the runtime loads it (BadInput if the runtime refuses it).
void describe_layers(RunReport& r, const ir::Graph& final_model, const std::string& shr_path);

/// {"name", "producer", "recipe", "baseline": {"accuracy", "bytes", "macs", ...},
///  "stages": [{"name", "accuracy", "bytes", "macs", "seconds", ...}...],
///  "final": {"accuracy", "runtime_accuracy", "bytes", "macs", "latency_us", ...}, "analysis": {...}}
nlohmann::json to_json(const RunReport& r);
std::string to_html(const RunReport& r);
/// The same story in Markdown, for a terminal or a pull request.
std::string to_markdown(const RunReport& r);
/// Writes dir/report.json, dir/report.html and dir/report.md atomically.
void write_report(const RunReport& r, const std::string& dir);

/// The start of a report page up to and including <body>: <title>, the shared inline CSS
/// (body, tables, td.n for numbers, .big) and `extra_css` (rules, already CSS).
std::string html_head(const std::string& title, const std::string& extra_css = "");
/// &, <, >, ", ' escaped.
std::string html_escape(const std::string& s);
/// One double through a printf format: format_double("%.4f", 0.5) == "0.5000".
std::string format_double(const char* printf_format, double v);
/// Digits grouped by thousands: 1234567 -> "1,234,567".
std::string thousands(int64_t v);
/// A CSV field (RFC 4180): as is, or double-quoted with quotes doubled when it holds a comma,
/// a quote or a line break.
std::string csv_field(const std::string& s);
/// "512 B", "1.5 KiB", "2.00 MiB".
std::string human_bytes(int64_t b);
/// An inline SVG vertical bar chart; values in [0, vmax], negative values drawn as "n/a".
std::string svg_bar_chart(const std::vector<std::string>& labels, const std::vector<double>& values,
                          double vmax, const std::string& y_label);

// ---- Generic inline SVG charts (shared by the sweep reports of quantization and pruning) ----
// Every text is escaped; a value that is not finite is never drawn (a gap in a line, a grey
// cell in a heat map) and never reaches the SVG as "nan" or "inf".
//
//   report::LineChart c;  c.title = "conv1";  c.x.label = "bits";  c.y.label = "accuracy";
//   c.series.push_back({"fixed", {2, 4, 8}, {0.31, 0.85, 0.89}});
//   c.ref_lines.push_back({"fp32", 0.8979});
//   std::string svg = report::svg_line_chart(c);

struct ChartAxis {
  std::string label;
  std::optional<double> min, max;  ///< range; unset = from the data, widened to round ticks
  std::vector<double> ticks;       ///< tick positions; empty = about five round values
};

struct ChartSeries {
  std::string name;              ///< legend text
  std::vector<double> x, y;      ///< same length; drawn in the given order
  std::string color;             ///< CSS colour; empty = the next colour of the palette
  bool dashed = false;
};

/// A horizontal dashed line across the plot (a baseline, a budget), labelled in the legend.
struct RefLine {
  std::string label;
  double y = 0;
  std::string color = "#666";
};

struct LineChart {
  std::string title;
  ChartAxis x, y;
  std::vector<ChartSeries> series;  ///< each a polyline with a dot per point
  std::vector<RefLine> ref_lines;
  int width = 440, height = 280;    ///< pixels of the whole SVG
};
std::string svg_line_chart(const LineChart& c);

/// Rows x columns of coloured cells with their value printed inside and a colour legend.
struct HeatMap {
  std::string title;
  std::string row_label, col_label;            ///< axis titles
  std::vector<std::string> rows, cols;
  std::vector<std::vector<double>> values;     ///< [row][col]; missing or non-finite: grey, "n/a"
  std::vector<std::vector<std::string>> text;  ///< optional cell texts [row][col]; default "%.3g"
  double vmin = 0, vmax = 1;                   ///< colour scale; values outside are clamped
  std::vector<std::string> colors = {"#f7fcf5", "#fee08b", "#d73027"};  ///< "#rrggbb" stops, vmin..vmax
  std::string scale_label;                     ///< legend title
  std::string vmin_text, vmax_text;            ///< legend end texts; default the formatted values
};
std::string svg_heat_map(const HeatMap& h);

/// A point drawn larger, in its own colour, with its label beside it.
struct ScatterMark {
  size_t index = 0;  ///< into the chart's points
  std::string label;
  std::string color = "#2a9d4b";
};

/// All points as small dots, a highlighted front (a line through the points `front`, drawn in
/// x order), marked points and reference lines.
struct ScatterChart {
  std::string title;
  ChartAxis x, y;
  std::vector<double> xs, ys;               ///< the points (same length)
  std::vector<std::string> point_labels;    ///< optional tooltips, one per point
  std::string points_label = "points";      ///< legend text of the dots
  std::vector<size_t> front;
  std::string front_label = "front";
  std::vector<ScatterMark> marks;
  std::vector<RefLine> ref_lines;
  int width = 720, height = 400;
};
std::string svg_scatter_chart(const ScatterChart& c);

}  // namespace shrink::report
