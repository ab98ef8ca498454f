// Tests of the QDQ ONNX export (ir::export_onnx_qdq, reached through exporter::export_model): the
// file read back with libonnx (QuantizeLinear / DequantizeLinear, integer initializers holding the
// runtime's integers), and ONNX Runtime (npm onnxruntime-node through tests/tools/ort_run.js, as
// tests/cli/onnx_interop_test.cc runs it) against the runtime (shrink_rt C API) on the same
// inputs. The quantized graphs are made here: formats calibrated with the maxabs rule on the fp32
// runtime's activations (no LibTorch), state as docs/quantization.md describes it.
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "compress/ir/error.h"
#include "compress/ir/graph.h"
#include "compress/ir/npy.h"
#include "compress/ir/onnx_io.h"
#include "compress/ir/passes.h"
#include "compress/ir/quant_state.h"
#include "export/export.h"
#include "export/shr_writer.h"
#include "runtime/include/shrink_fixed_point.h"
#include "runtime/include/shrink_rt.h"
#include "tests/cli/cli_util.h"
#include "tests/ir/test_graphs.h"

namespace shrink::exporter {
namespace {

using clitest::TempDir;

/// One op (Conv, Gemm, AveragePool, ...) after identical integer inputs: ORT and the runtime round
/// the same exact value once each (DequantizeLinear is exact; products and sums of multiples of
/// 2^-(FL_x + FL_w) are exact in fp32 below 2^24 units, and int8 kernels accumulate in int32;
/// QuantizeLinear divides by a power of two, exactly) and differ only where the value lies halfway
/// between two integers (ONNX rounds half to even, shrink half up), or for int16 ops, which ORT
/// runs in fp32, within fp32's rounding error of halfway: at most one LSB of the output.
constexpr double kOpMaxLsbDiff = 1.0;
/// A whole net: those one-LSB differences propagate, each moving the next layer's sums by |w| LSBs
/// of its input; measured up to 5 output LSBs on the nets here (8-bit, every layer normalized, so
/// about 32 LSBs per standard deviation). An empirical bound with room, not a proof; the test also
/// asks that ORT be closer to the runtime than the fp32 model is (the quantization error itself).
constexpr double kNetMaxLsbDiff = 16.0;
/// ORT and the runtime pick the same class on at least this fraction of the inputs.
constexpr double kMinArgmaxAgreement = 0.95;
/// Inputs per comparison.
constexpr int kInputs = 128;

const std::string kSource = SHRINK_SOURCE_DIR;
std::string node_modules() { return kSource + "/.deps/node/node_modules"; }

/// `count` inputs of the graph's input shape {C, H, W}, one after another: pixel values in [0, 1),
/// uniform on 4x4 blocks plus a little noise (independent pixels average out in the pooling
/// layers, and a random net would then give almost the same class for every input).
std::vector<float> random_inputs(const ir::Graph& g, int count, uint64_t seed) {
  test::TestRng rng(seed);
  const ir::Shape& s = g.meta.input_shape;
  const int64_t h = s.at(1), w = s.at(2), bw = (w + 3) / 4, per_image = ir::numel(s);
  std::vector<float> x(static_cast<size_t>(count * per_image));
  std::vector<float> block(static_cast<size_t>(s[0] * ((h + 3) / 4) * bw));
  for (int k = 0; k < count; ++k) {
    for (float& b : block) b = rng.uniform(0.0f, 0.9f);
    for (int64_t i = 0; i < per_image; ++i) {
      const int64_t c = i / (h * w), y = i / w % h, xx = i % w;
      x[static_cast<size_t>(k * per_image + i)] =
          block[static_cast<size_t>((c * ((h + 3) / 4) + y / 4) * bw + xx / 4)] + rng.uniform(0.0f, 0.1f);
    }
  }
  return x;
}

/// A .shr model loaded into the runtime with its arena.
class RtModel {
 public:
  explicit RtModel(const ir::Graph& g, bool keep_all = false) : bytes_(write_shr(g)) {
    storage_.resize((bytes_.size() + 7) / 8);
    std::memcpy(storage_.data(), bytes_.data(), bytes_.size());
    char err[256] = "";
    if (shrink_rt_load(storage_.data(), bytes_.size(), &m_, err, sizeof err) != SHRINK_RT_OK)
      throw std::runtime_error(std::string("shrink_rt_load: ") + err);
    if (keep_all) shrink_rt_keep_all_tensors(m_);
    arena_.resize(shrink_rt_arena_size(m_));
  }
  ~RtModel() { shrink_rt_free(m_); }
  RtModel(const RtModel&) = delete;
  RtModel& operator=(const RtModel&) = delete;

