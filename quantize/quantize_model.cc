// Whole-model quantization: format choice for weights and activations, recorded in the state.
#include "quantize/quantize_model.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <yaml-cpp/yaml.h>

#include "compress/executor.h"
#include "compress/ir/error.h"
#include "compress/ir/passes.h"
#include "compress/train.h"
#include "quantize/lut.h"
#include "runtime/include/shrink_fixed_point.h"

namespace shrink::quant {

namespace {

constexpr int64_t kMaxCalibrationValues = 2'000'000;  // per tensor, subsampled deterministically

bool weighted(ir::Op op) { return op == ir::Op::Conv2d || op == ir::Op::Linear; }

void default_fail(const std::string& key, const std::string& msg) { throw BadInput(key, ": ", msg); }

}  // namespace

bool passes_format_through(ir::Op op) {
  switch (op) {
    case ir::Op::ReLU:
    case ir::Op::ReLU6:
    case ir::Op::MaxPool:
    case ir::Op::Flatten:
    case ir::Op::Reshape:
    case ir::Op::Identity:
      return true;
    default:
      return false;
  }
}

void check_options(const QuantizeOptions& o,
                   const std::function<void(const std::string& key, const std::string& msg)>& fail_in) {
  auto fail = fail_in ? fail_in : default_fail;
  auto bits = [&](const std::string& key, int b, int lo, int hi) {
    if (b < lo || b > hi) fail(key, detail::concat(b, ": expected ", lo, "..", hi));
  };
  if (o.scheme != "fixed" && o.scheme != "kmeans") fail("scheme", "'" + o.scheme + "': expected fixed or kmeans");
  bits("weight_bits", o.weight_bits, fx::kMinBits, fx::kMaxBits);
  bits("act_bits", o.act_bits, fx::kMinBits, fx::kMaxBits);
  bits("index_bits", o.index_bits, 1, 8);
  bits("centroid_bits", o.centroid_bits, fx::kMinBits, fx::kMaxBits);
  if (o.method != "mse" && o.method != "maxabs" && o.method != "kl")
    fail("method", "'" + o.method + "': expected mse, maxabs or kl");
  if (o.calibration < 1) fail("calibration", detail::concat(o.calibration, ": expected >= 1 images"));
  if (o.kmeans_init != "linear" && o.kmeans_init != "kmeans++")
    fail("kmeans_init", "'" + o.kmeans_init + "': expected linear or kmeans++");
  for (const auto& [name, l] : o.layers) {
    if (l.weight_bits != -1) bits("layers." + name + ".weight_bits", l.weight_bits, fx::kMinBits, fx::kMaxBits);
    if (l.act_bits != -1) bits("layers." + name + ".act_bits", l.act_bits, fx::kMinBits, fx::kMaxBits);
    if (l.index_bits != -1) bits("layers." + name + ".index_bits", l.index_bits, 1, 8);
  }
}

std::map<std::string, LayerOverride> load_layer_config(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw BadInput(path, ": cannot read the quantization config");
  } catch (const YAML::Exception& e) {
    throw BadInput(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": invalid YAML: ", e.msg);
  }
  auto at = [&](const YAML::Node& n) {
    return detail::concat(path, ":", n.Mark().line + 1, ":", n.Mark().column + 1);
  };
  if (!root.IsMap() || !root["layers"])
    throw BadInput(path, ": expected a map with the key 'layers' ({layers: {conv1: {weight_bits: 4}, ...}})");
  for (const auto& kv : root) {
    const std::string k = kv.first.as<std::string>();
    if (k != "layers" && k != "model" && k != "accuracy" && k != "bytes")
      throw BadInput(at(kv.first), ": unknown key '", k, "', expected layers (model, accuracy, bytes are ignored)");
  }
  const YAML::Node layers = root["layers"];
  if (!layers.IsMap()) throw BadInput(at(layers), ": 'layers' must be a map of layer name to {weight_bits, act_bits, index_bits}");
  std::map<std::string, LayerOverride> out;
  for (const auto& kv : layers) {
    const std::string name = kv.first.as<std::string>();
    if (!kv.second.IsMap())
      throw BadInput(at(kv.second), ": layer '", name, "' must map to {weight_bits, act_bits, index_bits}");
    LayerOverride l;
    for (const auto& f : kv.second) {
      const std::string key = f.first.as<std::string>();
      int v = 0;
      try {
        v = f.second.as<int>();
      } catch (const YAML::Exception&) {
        throw BadInput(at(f.second), ": layer '", name, "' ", key, ": expected an integer");
      }
      if (key == "weight_bits") l.weight_bits = v;
      else if (key == "act_bits") l.act_bits = v;
      else if (key == "index_bits") l.index_bits = v;
      else throw BadInput(at(f.first), ": layer '", name, "': unknown key '", key, "', expected weight_bits, act_bits or index_bits");
    }
    out[name] = l;
  }
  return out;
}

