// Model analyzer: counts, memory at a bit width, peak activation memory, DRAM traffic and
// energy estimates. The cost model is documented in docs/analyzer.md.
#include "compress/ir/analyzer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>
#include <unordered_map>

#include "compress/ir/error.h"

namespace shrink::ir {
namespace {

/// ceil(elems * bits / 8) without overflowing for any elems < 2^62 and bits <= 64.
int64_t bytes_at(int64_t elems, int bits) {
  return (elems / 8) * bits + ((elems % 8) * bits + 7) / 8;
}

/// The weight tensors counted as parameters: weight and bias of Conv2d / Linear, BatchNorm's 4.
std::vector<const char*> param_keys(Op op) {
  switch (op) {
    case Op::Conv2d:
    case Op::Linear: return {"weight", "bias"};
    case Op::BatchNorm: return {"weight", "bias", "running_mean", "running_var"};
    default: return {};
  }
}

/// Elements that are nonzero and not masked out by a same-sized "<key>_mask" tensor.
int64_t count_nonzero(const Node& n, const std::string& key, const Tensor& t) {
  const Tensor* mask = n.tensor(key + "_mask");
  if (mask && mask->numel() != t.numel()) mask = nullptr;
  int64_t nz = 0;
  for (int64_t i = 0; i < t.numel(); ++i)
    nz += t.at(i) != 0.0f && (!mask || mask->at(i) != 0.0f);
  return nz;
}

int64_t conv_macs(const Graph& g, const Node& n) {
  const int64_t out = numel(n.shape);
  if (const Tensor* w = n.tensor("weight"); w && w->shape.size() == 4)
    return out * w->shape[1] * w->shape[2] * w->shape[3];
  const Shape& in = g.shape_of(n.inputs.at(0));
  const int64_t groups = std::max<int64_t>(1, n.groups);
  const int64_t in_ch = in.empty() ? n.in_channels : in[0];
  return out * (in_ch / groups) * n.kernel[0] * n.kernel[1];
}

int64_t linear_macs(const Graph& g, const Node& n) {
  const int64_t out = numel(n.shape);
  if (const Tensor* w = n.tensor("weight"); w && w->shape.size() == 2) return out * w->shape[1];
  const Shape& in = g.shape_of(n.inputs.at(0));
  return out * (in.empty() ? n.in_channels : in.back());
}

/// Output channels of a Conv2d / Linear (tiles of these share the layer's input).
int64_t out_channels(const Node& n) {
  if (const Tensor* w = n.tensor("weight"); w && !w->shape.empty()) return std::max<int64_t>(1, w->shape[0]);
  return std::max<int64_t>(1, n.out_channels);
}

void check_options(const AnalyzeOptions& o) {
  if (o.bits < 1 || o.bits > 64) throw BadInput("analyze: bits is ", o.bits, ", expected 1..64");
  if (!(o.sram_kib >= 0) || !std::isfinite(o.sram_kib))
    throw BadInput("analyze: sram_kib is ", o.sram_kib, ", expected a size >= 0 KiB");
  if (!(o.pj_per_mac >= 0) || !std::isfinite(o.pj_per_mac))
    throw BadInput("analyze: pj_per_mac is ", o.pj_per_mac, ", expected >= 0");
  if (!(o.pj_per_dram_bit >= 0) || !std::isfinite(o.pj_per_dram_bit))
    throw BadInput("analyze: pj_per_dram_bit is ", o.pj_per_dram_bit, ", expected >= 0");
}

bool shapes_known(const Graph& g) {
  if (g.meta.input_shape.empty()) return false;
  for (const Node& n : g.nodes)
    if (n.shape.empty()) return false;
  return true;
}

std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

/// Microjoules with three decimals and thousands separators: "1,234.567".
std::string energy_str(double uj) {
  const long long milli = std::llround(uj * 1000.0);
  char frac[8];
  std::snprintf(frac, sizeof frac, "%03lld", milli % 1000);
  return with_commas(milli / 1000) + "." + frac;
}

}  // namespace

Analysis analyze(const Graph& graph, const AnalyzeOptions& o) {
  check_options(o);
  // Shapes are needed; infer them on a copy when the caller has not.
  Graph copy;
  const Graph* gp = &graph;
  if (!shapes_known(graph)) {
    copy = graph;
    copy.infer_shapes();
    gp = &copy;
  }
  const Graph& g = *gp;
  const size_t n = g.nodes.size();
  const size_t kIn = n;  // tensor id of the network input; node i's output is tensor i

  Analysis a;
  a.options = o;
  std::unordered_map<std::string, size_t> id;
  id[Graph::kInput] = kIn;
  for (size_t i = 0; i < n; ++i) id[g.nodes[i].name] = i;

  // Tensor sizes, distinct inputs per node, and last use (step index) of every tensor.
  std::vector<int64_t> tbytes(n + 1);
  tbytes[kIn] = bytes_at(numel(g.meta.input_shape), o.bits);
  std::vector<std::vector<size_t>> ins(n);
  std::vector<size_t> first(n + 1), last(n + 1);
  first[kIn] = last[kIn] = 0;
  for (size_t i = 0; i < n; ++i) {
    const Node& node = g.nodes[i];
    tbytes[i] = bytes_at(numel(node.shape), o.bits);
    first[i] = last[i] = i;
    std::set<size_t> uniq;
    for (const std::string& s : node.inputs) {
      auto it = id.find(s);
      if (it == id.end() || (it->second != kIn && it->second >= i))
        throw BadInput("analyze: node '", node.name, "' reads '", s, "', which is not an earlier node");
      uniq.insert(it->second);
      last[it->second] = std::max(last[it->second], i);
    }
    ins[i].assign(uniq.begin(), uniq.end());
  }
  std::vector<bool> is_output(n + 1, false);
  for (const std::string& out : g.outputs) {
    auto it = id.find(out);
    if (it == id.end()) throw BadInput("analyze: graph output '", out, "' is not a node");
    is_output[it->second] = true;
    if (n) last[it->second] = n - 1;  // outputs stay live until the run ends
  }

  // Peak activation memory: tensor t occupies its bytes during steps first[t]..last[t].
  std::vector<int64_t> delta(n + 1, 0);
  for (size_t t = 0; t <= n; ++t) {
    if (t == kIn && n == 0) continue;
    delta[first[t]] += tbytes[t];
    delta[last[t] + 1] -= tbytes[t];
  }
  int64_t live = 0;
  for (size_t s = 0; s < n; ++s) {
    live += delta[s];
    a.peak_activation_bytes = std::max(a.peak_activation_bytes, live);
  }
  if (n == 0) a.peak_activation_bytes = tbytes[kIn];

  // Per-layer counts.
  a.layers.resize(n);
  std::vector<int64_t> wbytes(n);
  for (size_t i = 0; i < n; ++i) {
    const Node& node = g.nodes[i];
    LayerAnalysis& l = a.layers[i];
    l.name = node.name;
    l.op = op_name(node.op);
    l.out_shape = node.shape;
    for (const char* key : param_keys(node.op)) {
      if (const Tensor* t = node.tensor(key)) {
        l.params += t->numel();
        l.nonzero_params += count_nonzero(node, key, *t);
      }
    }
    if (node.op == Op::Conv2d) l.macs = conv_macs(g, node);
    if (node.op == Op::Linear) l.macs = linear_macs(g, node);
    l.weight_bytes = wbytes[i] = bytes_at(l.params, o.bits);
    l.activation_bytes = tbytes[i];
  }

  // DRAM traffic (docs/analyzer.md): a layer "fits" when its weights, inputs and output fit in
  // SRAM together. A feature map stays on chip only when its producer and all its consumers
  // fit; otherwise it is written to DRAM once and read by each consumer. The network input is
  // read from DRAM, the outputs are written to it. Weights are read once. A Conv2d / Linear
  // whose weights do not fit is run in tiles of output channels whose weights fit, and
  // re-reads its (DRAM) input once per tile within a group.
  const double sram = o.sram_kib * 1024.0;
  std::vector<bool> fits(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t ws = wbytes[i] + tbytes[i];
    for (size_t t : ins[i]) ws += tbytes[t];
    fits[i] = static_cast<double>(ws) <= sram;
  }
  std::vector<bool> on_chip(n + 1, false);  // the network input never is
  for (size_t i = 0; i < n; ++i) on_chip[i] = fits[i] && !is_output[i];
  for (size_t i = 0; i < n; ++i)
    for (size_t t : ins[i])
      if (!fits[i]) on_chip[t] = false;

  for (size_t i = 0; i < n; ++i) {
    const Node& node = g.nodes[i];
    LayerAnalysis& l = a.layers[i];
    int64_t reread = 1;
    if ((node.op == Op::Conv2d || node.op == Op::Linear) && static_cast<double>(wbytes[i]) > sram) {
      const int64_t oc = out_channels(node);
      const int64_t groups = node.op == Op::Conv2d ? std::max<int64_t>(1, node.groups) : 1;
      const int64_t per_group = std::max<int64_t>(1, oc / groups);
      const double per_channel = static_cast<double>(wbytes[i]) / static_cast<double>(oc);
      const auto per_tile = std::max<int64_t>(1, static_cast<int64_t>(std::floor(sram / per_channel)));
      reread = (per_group + per_tile - 1) / per_tile;
    }
    int64_t dram = wbytes[i];
    for (size_t t : ins[i])
      if (!on_chip[t]) dram += tbytes[t] * reread;
    if (!on_chip[i]) dram += tbytes[i];
    l.dram_bytes = dram;
    l.energy_uj = (static_cast<double>(l.macs) * o.pj_per_mac +
                   static_cast<double>(dram) * 8.0 * o.pj_per_dram_bit) * 1e-6;

    a.params += l.params;
    a.nonzero_params += l.nonzero_params;
    a.macs += l.macs;
    a.weight_bytes += l.weight_bytes;
    a.activation_bytes += l.activation_bytes;
    a.dram_bytes += l.dram_bytes;
    a.energy_uj += l.energy_uj;
  }
  return a;
}

nlohmann::json analysis_to_json(const Analysis& a) {
  nlohmann::json j;
  j["options"] = {{"bits", a.options.bits},
                  {"sram_kib", a.options.sram_kib},
                  {"pj_per_mac", a.options.pj_per_mac},
                  {"pj_per_dram_bit", a.options.pj_per_dram_bit}};
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerAnalysis& l : a.layers)
    layers.push_back({{"name", l.name},
                      {"op", l.op},
                      {"out_shape", l.out_shape},
                      {"params", l.params},
                      {"nonzero_params", l.nonzero_params},
                      {"macs", l.macs},
                      {"weight_bytes", l.weight_bytes},
                      {"activation_bytes", l.activation_bytes},
                      {"dram_bytes", l.dram_bytes},
                      {"energy_uj", l.energy_uj}});
  j["layers"] = std::move(layers);
  j["total"] = {{"params", a.params},
                {"nonzero_params", a.nonzero_params},
                {"macs", a.macs},
                {"weight_bytes", a.weight_bytes},
                {"activation_bytes", a.activation_bytes},
                {"peak_activation_bytes", a.peak_activation_bytes},
                {"dram_bytes", a.dram_bytes},
                {"energy_uj", a.energy_uj}};
  return j;
}