  shrink_rt_model* get() const { return m_; }
  int64_t numel(int id) const {
    shrink_rt_tensor_info ti;
    shrink_rt_tensor_info_get(m_, id, &ti);
    return ti.numel;
  }
  /// Runs one input (batch 1); returns output 0 as float.
  std::vector<float> run(const float* x, size_t n) {
    EXPECT_EQ(shrink_rt_set_input_f32(m_, arena_.data(), arena_.size(), 0, x, n), SHRINK_RT_OK);
    EXPECT_EQ(shrink_rt_run(m_, arena_.data(), arena_.size()), SHRINK_RT_OK);
    std::vector<float> y(static_cast<size_t>(numel(shrink_rt_output_tensor(m_, 0))));
    EXPECT_EQ(shrink_rt_get_output_f32(m_, arena_.data(), 0, y.data(), y.size()), SHRINK_RT_OK);
    return y;
  }
  /// max |value| of every float activation tensor after the last run, by tensor name.
  std::map<std::string, double> activation_maxabs() const {
    std::map<std::string, double> r;
    for (int id = 0; id < shrink_rt_tensor_count(m_); ++id) {
      shrink_rt_tensor_info ti;
      shrink_rt_tensor_info_get(m_, id, &ti);
      const auto* v = static_cast<const float*>(shrink_rt_tensor_data(m_, arena_.data(), id));
      if (ti.is_constant || ti.dtype != SHRINK_RT_F32 || !v) continue;
      double m = 0;
      for (int64_t i = 0; i < ti.numel; ++i) m = std::max(m, std::fabs(static_cast<double>(v[i])));
      r[ti.name] = m;
    }
    return r;
  }