void snap_weights(ir::Graph& g) {
  ModelQuant m = read_model_quant(g);
  for (auto& n : g.nodes) {
    auto it = m.nodes.find(n.name);
    if (it == m.nodes.end() || !it->second.has_weight) continue;
    NodeQuant& nq = it->second;
    ir::Tensor& w = *n.tensor("weight");
    if (nq.scheme == "fixed") {
      const int64_t oc = w.shape[0], slice = w.numel() / oc;
      for (int64_t c = 0; c < oc; ++c)
        fake_quantize(w.data.data() + c * slice, slice, {nq.weight_bits, nq.weight_fl_of(c)}, w.data.data() + c * slice);
      continue;
    }
    Codebook& cb = *nq.codebook;
    auto ct = n.tensors.find("centroids");
    if (ct != n.tensors.end()) {
      for (size_t k = 0; k < cb.centroids_q.size(); ++k)
        cb.centroids_q[k] = static_cast<int32_t>(fx::quantize(ct->second.data[k], cb.centroid_format.bits, cb.centroid_format.fl));
      if (cb.zero_reserved) cb.centroids_q[0] = 0;
      n.tensors.erase(ct);
    }
    for (int64_t i = 0; i < w.numel(); ++i) w.data[static_cast<size_t>(i)] = cb.value(i);
    n.state["quant"]["codebook"] = cb.to_json();
  }
}

