// The run report of `shrink run`: report.json for programs and a self-contained report.html
// (no network: inline CSS and SVG) for people.
//
//   report::RunReport r;  r.name = "demo";  r.stages.push_back({...});
//   r.analysis = ir::analyze(final_model, {});
//   report::write_report(r, "runs/demo");   // runs/demo/report.json, runs/demo/report.html
//
// Later issues add content through `sections` (HTML fragments: sensitivity curves, Q-formats,
// sparsity) and stage `extra` JSON, without changing this header's layout.
#pragma once
#include <cstdint>
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
  std::string model_file;        ///< relative to the report's folder
  std::vector<std::string> files;  ///< other files the stage wrote, relative
  nlohmann::json extra = nlohmann::json::object();
};

struct FileRow {
  std::string path;  ///< relative to the report's folder
  int64_t bytes = 0;
};

struct Section {
  std::string title;
  std::string html;  ///< trusted fragment (built by the toolkit, escaped where needed)
};

struct RunReport {
  std::string name;
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
  std::vector<Section> sections;
};

/// {"name", "producer", "recipe", "stages": [...], "final": {...}, "analysis": {...}}
nlohmann::json to_json(const RunReport& r);
std::string to_html(const RunReport& r);
/// Writes dir/report.json and dir/report.html atomically.
void write_report(const RunReport& r, const std::string& dir);

/// &, <, >, ", ' escaped.
std::string html_escape(const std::string& s);
/// An inline SVG vertical bar chart; values in [0, vmax], negative values drawn as "n/a".
std::string svg_bar_chart(const std::vector<std::string>& labels, const std::vector<double>& values,
                          double vmax, const std::string& y_label);

}  // namespace shrink::report