 private:
  std::string bytes_;
  std::vector<uint64_t> storage_;
  shrink_rt_model* m_ = nullptr;
  std::vector<uint8_t> arena_;
};

/// Makes a random net behave like a trained one, whose outputs depend on its input: layer by
/// layer, every Conv2d / Linear output channel is shifted and scaled to mean 0 and standard
/// deviation 1 on `inputs` (fp32 runtime), as BatchNorm folded into a trained net leaves it.
/// (Without it the common part of the activations grows layer after layer and a random net gives
/// about the same class for every input.)
void normalize_layers(ir::Graph& g, const std::vector<float>& inputs) {
  const size_t n = static_cast<size_t>(ir::numel(g.meta.input_shape)), count = inputs.size() / n;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    ir::Node& layer = g.nodes[k];
    if (layer.op != ir::Op::Conv2d && layer.op != ir::Op::Linear) continue;
    ir::Graph cut = g;
    cut.nodes.resize(k + 1);
    cut.outputs = {layer.name};
    cut.infer_shapes();
    RtModel fp(cut);
    ir::Tensor& w = *layer.tensor("weight");
    ir::Tensor& b = *layer.tensor("bias");
    const size_t channels = static_cast<size_t>(w.shape[0]);
    std::vector<double> sum(channels, 0.0), sum2(channels, 0.0);
    size_t per = 1;
    for (size_t i = 0; i < count; ++i) {
      const std::vector<float> y = fp.run(inputs.data() + i * n, n);
      per = y.size() / channels;
      for (size_t j = 0; j < y.size(); ++j) {
        sum[j / per] += y[j];
        sum2[j / per] += static_cast<double>(y[j]) * y[j];
      }
    }
    const int64_t wper = w.numel() / w.shape[0];
    for (size_t c = 0; c < channels; ++c) {
      const double m = static_cast<double>(count * per), mean = sum[c] / m;
      const double sd = std::sqrt(std::max(sum2[c] / m - mean * mean, 1e-12));
      for (int64_t i = 0; i < wper; ++i) w.at(static_cast<int64_t>(c) * wper + i) /= static_cast<float>(sd);
      b.at(static_cast<int64_t>(c)) = static_cast<float>((b.at(static_cast<int64_t>(c)) - mean) / sd);
    }
  }
}

/// A LeNet-5-like net on {1, 28, 28}: conv 6@5x5 p2, relu, maxpool 2, conv 16@5x5, relu,
/// avgpool 2, flatten, fc 400->120, relu, fc 120->84, relu, fc 84->10;
/// every layer normalized by normalize_layers. Output "fc3".
ir::Graph make_qdq_lenet(uint64_t seed = 7) {
  test::TestRng rng(seed);
  ir::Graph g;
  g.meta.name = "lenet-qdq";
  g.meta.input_shape = {1, 28, 28};
  g.meta.mean = {0.2860f};
  g.meta.std = {0.3530f};
  g.add(test::test_conv("conv1", ir::Graph::kInput, 1, 6, 5, rng, 1, 2));
  g.add(test::test_node("relu1", ir::Op::ReLU, {"conv1"}));
  g.add(test::test_pool("pool1", ir::Op::MaxPool, "relu1", 2, 2));
  g.add(test::test_conv("conv2", "pool1", 6, 16, 5, rng));
  g.add(test::test_node("relu2", ir::Op::ReLU, {"conv2"}));
  g.add(test::test_pool("pool2", ir::Op::AvgPool, "relu2", 2, 2));
  g.add(test::test_node("flatten", ir::Op::Flatten, {"pool2"}));
  g.add(test::test_linear("fc1", "flatten", 400, 120, rng));
  g.add(test::test_node("relu3", ir::Op::ReLU, {"fc1"}));
  g.add(test::test_linear("fc2", "relu3", 120, 84, rng));
  g.add(test::test_node("relu4", ir::Op::ReLU, {"fc2"}));
  g.add(test::test_linear("fc3", "relu4", 84, 10, rng));
  g.outputs = {"fc3"};
  g.infer_shapes();
  normalize_layers(g, random_inputs(g, 64, seed + 1));
  return g;
}

/// The FL that puts max|x| at the top of the B-bit range without saturating (maxabs rule).
int fl_for(double maxabs, int bits) {
  int fl = fx::kMaxFl;
  while (fl > fx::kMinFl && fx::quantize(maxabs, bits, fl) == fx::qmax(bits)) --fl;
  return fl;
}

/// Sets fixed-point state on every node of an fp32 graph with no Softmax but a final one:
/// activations B_a bits, FL calibrated on `inputs` with the fp32 runtime (a ReLU / MaxPool /
/// Flatten takes its input's format, a layer feeding a ReLU is calibrated on the ReLU's output, as
/// quantize_model does); weights B_w bits with maxabs FLs per output channel or per layer.
void quantize_fixed(ir::Graph& g, int act_bits, int w_bits, bool per_channel, const std::vector<float>& inputs) {
  RtModel fp(g, /*keep_all=*/true);
  const size_t n = static_cast<size_t>(ir::numel(g.meta.input_shape));
  std::map<std::string, double> maxabs;
  double in_max = 0;
  for (size_t k = 0; k * n < inputs.size(); ++k) {
    fp.run(inputs.data() + k * n, n);
    for (const auto& [name, m] : fp.activation_maxabs()) maxabs[name] = std::max(maxabs[name], m);
    for (size_t i = 0; i < n; ++i)
      in_max = std::max(in_max, std::fabs((static_cast<double>(inputs[k * n + i]) - g.meta.mean[0]) / g.meta.std[0]));
  }
  auto fmt = [](int bits, int fl) { return nlohmann::json{{"bits", bits}, {"fl", fl}}; };
  g.state["quant"] = {{"input", fmt(act_bits, fl_for(in_max, act_bits))}, {"scheme", "fixed"}};
  std::map<std::string, nlohmann::json> of{{ir::Graph::kInput, g.state["quant"]["input"]}};
  for (auto& node : g.nodes) {
    if (node.op == ir::Op::Softmax) continue;
    const bool pass = node.op == ir::Op::ReLU || node.op == ir::Op::MaxPool || node.op == ir::Op::Flatten;
    if (pass) {
      of[node.name] = of.at(node.inputs[0]);
    } else {
      std::string calib = node.name;  // a fused ReLU's tensor carries the ReLU's name
      for (const auto& c : g.nodes)
        if (c.op == ir::Op::ReLU && c.inputs[0] == node.name) calib = c.name;
      EXPECT_TRUE(maxabs.count(calib)) << "no runtime tensor " << calib;
      of[node.name] = fmt(act_bits, fl_for(maxabs[calib], act_bits));
    }
    nlohmann::json q = {{"scheme", "fixed"}, {"output", of[node.name]}};
    if (node.op == ir::Op::Conv2d || node.op == ir::Op::Linear) {
      const ir::Tensor& w = *node.tensor("weight");
      const int64_t oc = w.shape[0], per = w.numel() / oc;
      std::vector<double> m(per_channel ? static_cast<size_t>(oc) : 1, 0.0);
      for (int64_t i = 0; i < w.numel(); ++i) {
        double& mc = m[per_channel ? static_cast<size_t>(i / per) : 0];
        mc = std::max(mc, std::fabs(static_cast<double>(w.at(i))));
      }
      std::vector<int> fls;
      for (double v : m) fls.push_back(fl_for(v, w_bits));
      q["weight"] = {{"bits", w_bits}, {"fl", fls}};
    }
    node.state["quant"] = q;
  }
}

onnx::ModelProto read_onnx(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromIstream(&f)) << path;
  return m;
}

