// shrink compare: the first tensor where two --dump-layers folders (shrink infer, shrink-rt run)
// differ. Compares the .npy files present in both folders, in the model's graph order (--model,
// then the files the graph does not name, by name) or by file name; a tensor differs when its
// shapes differ or some |a - b| > tolerance (NaN differs from anything but NaN).
// Exit codes: 0 no tensor differs, 1 some tensor differs, 2 bad input.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "compress/cli/common.h"
#include "compress/ir/error.h"
#include "compress/ir/npy.h"

namespace shrink::cli {

std::string dump_file_name(const std::string& node);  // infer.cc: '/' -> '_'

namespace {

namespace fs = std::filesystem;

/// Stems of the .npy files in dir; BadInput if dir is not a folder.
std::set<std::string> npy_stems(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw BadInput("compare: ", dir, " is not a folder");
  std::set<std::string> s;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".npy") s.insert(e.path().stem().string());
  return s;
}

std::vector<float> values_of(const ir::NpyArray& a) {
  if (!a.is_int64) return a.f32;
  return std::vector<float>(a.i64.begin(), a.i64.end());
}

std::string index_str(const ir::Shape& shape, int64_t flat) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] > 0 ? flat % shape[d] : 0;
    flat = shape[d] > 0 ? flat / shape[d] : 0;
  }
  std::string s = "[";
  for (size_t d = 0; d < idx.size(); ++d) s += (d ? ", " : "") + std::to_string(idx[d]);
  return s + "]";
}

}  // namespace

int cmd_compare(int argc, char** argv) {
  auto opts = make_options("compare", "A_DIR B_DIR [--tolerance T] [--model m.h5]",
                           "Name the first tensor where two --dump-layers folders differ (exit 1), by how much.");
  opts.add_options()("tolerance", "largest |a - b| that counts as equal",
                     cxxopts::value<double>()->default_value("0"))(
      "model", "compare in this model's graph order (default: by file name)",
      cxxopts::value<std::string>()->default_value(""));
  auto r = parse(opts, argc, argv, {"a", "b"});
  if (!r) return 0;
  const std::string a_dir = required(*r, "a", "compare", "A_DIR (a --dump-layers folder)");
  const std::string b_dir = required(*r, "b", "compare", "B_DIR (a --dump-layers folder)");
  const double tol = (*r)["tolerance"].as<double>();
  if (!(tol >= 0)) throw BadInput("--tolerance must be >= 0, got ", tol);
  const std::set<std::string> a = npy_stems(a_dir), b = npy_stems(b_dir);

  std::vector<std::string> order;  // stems in both folders, in comparison order
  std::set<std::string> both;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::inserter(both, both.end()));
  const std::string model = (*r)["model"].as<std::string>();
  if (!model.empty()) {
    const ir::Graph g = load_model_file(input_file(*r, "model", "compare", "--model m.h5"));
    std::vector<std::string> names = {ir::Graph::kInput};
    for (const auto& n : g.nodes) names.push_back(n.name);
    for (const auto& n : names)
      if (both.count(dump_file_name(n))) order.push_back(dump_file_name(n));
  }
  for (const auto& s : both)
    if (std::find(order.begin(), order.end(), s) == order.end()) order.push_back(s);
  if (order.empty()) throw BadInput("compare: no .npy file is present in both ", a_dir, " and ", b_dir);

  for (const auto& stem : order) {
    const ir::NpyArray x = ir::read_npy((fs::path(a_dir) / (stem + ".npy")).string());
    const ir::NpyArray y = ir::read_npy((fs::path(b_dir) / (stem + ".npy")).string());
    if (x.shape != y.shape) {
      std::printf("%s: shapes differ: %s in %s, %s in %s\n", stem.c_str(), ir::shape_str(x.shape).c_str(),
                  a_dir.c_str(), ir::shape_str(y.shape).c_str(), b_dir.c_str());
      return 1;
    }
    const std::vector<float> va = values_of(x), vb = values_of(y);
    double max_diff = 0;
    int64_t count = 0, first = -1;
    for (size_t i = 0; i < va.size(); ++i) {
      const bool na = std::isnan(va[i]), nb = std::isnan(vb[i]);
      const double d = na || nb ? (na && nb ? 0.0 : INFINITY) : std::fabs(static_cast<double>(va[i]) - vb[i]);
      if (!(d > tol)) continue;
      max_diff = std::max(max_diff, d);
      if (count++ == 0) first = static_cast<int64_t>(i);
    }
    if (count > 0) {
      std::printf("%s: %lld of %zu values differ (tolerance %g), max |a - b| = %.9g, first at %s: %.9g vs %.9g\n",
                  stem.c_str(), static_cast<long long>(count), va.size(), tol, max_diff,
                  index_str(x.shape, first).c_str(), static_cast<double>(va[first]), static_cast<double>(vb[first]));
      return 1;
    }
  }
  std::printf("no difference in %zu tensors (tolerance %g; %zu only in %s, %zu only in %s)\n", order.size(), tol,
              a.size() - both.size(), a_dir.c_str(), b.size() - both.size(), b_dir.c_str());
  return 0;
}

}  // namespace shrink::cli