ir::Graph quantize_model(const ir::Graph& fp32, const ir::Dataset& calibration, const QuantizeOptions& o) {
  check_options(o);
  const FlMethod method = fl_method_from_name(o.method);
  ir::Graph g = fp32;
  g.state.erase("quant");
  for (auto& n : g.nodes) n.state.erase("quant");
  ir::fold_batchnorm(g);
  g.infer_shapes();

  // Per-layer overrides must name nodes of this model.
  if (!o.layers.empty()) {
    std::vector<std::string> unknown;
    for (const auto& [name, l] : o.layers)
      if (name != ir::Graph::kInput && !g.find(name)) unknown.push_back(name);
    if (unknown.size() == o.layers.size()) {
      std::string names;
      for (const auto& u : unknown) names += (names.empty() ? "" : ", ") + u;
      throw BadInput("quantization config is for another model: none of its layers (", names, ") is in model '",
                     g.meta.name, "'");
    }
    if (!unknown.empty())
      throw BadInput("quantization config: unknown layer '", unknown[0], "' (not a node of model '", g.meta.name, "')");
  }

  // The integer part: every node but Softmax, which must only feed the outputs.
  std::set<std::string> integer;
  for (const auto& n : g.nodes) {
    if (n.op == ir::Op::Softmax) {
      if (!g.consumers(n.name).empty())
        throw BadInput("node '", n.name, "' (Softmax) feeds other nodes; only a final Softmax can stay float");
      continue;
    }
    for (const auto& in : n.inputs)
      if (in != ir::Graph::kInput && !integer.count(in))
        throw BadInput("node '", n.name, "' reads the float output of '", in, "'; only a final Softmax can stay float");
    integer.insert(n.name);
  }

  // Format groups: a pass-through op shares its input's format. Each group is calibrated on its
  // root's output, or on the ReLU / ReLU6 that is the root's only consumer (its fused clamp).
  std::map<std::string, std::string> root;
  root[ir::Graph::kInput] = ir::Graph::kInput;
  std::vector<std::string> roots{ir::Graph::kInput};
  for (const auto& n : g.nodes) {
    if (!integer.count(n.name)) continue;
    if (passes_format_through(n.op)) {
      root[n.name] = root.at(n.inputs[0]);
    } else {
      root[n.name] = n.name;
      roots.push_back(n.name);
    }
  }
  std::map<std::string, std::string> source;  // root -> node whose values calibrate it
  for (const auto& r : roots) {
    source[r] = r;
    auto cons = g.consumers(r);
    if (cons.size() == 1) {
      const ir::Node* c = g.find(cons[0]);
      if (c->op == ir::Op::ReLU || c->op == ir::Op::ReLU6) source[r] = c->name;
    }
  }
  std::map<std::string, int> act_bits;
  for (const auto& r : roots) act_bits[r] = o.act_bits;
  for (const auto& [name, l] : o.layers)
    if (l.act_bits != -1) act_bits[root.at(name)] = l.act_bits;

  // Calibration: the fp32 (BN-folded) model on the first o.calibration images.
  const int64_t n_cal = std::min<int64_t>(o.calibration, calibration.size);
  if (n_cal < 1) throw BadInput("quantize: the calibration data '", calibration.name, "' is empty");
  std::map<std::string, std::vector<float>> values;
  {
    Executor ex(g);
    ex.set_training(false);
    torch::NoGradGuard no_grad;
    auto [x_all, y_all] = dataset_to_torch(calibration, n_cal);
    std::vector<std::string> names;
    std::map<std::string, int64_t> stride, seen;
    for (const auto& r : roots) {
      const std::string& s = source[r];
      names.push_back(s);
      const int64_t total = n_cal * ir::numel(g.shape_of(s));
      stride[s] = std::max<int64_t>(1, (total + kMaxCalibrationValues - 1) / kMaxCalibrationValues);
      seen[s] = 0;
    }
    const int64_t batch = 250;
    for (int64_t lo = 0; lo < n_cal; lo += batch) {
      auto out = ex.forward_with(x_all.slice(0, lo, std::min(n_cal, lo + batch)), names);
      for (const auto& s : names) {
        torch::Tensor t = out.at(s).contiguous().to(torch::kFloat32).flatten();
        const int64_t st = stride[s], first = (st - seen[s] % st) % st;
        if (first < t.numel()) {
          torch::Tensor pick = t.slice(0, first, t.numel(), st).contiguous();
          auto& v = values[s];
          v.insert(v.end(), pick.data_ptr<float>(), pick.data_ptr<float>() + pick.numel());
        }
        seen[s] += t.numel();
      }
    }
  }
  std::map<std::string, FormatChoice> act;
  for (const auto& r : roots) {
    const auto& v = values[source[r]];
    act[r] = choose_format(v.data(), static_cast<int64_t>(v.size()), act_bits[r], method);
  }

  nlohmann::json gq = {{"input", format_json(act[ir::Graph::kInput].format)},
                       {"input_stats", act[ir::Graph::kInput].to_json()},
                       {"scheme", o.scheme},
                       {"method", o.method},
                       {"calibration", n_cal}};
  g.state["quant"] = gq;

  for (auto& n : g.nodes) {
    if (!integer.count(n.name)) continue;
    const std::string& r = root.at(n.name);
    nlohmann::json q = {{"scheme", weighted(n.op) ? o.scheme : "fixed"}, {"output", format_json(act[r].format)}};
    if (r == n.name) q["output_stats"] = act[r].to_json();
    if (weighted(n.op)) {
      ir::Tensor* w = n.tensor("weight");
      if (!w) throw BadInput("node '", n.name, "' (", ir::op_name(n.op), ") has no weight");
      auto lo = o.layers.find(n.name);
      if (o.scheme == "fixed") {
        const int bits = (lo != o.layers.end() && lo->second.weight_bits != -1) ? lo->second.weight_bits : o.weight_bits;
        const int64_t oc = w->shape[0], numel = w->numel();
        std::vector<FormatChoice> ch =
            o.per_channel ? choose_format_per_channel(w->data.data(), numel, numel / oc, bits, method)
                          : std::vector<FormatChoice>{choose_format(w->data.data(), numel, bits, method)};
        std::vector<int> fls;
        nlohmann::json stats = nlohmann::json::array();
        for (const auto& c : ch) {
          fls.push_back(c.format.fl);
          stats.push_back(c.to_json());
        }
        q["weight"] = {{"bits", bits}, {"fl", fls}};
        q["weight_stats"] = o.per_channel ? stats : stats[0];
      } else {
        KMeansOptions ko;
        ko.index_bits = (lo != o.layers.end() && lo->second.index_bits != -1) ? lo->second.index_bits : o.index_bits;
        ko.init = o.kmeans_init;
        ko.seed = o.seed;
        ko.centroid_bits = o.centroid_bits;
        Codebook cb = kmeans_quantize(w->data.data(), w->numel(), ko);
        ir::Tensor idx;
        idx.shape = w->shape;
        idx.data.assign(cb.indices.begin(), cb.indices.end());
        n.tensors["weight_index"] = std::move(idx);
        q["weight"] = {{"bits", cb.centroid_format.bits}, {"fl", std::vector<int>{cb.centroid_format.fl}}};
        q["codebook"] = cb.to_json();
      }
    }
    n.state["quant"] = q;
  }
  // LUT ops need a table that fits: 2^B_in entries (checked here, built by the simulation).
  for (const auto& n : g.nodes)
    if (integer.count(n.name) && is_lut_op(n.op)) build_lut(n, act[root.at(n.inputs[0])].format, act[n.name].format);
  snap_weights(g);
  return g;
}

}  // namespace shrink::quant