int count_ops(const onnx::ModelProto& m, const std::string& op) {
  return static_cast<int>(std::count_if(m.graph().node().begin(), m.graph().node().end(),
                                        [&](const onnx::NodeProto& n) { return n.op_type() == op; }));
}

const onnx::TensorProto* initializer(const onnx::ModelProto& m, const std::string& name) {
  for (const auto& t : m.graph().initializer())
    if (t.name() == name) return &t;
  return nullptr;
}

/// The integers of an INT8 / INT16 / INT32 initializer (raw little-endian data, as written).
std::vector<int64_t> ints_of(const onnx::TensorProto& t) {
  const int bytes = t.data_type() == onnx::TensorProto::INT8 ? 1 : (t.data_type() == onnx::TensorProto::INT16 ? 2 : 4);
  std::vector<int64_t> v;
  const std::string& raw = t.raw_data();
  for (size_t i = 0; i + bytes <= raw.size(); i += bytes) {
    uint64_t u = 0;
    for (int k = 0; k < bytes; ++k) u |= static_cast<uint64_t>(static_cast<uint8_t>(raw[i + k])) << (8 * k);
    const int shift = 64 - 8 * bytes;
    v.push_back(static_cast<int64_t>(u << shift) >> shift);  // sign-extend
  }
  return v;
}

/// The node whose output is `value`.
const onnx::NodeProto* producer(const onnx::ModelProto& m, const std::string& value) {
  for (const auto& n : m.graph().node())
    for (const auto& o : n.output())
      if (o == value) return &n;
  return nullptr;
}

/// The weight and bias of every Conv / Gemm are int initializers -> DequantizeLinear holding the
/// runtime's integers, with scale 2^-FL (per axis 0 for per-channel FLs); every tensor of the
/// integer part goes through QuantizeLinear -> DequantizeLinear.
void expect_qdq_structure(const ir::Graph& g, const onnx::ModelProto& m, int32_t act_type) {
  const quant::ModelQuant mq = quant::read_model_quant(g);
  int layers = 0;
  for (const auto& n : m.graph().node()) {
    if (n.op_type() != "Conv" && n.op_type() != "Gemm") continue;
    ++layers;
    const ir::Node& in = g.at(n.name());
    const quant::NodeQuant& nq = mq.nodes.at(in.name);
    const ir::Tensor& w = *in.tensor("weight");
    const int64_t per = w.numel() / w.shape[0];
    for (int k : {1, 2}) {  // weight, bias
      const onnx::NodeProto* dq = producer(m, n.input(k));
      ASSERT_NE(dq, nullptr) << n.name();
      ASSERT_EQ(dq->op_type(), "DequantizeLinear") << n.name() << " input " << k;
      const onnx::TensorProto* q = initializer(m, dq->input(0));
      const onnx::TensorProto* s = initializer(m, dq->input(1));
      ASSERT_TRUE(q && s) << n.name();
      const std::vector<int64_t> v = ints_of(*q);
      const bool pc = nq.weight_fl.size() > 1;
      EXPECT_EQ(s->dims_size(), pc ? 1 : 0) << n.name();
      EXPECT_EQ(dq->attribute_size(), pc ? 1 : 0) << n.name();  // axis = 0
      if (pc) {
        EXPECT_EQ(dq->attribute(0).i(), 0) << n.name();
      }
      const int xfl = mq.format_of(in.inputs[0]).fl;
      std::vector<float> scale(s->float_data().begin(), s->float_data().end());
      if (scale.empty()) {
        scale.resize(s->raw_data().size() / 4);
        std::memcpy(scale.data(), s->raw_data().data(), s->raw_data().size());
      }
      for (size_t c = 0; c < scale.size(); ++c)
        EXPECT_EQ(scale[c], std::ldexp(1.0f, -(nq.weight_fl[c] + (k == 2 ? xfl : 0)))) << n.name() << " channel " << c;
      if (k == 1) {
        EXPECT_EQ(q->data_type(), nq.weight_bits <= 8 ? onnx::TensorProto::INT8 : onnx::TensorProto::INT16) << n.name();
        ASSERT_EQ(static_cast<int64_t>(v.size()), w.numel()) << n.name();
        int64_t wrong = 0;
        for (int64_t i = 0; i < w.numel(); ++i) {
          const size_t k = static_cast<size_t>(i);
          wrong += v[k] != (nq.codebook ? nq.codebook->centroids_q[static_cast<size_t>(nq.codebook->indices[k])]
                                        : fx::quantize(w.at(i), nq.weight_bits, nq.weight_fl_of(i / per)));
        }
        EXPECT_EQ(wrong, 0) << n.name();
      } else {
        EXPECT_EQ(q->data_type(), onnx::TensorProto::INT32) << n.name();
        const ir::Tensor& b = *in.tensor("bias");
        ASSERT_EQ(static_cast<int64_t>(v.size()), b.numel());
        for (int64_t c = 0; c < b.numel(); ++c)
          EXPECT_EQ(v[static_cast<size_t>(c)], fx::quantize(b.at(c), 32, xfl + nq.weight_fl_of(c))) << n.name();
      }
    }
  }
  EXPECT_EQ(layers, static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(), [](const ir::Node& n) {
              return n.op == ir::Op::Conv2d || n.op == ir::Op::Linear;
            })));
  // One QuantizeLinear per activation format: the input and every node of the integer part,
  // each feeding a DequantizeLinear; activations typed by their bits.
  EXPECT_EQ(count_ops(m, "QuantizeLinear"), static_cast<int>(mq.nodes.size()) + 1);
  for (const auto& n : m.graph().node()) {
    if (n.op_type() != "QuantizeLinear") continue;
    const onnx::TensorProto* zp = initializer(m, n.input(2));
    ASSERT_NE(zp, nullptr) << n.name();
    EXPECT_EQ(zp->data_type(), act_type) << n.name();
    EXPECT_EQ(ints_of(*zp), std::vector<int64_t>{0}) << n.name();
  }
  // The graph's output is the node's name, as in the fp32 export.
  ASSERT_EQ(m.graph().output_size(), 1);
  EXPECT_EQ(m.graph().output(0).name(), g.outputs[0]);
}