std::string analysis_to_table(const Analysis& a) {
  const std::vector<std::string> head = {"layer",   "op",        "output",   "params",
                                         "nonzero", "MACs",      "weight B", "activation B",
                                         "DRAM B",  "energy uJ"};
  std::vector<std::vector<std::string>> rows;
  for (const LayerAnalysis& l : a.layers)
    rows.push_back({l.name, l.op, shape_str(l.out_shape), with_commas(l.params),
                    with_commas(l.nonzero_params), with_commas(l.macs), with_commas(l.weight_bytes),
                    with_commas(l.activation_bytes), with_commas(l.dram_bytes), energy_str(l.energy_uj)});
  const std::vector<std::string> total = {"TOTAL", "", "", with_commas(a.params), with_commas(a.nonzero_params),
                                          with_commas(a.macs), with_commas(a.weight_bytes),
                                          with_commas(a.activation_bytes), with_commas(a.dram_bytes),
                                          energy_str(a.energy_uj)};
  std::vector<size_t> width(head.size());
  for (size_t c = 0; c < head.size(); ++c) {
    width[c] = std::max(head[c].size(), total[c].size());
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  std::ostringstream os;
  auto line = [&](const std::vector<std::string>& r) {
    std::string s;
    for (size_t c = 0; c < r.size(); ++c) {
      const std::string pad(width[c] - r[c].size(), ' ');
      s += c < 3 ? r[c] + pad : pad + r[c];  // text left, numbers right
      if (c + 1 < r.size()) s += "  ";
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    os << s << "\n";
  };
  size_t total_width = 0;
  for (size_t w : width) total_width += w + 2;
  const std::string rule(total_width - 2, '-');
  char opts[160];
  std::snprintf(opts, sizeof opts, "bits %d, SRAM %g KiB, %g pJ/MAC, %g pJ/DRAM bit", a.options.bits,
                a.options.sram_kib, a.options.pj_per_mac, a.options.pj_per_dram_bit);
  os << opts << "\n";
  line(head);
  os << rule << "\n";
  for (const auto& r : rows) line(r);
  os << rule << "\n";
  line(total);
  os << "peak activation memory (sequential, graph order): " << with_commas(a.peak_activation_bytes)
     << " bytes\n";
  return os.str();
}

}  // namespace shrink::ir
