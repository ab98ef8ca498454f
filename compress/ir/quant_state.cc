// Parsing and checking of the quantization state (docs/quantization.md).
#include "compress/ir/quant_state.h"

#include <algorithm>
#include <cmath>

#include "compress/ir/error.h"
#include "runtime/include/shrink_fixed_point.h"

namespace shrink::quant {

namespace {
bool weighted(ir::Op op) { return op == ir::Op::Conv2d || op == ir::Op::Linear; }
}  // namespace

nlohmann::json format_json(QFormat f) { return {{"bits", f.bits}, {"fl", f.fl}}; }

QFormat format_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("bits") || !j.contains("fl") || !j["bits"].is_number_integer() ||
      !j["fl"].is_number_integer())
    throw BadInput(where, ": expected {\"bits\": INT, \"fl\": INT}, got ", j.dump());
  QFormat f{j["bits"].get<int>(), j["fl"].get<int>()};
  if (!fx::valid_bits(f.bits) || !fx::valid_fl(f.fl))
    throw BadInput(where, ": bits ", f.bits, " fl ", f.fl, " is invalid, expected bits 2..16 and fl -8..24");
  return f;
}

std::string format_text(QFormat f) {
  return std::to_string(f.bits) + "-bit [" + std::to_string(f.il()) + "." + std::to_string(f.fl) + "]";
}

std::string weight_format_text(const NodeQuant& n) {
  if (!n.has_weight) return "";
  if (n.codebook) {
    const Codebook& c = *n.codebook;
    return "k-means " + std::to_string(c.index_bits) + "-bit, centroids " + format_text(c.centroid_format) +
           (c.zero_reserved ? ", 0 reserved" : "");
  }
  if (n.weight_fl.size() == 1) return format_text({n.weight_bits, n.weight_fl[0]});
  const auto [lo, hi] = std::minmax_element(n.weight_fl.begin(), n.weight_fl.end());
  return std::to_string(n.weight_bits) + "-bit, FL per channel " + std::to_string(*lo) + ".." + std::to_string(*hi);
}

float Codebook::centroid(int k) const {
  return static_cast<float>(fx::dequantize(centroids_q[static_cast<size_t>(k)], centroid_format.fl));
}

nlohmann::json Codebook::to_json() const {
  return {{"index_bits", index_bits},
          {"zero_reserved", zero_reserved},
          {"centroid_bits", centroid_format.bits},
          {"centroid_fl", centroid_format.fl},
          {"centroids_q", centroids_q}};
}

QFormat ModelQuant::format_of(const std::string& name) const {
  if (name == ir::Graph::kInput) return input;
  auto it = nodes.find(name);
  if (it == nodes.end()) throw BadInput("quantization state: node '", name, "' has no format (not in the integer part)");
  return it->second.output;
}

bool is_quantized(const ir::Graph& g) { return g.state.is_object() && g.state.contains("quant"); }

Codebook codebook_from_json(const nlohmann::json& j, const std::string& where) {
  try {
    Codebook c;
    c.index_bits = j.at("index_bits").get<int>();
    c.zero_reserved = j.at("zero_reserved").get<bool>();
    c.centroid_format = {j.at("centroid_bits").get<int>(), j.at("centroid_fl").get<int>()};
    c.centroids_q = j.at("centroids_q").get<std::vector<int32_t>>();
    if (c.index_bits < 1 || c.index_bits > 8 || c.centroids_q.size() != (size_t{1} << c.index_bits) ||
        !fx::valid_bits(c.centroid_format.bits) || !fx::valid_fl(c.centroid_format.fl))
      throw BadInput(where, ": inconsistent codebook ", j.dump());
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw BadInput(where, ": malformed codebook (", e.what(), ")");
  }
}

namespace {
ModelQuant read_model_quant_checked(const ir::Graph& g);
}

ModelQuant read_model_quant(const ir::Graph& g) {
  if (!is_quantized(g)) throw BadInput("model '", g.meta.name, "' is not quantized (no state \"quant\")");
  try {
    return read_model_quant_checked(g);
  } catch (const nlohmann::json::exception& e) {  // a field of another type than the one checked
    throw BadInput("model '", g.meta.name, "': malformed quantization state (", e.what(), ")");
  }
}

namespace {
ModelQuant read_model_quant_checked(const ir::Graph& g) {
  ModelQuant m;
  const nlohmann::json& gq = g.state["quant"];
  if (!gq.contains("input")) throw BadInput("quantization state: missing \"input\" format");
  m.input = format_from_json(gq["input"], "quantization state input");
  for (const auto& n : g.nodes) {
    if (!n.state.contains("quant")) continue;
    const nlohmann::json& q = n.state["quant"];
    const std::string where = "node '" + n.name + "' quant";
    NodeQuant nq;
    nq.scheme = q.value("scheme", "fixed");
    if (nq.scheme != "fixed" && nq.scheme != "kmeans")
      throw BadInput(where, ": scheme '", nq.scheme, "', expected fixed or kmeans");
    if (!q.contains("output")) throw BadInput(where, ": missing \"output\" format");
    nq.output = format_from_json(q["output"], where + " output");
    if (weighted(n.op)) {
      if (!q.contains("weight") || !q["weight"].contains("fl") || !q["weight"]["fl"].is_array())
        throw BadInput(where, ": missing \"weight\": {\"bits\", \"fl\": [...]}");
      nq.has_weight = true;
      nq.weight_bits = q["weight"].value("bits", 0);
      nq.weight_fl = q["weight"]["fl"].get<std::vector<int>>();
      const ir::Tensor* w = n.tensor("weight");
      if (!w) throw BadInput(where, ": the node has no weight");
      const size_t oc = static_cast<size_t>(w->shape.empty() ? 0 : w->shape[0]);
      if (nq.weight_fl.size() != 1 && nq.weight_fl.size() != oc)
        throw BadInput(where, ": weight has ", nq.weight_fl.size(), " FLs, expected 1 or ", oc);
      for (int fl : nq.weight_fl) format_from_json({{"bits", nq.weight_bits}, {"fl", fl}}, where + " weight");
      if (nq.scheme == "kmeans") {
        if (!q.contains("codebook")) throw BadInput(where, ": kmeans without \"codebook\"");
        nq.codebook = codebook_from_json(q["codebook"], where + " codebook");
        const ir::Tensor* idx = n.tensor("weight_index");
        if (!idx || idx->numel() != w->numel()) throw BadInput(where, ": kmeans needs a tensor weight_index like weight");
        nq.codebook->indices.reserve(static_cast<size_t>(idx->numel()));
        const int64_t k = int64_t{1} << nq.codebook->index_bits;
        for (float v : idx->data) {
          if (!(v >= 0 && v < k) || v != std::floor(v)) throw BadInput(where, ": weight_index holds ", v, ", expected 0..", k - 1);
          nq.codebook->indices.push_back(static_cast<int32_t>(v));
        }
      }
    }
    m.nodes[n.name] = std::move(nq);
  }
  return m;
}
}  // namespace

}  // namespace shrink::quant