/// ONNX Runtime's output for `count` inputs (one batch), through tests/tools/ort_run.js. With
/// ORT_LOAD_CONFIG_FROM_MODEL=1 a model's metadata "ort_config" may set session options
/// (without_qdq_fusion); other models run with ONNX Runtime's defaults.
std::vector<float> ort_outputs(const TempDir& t, const std::string& model, const ir::Graph& g,
                               const std::vector<float>& x, int count) {
  ir::Shape shape{count};
  shape.insert(shape.end(), g.meta.input_shape.begin(), g.meta.input_shape.end());
  ir::Tensor in(shape);
  in.data = x;
  ir::write_npy(t / "x.npy", in);
  const clitest::CmdResult r =
      clitest::run_program("env",
                           "ORT_LOAD_CONFIG_FROM_MODEL=1 node '" + kSource + "/tests/tools/ort_run.js' '" + model +
                               "' x.npy y.npy '" + node_modules() + "'",
                           t.path());
  EXPECT_EQ(r.code, 0) << "ort_run.js " << model << ": " << r.err;
  if (r.code != 0) return {};
  return ir::read_npy(t / "y.npy").f32;
}

/// How close two models' outputs are on the same inputs.
struct Agreement {
  double max_diff = 0;  ///< max |a - b| over every output value
  double argmax = 0;    ///< fraction of inputs whose top class in a is a top class of b (b may tie)
  int classes = 0;      ///< distinct top classes of b (the argmax check means little when it is 1)
};

Agreement agreement(const std::vector<float>& a, const std::vector<float>& b, size_t classes) {
  Agreement r;
  if (a.size() != b.size() || classes == 0 || a.empty()) {
    ADD_FAILURE() << "outputs of " << a.size() << " and " << b.size() << " values";
    return r;
  }
  int same = 0;
  std::set<int64_t> top;
  for (size_t k = 0; k < a.size(); k += classes) {
    const float* x = a.data() + k;
    const float* y = b.data() + k;
    for (size_t i = 0; i < classes; ++i) r.max_diff = std::max(r.max_diff, std::fabs(static_cast<double>(x[i]) - y[i]));
    same += y[std::max_element(x, x + classes) - x] == *std::max_element(y, y + classes);
    top.insert(std::max_element(y, y + classes) - y);
  }
  r.argmax = static_cast<double>(same) / static_cast<double>(a.size() / classes);
  r.classes = static_cast<int>(top.size());
  return r;
}

/// A copy of `path` that ONNX Runtime runs without its graph optimizations beyond level 1
/// ("basic": no QDQ fusion into QLinearConv / QGemm, so every op computes in float from the
/// dequantized integers, as the ONNX standard defines the QDQ graph). ORT reads the setting from
/// the model's metadata "ort_config" when ORT_LOAD_CONFIG_FROM_MODEL=1 is in its environment.
std::string without_qdq_fusion(const std::string& path) {
  onnx::ModelProto m = read_onnx(path);
  auto* kv = m.add_metadata_props();
  kv->set_key("ort_config");
  kv->set_value(R"({"session_options": {"graph_optimization_level": 1}})");
  const std::string out = path + ".basic.onnx";
  std::ofstream(out, std::ios::binary) << m.SerializeAsString();
  return out;
}

/// ORT and the runtime on the same inputs (kInputs of random_inputs(seed)).
struct Comparison {
  Agreement ort;        ///< ORT as users run it (default optimizations, fused int8 kernels) vs the runtime
  Agreement ort_float;  ///< ORT without QDQ fusion (the ONNX definition of the graph) vs the runtime
  Agreement quant;      ///< the runtime's fp32 model vs its quantized one: the quantization error
};

Comparison compare_with_runtime(const TempDir& t, const ir::Graph& q, const std::string& onnx_path, uint64_t seed) {
  const std::vector<float> x = random_inputs(q, kInputs, seed);
  ir::Graph fp = q;  // the fp32 model the quantized one was made from
  fp.state.erase("quant");
  for (auto& n : fp.nodes) n.state.erase("quant");
  RtModel rt(q), rt_fp(fp);
  const size_t n = static_cast<size_t>(ir::numel(q.meta.input_shape));
  std::vector<float> y, y_fp;
  for (int k = 0; k < kInputs; ++k) {
    for (float v : rt.run(x.data() + k * n, n)) y.push_back(v);
    for (float v : rt_fp.run(x.data() + k * n, n)) y_fp.push_back(v);
  }
  const size_t classes = y.size() / kInputs;
  Comparison c;
  c.ort = agreement(ort_outputs(t, onnx_path, q, x, kInputs), y, classes);
  c.ort_float = agreement(ort_outputs(t, without_qdq_fusion(onnx_path), q, x, kInputs), y, classes);
  c.quant = agreement(y_fp, y, classes);
  return c;
}

class OnnxQdqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(node_modules() + "/onnxruntime-node"))
        << "onnxruntime-node not found under " << node_modules() << ": run make deps";
  }
  TempDir t_;
};

/// Exports q as QDQ through export_model (no warning), checks the file, and compares ORT with the
/// runtime in LSBs of the last integer tensor (`lsb_of`, default the output). `exact_int8`: ORT's
/// fused int8 kernels compute exactly (weights of at most 7 bits, or no int8 at all); with 8-bit
/// weights on x86 without AVX-VNNI they do not (U8S8 GEMM with vpmaddubsw, whose 16-bit pair sums
/// saturate; ONNX Runtime documents it and recommends 7-bit weights, "reduce_range"), and only
/// ORT without QDQ fusion is held to the bounds.
void check_qdq(const TempDir& t, const ir::Graph& q, int32_t act_type, int64_t opset, bool exact_int8,
               double max_lsbs = kNetMaxLsbDiff, const std::string& lsb_of = "") {
  const std::string path = t / "q.onnx";
  EXPECT_TRUE(export_model(q, "onnx", path).empty());
  const onnx::ModelProto m = read_onnx(path);
  EXPECT_EQ(m.opset_import(0).version(), opset);
  expect_qdq_structure(q, m, act_type);
  const int fl = quant::read_model_quant(q).format_of(lsb_of.empty() ? q.outputs[0] : lsb_of).fl;
  const Comparison c = compare_with_runtime(t, q, path, 99);
  std::printf("[ measured ] %s (LSB 2^-%d, %d classes): |ORT - runtime| <= %g LSBs, argmax %.3f; ORT without QDQ "
              "fusion %g LSBs, argmax %.3f; |fp32 - runtime| <= %g LSBs, argmax %.3f\n",
              q.meta.name.c_str(), fl, c.quant.classes, std::ldexp(c.ort.max_diff, fl), c.ort.argmax,
              std::ldexp(c.ort_float.max_diff, fl), c.ort_float.argmax, std::ldexp(c.quant.max_diff, fl),
              c.quant.argmax);
  std::vector<const Agreement*> held{&c.ort_float};
  if (exact_int8) held.push_back(&c.ort);
  for (const Agreement* a : held) {
    EXPECT_LE(a->max_diff, max_lsbs * std::ldexp(1.0, -fl)) << (a == &c.ort ? "ORT" : "ORT without QDQ fusion");
    if (max_lsbs > kOpMaxLsbDiff) {  // a whole net: closer to the runtime than fp32 is, and the same class
      EXPECT_LE(a->max_diff, c.quant.max_diff);
      // At least 95%; where 8-bit quantization itself changes the class of more inputs (fp32 vs the
      // runtime, random nets have small margins), no less often than fp32 agrees, less 2%.
      EXPECT_GE(a->argmax, std::min(kMinArgmaxAgreement, c.quant.argmax - 0.02));
    }
  }
  if (max_lsbs > kOpMaxLsbDiff) {
    EXPECT_GE(c.quant.classes, 5) << "the inputs give too few classes for an argmax test";
  }
}

TEST_F(OnnxQdqTest, Int8PerLayerLeNet) {
  ir::Graph q = make_qdq_lenet();
  quantize_fixed(q, 8, 8, /*per_channel=*/false, random_inputs(q, 64, 1));
  check_qdq(t_, q, onnx::TensorProto::INT8, 13, /*exact_int8=*/false);
}

TEST_F(OnnxQdqTest, Int8PerChannelLeNetUsesPerAxisScales) {
  ir::Graph q = make_qdq_lenet();
  q.meta.name = "lenet-qdq-per-channel";
  quantize_fixed(q, 8, 8, /*per_channel=*/true, random_inputs(q, 64, 1));
  check_qdq(t_, q, onnx::TensorProto::INT8, 13, /*exact_int8=*/false);
}

TEST_F(OnnxQdqTest, SevenBitWeightsRunExactlyInOrtsInt8Kernels) {
  // 8-bit activations, 7-bit weights stored as int8: ORT's fused int8 kernels cannot saturate.
  ir::Graph q = make_qdq_lenet();
  q.meta.name = "lenet-qdq-w7";
  quantize_fixed(q, 8, 7, /*per_channel=*/true, random_inputs(q, 64, 1));
  check_qdq(t_, q, onnx::TensorProto::INT8, 13, /*exact_int8=*/true);
}

TEST_F(OnnxQdqTest, EachOpIsAtMostOneLsbFromTheRuntime) {
  // One op after the input, so both sides start from the same integers: Conv (per-channel, with
  // a bias), Gemm (after a Flatten, which moves integers), AveragePool (2x2: a quarter of its averages are ties),
  // GlobalAveragePool; 8-bit (7-bit weights) and 16-bit.
  for (int bits : {8, 16})
    for (ir::Op op : {ir::Op::Conv2d, ir::Op::Linear, ir::Op::AvgPool, ir::Op::GlobalAvgPool}) {
      test::TestRng rng(static_cast<uint64_t>(op) + 10);
      ir::Graph g;
      g.meta.name = std::string(ir::op_name(op)) + "-" + std::to_string(bits);
      g.meta.input_shape = {3, 12, 12};
      g.meta.mean = {0.5f};
      g.meta.std = {0.25f};
      if (op == ir::Op::Conv2d) g.add(test::test_conv("op", ir::Graph::kInput, 3, 8, 3, rng, 1, 1));
      if (op == ir::Op::Linear) {
        g.add(test::test_node("flatten", ir::Op::Flatten, {ir::Graph::kInput}));
        g.add(test::test_linear("op", "flatten", 3 * 12 * 12, 10, rng));
      }
      if (op == ir::Op::AvgPool) g.add(test::test_pool("op", op, ir::Graph::kInput, 2, 2));
      if (op == ir::Op::GlobalAvgPool) g.add(test::test_node("op", op, {ir::Graph::kInput}));
      g.outputs = {"op"};
      g.infer_shapes();
      SCOPED_TRACE(g.meta.name);
      quantize_fixed(g, bits, bits == 8 ? 7 : 16, /*per_channel=*/true, random_inputs(g, 64, 1));
      check_qdq(t_, g, bits == 8 ? onnx::TensorProto::INT8 : onnx::TensorProto::INT16, bits == 8 ? 13 : 21,
                /*exact_int8=*/true, kOpMaxLsbDiff);
    }
}

TEST_F(OnnxQdqTest, ResBlockWithAddConcatPoolingAndSoftmax) {
  // BatchNorm folded (as quantize_model does); Add, Concat, depthwise conv, global average
  // pooling in the integer part, a float Softmax after it (1/2-Lipschitz in the max norm, so the
  // bound in LSBs of its input "fc" holds for the probabilities too).
  ir::Graph q = test::make_test_resblock();
  ir::fold_batchnorm(q);
  q.meta.mean = {0.5f};
  q.meta.std = {0.25f};
  normalize_layers(q, random_inputs(q, 64, 3));
  quantize_fixed(q, 8, 7, /*per_channel=*/true, random_inputs(q, 64, 1));
  check_qdq(t_, q, onnx::TensorProto::INT8, 13, /*exact_int8=*/true, kNetMaxLsbDiff, "fc");
  EXPECT_EQ(count_ops(read_onnx(t_ / "q.onnx"), "Softmax"), 1);
}

TEST_F(OnnxQdqTest, SixteenBitModelUsesInt16AtOpset21) {
  ir::Graph q = make_qdq_lenet();
  q.meta.name = "lenet-qdq-16";
  quantize_fixed(q, 16, 16, /*per_channel=*/true, random_inputs(q, 64, 1));
  check_qdq(t_, q, onnx::TensorProto::INT16, 21, /*exact_int8=*/true);
  EXPECT_EQ(read_onnx(t_ / "q.onnx").ir_version(), 10);
}

TEST_F(OnnxQdqTest, CodebookLayerIsExportedAsItsCentroidIntegers) {
  // fc1 as a k-means layer: 16 centroids on a 7-bit grid at the layer's FL, each weight its
  // nearest centroid (the state quantize_model writes for scheme kmeans).
  ir::Graph q = make_qdq_lenet();
  q.meta.name = "lenet-qdq-kmeans";
  quantize_fixed(q, 8, 7, /*per_channel=*/false, random_inputs(q, 64, 1));
  ir::Node& fc1 = q.at("fc1");
  const int fl = fc1.state["quant"]["weight"]["fl"][0].get<int>();
  quant::Codebook cb;
  cb.index_bits = 4;
  cb.centroid_format = {7, fl};
  for (int k = 0; k < 16; ++k) cb.centroids_q.push_back(-60 + 8 * k);
  ir::Tensor& w = *fc1.tensor("weight");
  ir::Tensor idx(w.shape);
  for (int64_t i = 0; i < w.numel(); ++i) {
    const double v = std::ldexp(static_cast<double>(w.at(i)), fl);
    const int k = static_cast<int>(std::clamp(std::lround((v + 60) / 8), 0l, 15l));
    idx.at(i) = static_cast<float>(k);
    cb.indices.push_back(k);
    w.at(i) = cb.value(i);
  }
  fc1.tensors["weight_index"] = idx;
  fc1.state["quant"]["scheme"] = "kmeans";
  fc1.state["quant"]["codebook"] = cb.to_json();
  check_qdq(t_, q, onnx::TensorProto::INT8, 13, /*exact_int8=*/true);
}

TEST(OnnxQdq, NarrowActivationsKeepFp32WithAWarning) {
  // 4-bit activations have no QDQ form (QuantizeLinear would saturate to int8, not 4 bits).
  ir::Graph q = make_qdq_lenet();
  quantize_fixed(q, 4, 8, /*per_channel=*/false, random_inputs(q, 4, 1));
  EXPECT_NE(ir::onnx_qdq_unsupported(q).find("the input is 4-bit"), std::string::npos) << ir::onnx_qdq_unsupported(q);
  TempDir t;
  const std::vector<std::string> warnings = export_model(q, "onnx", t / "q.onnx");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("no QDQ form for this model: the input is 4-bit"), std::string::npos) << warnings[0];
  const onnx::ModelProto m = read_onnx(t / "q.onnx");
  EXPECT_EQ(m.opset_import(0).version(), 13);
  EXPECT_EQ(count_ops(m, "QuantizeLinear") + count_ops(m, "DequantizeLinear"), 0);
  // The weights are the integer model's, dequantized, as float initializers.
  const ir::Graph d = dequantized_weights(q);
  const onnx::TensorProto* w = initializer(m, "fc1.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->data_type(), onnx::TensorProto::FLOAT);
  ASSERT_EQ(w->raw_data().size(), d.at("fc1").tensor("weight")->data.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(w->raw_data().data(), d.at("fc1").tensor("weight")->data.data(), w->raw_data().size()), 0);
  // A 4-bit node output after an 8-bit input is named too; export_onnx_qdq refuses both.
  q.state["quant"]["input"]["bits"] = 8;
  EXPECT_NE(ir::onnx_qdq_unsupported(q).find("the output of node 'conv1' is 4-bit"), std::string::npos)
      << ir::onnx_qdq_unsupported(q);
  EXPECT_THROW(ir::export_onnx_qdq(q, t / "x.onnx"), BadInput);
  EXPECT_FALSE(std::filesystem::exists(t / "x.onnx"));
}

TEST(OnnxQdq, Fp32ModelsAreUnchanged) {
  // No quantization state: the fp32 export, byte for byte ir::export_onnx's.
  const ir::Graph g = make_qdq_lenet();
  TempDir t;
  EXPECT_TRUE(export_model(g, "onnx", t / "a.onnx").empty());
  ir::export_onnx(g, t / "b.onnx");
  const onnx::ModelProto a = read_onnx(t / "a.onnx"), b = read_onnx(t / "b.onnx");
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  EXPECT_EQ(count_ops(a, "QuantizeLinear"), 0);
  EXPECT_EQ(a.opset_import(0).version(), 13);
}

}  // namespace
}  // namespace shrink::exporter
