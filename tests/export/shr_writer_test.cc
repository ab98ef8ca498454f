// Tests of the .shr writer (export/shr_writer.h), read back with the runtime's loader: fp32 graphs
// (BatchNorm folded, ReLU fused), quantized graphs whose state is set by hand as
// docs/quantization.md describes (no LibTorch), CSR for sparse weights, codebook packing, lookup
// tables, and the loader's refusal of every truncation of a writer-made file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "compress/ir/lut.h"
#include "compress/ir/passes.h"
#include "export/export.h"
#include "export/shr_writer.h"
#include "runtime/include/shrink_fixed_point.h"
#include "runtime/src/model.h"
#include "tests/ir/test_graphs.h"

namespace shrink::exporter {
namespace {

using rt::Model;
using rt::TensorDesc;

/// Loads bytes with the runtime's loader (in an 8-byte aligned copy); fails the test on error.
struct Loaded {
  std::vector<uint64_t> storage;
  Model m;
  explicit Loaded(const std::string& bytes) : storage((bytes.size() + 7) / 8) {
    std::memcpy(storage.data(), bytes.data(), bytes.size());
    rt::Status s = rt::load_model(storage.data(), bytes.size(), m);
    EXPECT_TRUE(s.ok()) << shrink_rt_status_str(s.code) << ": " << s.message;
  }
  const TensorDesc& tensor(const std::string& name) const {
    for (const auto& t : m.tensors)
      if (t.name == name) return t;
    ADD_FAILURE() << "no tensor " << name;
    return m.tensors.at(0);
  }
  std::vector<std::string> opcodes() const {
    std::vector<std::string> v;
    for (const auto& o : m.ops) v.push_back(shr::op_name(o.code));
    return v;
  }
  const rt::OpDesc& op(const std::string& name) const {
    for (const auto& o : m.ops)
      if (o.name == name) return o;
    ADD_FAILURE() << "no op " << name;
    return m.ops.at(0);
  }
};

/// The largest FL in -8..24 whose range holds max|x| (the maxabs rule of docs/quantization.md).
int maxabs_fl(const float* x, int64_t n, int bits) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(x[i])));
  for (int fl = fx::kMaxFl; fl > fx::kMinFl; --fl)
    if (std::floor(m * std::ldexp(1.0, fl) + 0.5) <= static_cast<double>(fx::qmax(bits))) return fl;
  return fx::kMinFl;
}

/// Sets fixed-point quantization state on every node but a final Softmax, as quantize_model
/// records it: pass-through ops (ReLU, MaxPool, Flatten) share their input's format; the others
/// get act FL `act_fl`; weights get maxabs FLs per channel (or per layer).
void set_fixed_state(ir::Graph& g, int act_bits, int w_bits, bool per_channel, int act_fl = 4) {
  g.state["quant"] = {{"input", {{"bits", act_bits}, {"fl", 5}}}, {"scheme", "fixed"}};
  std::map<std::string, nlohmann::json> fmt{{ir::Graph::kInput, {{"bits", act_bits}, {"fl", 5}}}};
  for (auto& n : g.nodes) {
    if (n.op == ir::Op::Softmax) continue;
    const bool pass = n.op == ir::Op::ReLU || n.op == ir::Op::ReLU6 || n.op == ir::Op::MaxPool || n.op == ir::Op::Flatten;
    fmt[n.name] = pass ? fmt.at(n.inputs[0]) : nlohmann::json{{"bits", act_bits}, {"fl", act_fl}};
    nlohmann::json q = {{"scheme", "fixed"}, {"output", fmt[n.name]}};
    if (n.op == ir::Op::Conv2d || n.op == ir::Op::Linear) {
      const ir::Tensor& w = *n.tensor("weight");
      const int64_t oc = w.shape[0], per = w.numel() / oc;
      std::vector<int> fls;
      if (per_channel)
        for (int64_t c = 0; c < oc; ++c) fls.push_back(maxabs_fl(w.data.data() + c * per, per, w_bits));
      else
        fls.push_back(maxabs_fl(w.data.data(), w.numel(), w_bits));
      q["weight"] = {{"bits", w_bits}, {"fl", fls}};
    }
    n.state["quant"] = q;
  }
}

/// Turns layer `name` into a k-means layer: 2^bits centroids (centroid 0 = 0 when zero_reserved),
/// indices i-dependent, weights set to the codebook values (as snap_weights leaves them).
/// pruned(i): element i is pruned (index 0, needs zero_reserved).
quant::Codebook set_kmeans(ir::Graph& g, const std::string& name, int bits, bool zero_reserved,
                           const std::function<bool(int64_t)>& pruned = nullptr) {
  ir::Node& n = g.at(name);
  ir::Tensor& w = *n.tensor("weight");
  quant::Codebook cb;
  cb.index_bits = bits;
  cb.zero_reserved = zero_reserved;
  cb.centroid_format = {8, 6};
  for (int k = 0; k < (1 << bits); ++k) cb.centroids_q.push_back(zero_reserved && k == 0 ? 0 : (k * 37) % 255 - 127);
  ir::Tensor idx(w.shape);
  for (int64_t i = 0; i < w.numel(); ++i) {
    cb.indices.push_back(static_cast<int32_t>((i * 2654435761u >> 7) % (1u << bits)));
    if (pruned) cb.indices.back() = pruned(i) ? 0 : 1 + cb.indices.back() % ((1 << bits) - 1);
    idx.at(i) = static_cast<float>(cb.indices.back());
    w.at(i) = cb.value(i);
  }
  n.tensors["weight_index"] = idx;
  auto& q = n.state["quant"];
  q["scheme"] = "kmeans";
  q["weight"] = {{"bits", 8}, {"fl", std::vector<int>{6}}};
  q["codebook"] = cb.to_json();
  return cb;
}

/// write_shr(g) must throw BadInput with `part` in its message.
void expect_bad_input(const ir::Graph& g, const std::string& part) {
  try {
    write_shr(g);
    ADD_FAILURE() << "expected BadInput containing: " << part;
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

// --- fp32 ----------------------------------------------------------------------------------------

TEST(ShrWriter, Fp32LeNet5RoundTrip) {
  const ir::Graph g = test::make_test_lenet5();
  const std::string bytes = write_shr(g);
  Loaded l(bytes);
  const Model& m = l.m;
  EXPECT_EQ(m.name, "lenet5");
  EXPECT_EQ(m.producer, std::string("shrink ") + SHRINK_VERSION);
  EXPECT_EQ(m.flags, 0u);
  EXPECT_EQ(m.labels.size(), 10u);
  EXPECT_EQ(m.labels[9], "Ankle boot");
  EXPECT_EQ(m.mean, std::vector<float>{0.2860f});
  EXPECT_EQ(m.std, std::vector<float>{0.3530f});
  EXPECT_EQ(l.opcodes(), (std::vector<std::string>{"Conv2d", "MaxPool", "Conv2d", "MaxPool", "Flatten", "Linear", "Linear"}));
  const TensorDesc& in = m.tensors[m.inputs[0]];
  EXPECT_EQ(in.name, "input");
  EXPECT_EQ(in.rank, 3);
  EXPECT_EQ(in.dims[1], 28);
  ASSERT_EQ(m.outputs.size(), 1u);
  EXPECT_EQ(m.tensors[m.outputs[0]].name, "fc2");
  // relu1 is fused into fc1: its output tensor carries the ReLU's name.
  const rt::OpDesc& fc1 = l.op("fc1");
  EXPECT_EQ(fc1.activation, shr::Activation::ReLU);
  EXPECT_EQ(m.tensors[fc1.output].name, "relu1");
  // Every weight and bias value is the IR's float, bit for bit.
  for (const char* layer : {"conv1", "conv2", "fc1", "fc2"}) {
    const ir::Node& n = g.at(layer);
    for (const char* key : {"weight", "bias"}) {
      const TensorDesc& t = l.tensor(std::string(layer) + "." + key);
      const ir::Tensor& ref = *n.tensor(key);
      EXPECT_EQ(t.dtype, shr::DType::F32);
      EXPECT_EQ(t.storage, shr::Storage::Dense);
      ASSERT_EQ(t.numel, ref.numel());
      for (int64_t i = 0; i < ref.numel(); ++i) ASSERT_EQ(static_cast<float>(t.value_at(i)), ref.at(i)) << layer << key << i;
    }
  }
  const rt::OpDesc& pool = l.op("pool1");
  EXPECT_EQ(pool.kernel[0], 2);
  EXPECT_EQ(pool.stride[1], 2);
  // The same graph gives the same bytes.
  EXPECT_EQ(write_shr(g), bytes);
}

TEST(ShrWriter, Fp32ResBlockFoldsBatchNormAndKeepsTheGraph) {
  const ir::Graph g = test::make_test_resblock();
  Loaded l(write_shr(g));
  EXPECT_EQ(l.opcodes(), (std::vector<std::string>{"Conv2d", "Conv2d", "Add", "Conv2d", "Concat", "MaxPool",
                                                   "GlobalAvgPool", "Flatten", "Linear", "Softmax"}));
  ir::Graph folded = g;
  ir::fold_batchnorm(folded);
  const ir::Tensor& w = *folded.at("conv1").tensor("weight");
  const TensorDesc& t = l.tensor("conv1.weight");
  for (int64_t i = 0; i < w.numel(); ++i) ASSERT_EQ(static_cast<float>(t.value_at(i)), w.at(i));
  EXPECT_NE(l.op("conv1").bias, shr::kNoTensor);  // created by the fold
  EXPECT_EQ(l.op("conv1").activation, shr::Activation::ReLU);  // bn1 folded, relu1 fused
  EXPECT_EQ(l.op("add").activation, shr::Activation::ReLU);
  EXPECT_EQ(l.op("add").input_count, 2u);
  EXPECT_EQ(l.op("dw").groups, 8);
  EXPECT_EQ(l.op("cat").axis, 0);  // IR axis 1 (batch counted) = dim 0 of {C, H, W}
  EXPECT_EQ(l.op("softmax").axis, 0);
  EXPECT_EQ(l.m.tensors[l.op("cat").output].dims[0], 16);
}

/// input {4} -> Linear "fc" 4->6; the caller appends nodes, sets the outputs, infers shapes.
ir::Graph small_linear_graph(const std::string& name, uint64_t seed) {
  ir::Graph g;
  g.meta.name = name;
  g.meta.input_shape = {4};
  test::TestRng rng(seed);
  g.add(test::test_linear("fc", ir::Graph::kInput, 4, 6, rng));
  return g;
}

TEST(ShrWriter, LeakyReLUAlphaInFloatAndBadInput) {
  ir::Graph g = small_linear_graph("act", 3);
  test::TestRng rng(4);
  ir::Node lr = test::test_node("leaky", ir::Op::LeakyReLU, {"fc"});
  lr.alpha = 0.125f;
  g.add(lr);
  g.outputs = {"leaky"};
  g.infer_shapes();
  Loaded l(write_shr(g));
  EXPECT_EQ(l.op("leaky").alpha, 0.125f);
  EXPECT_EQ(l.op("leaky").lut, shr::kNoTensor);

  // A BatchNorm that cannot be folded (its input is the graph input) becomes a depthwise 1x1
  // convolution on {C, H, W}; on a flat {F} input the runtime has nothing to run it with.
  ir::Graph b;
  b.meta.input_shape = {3, 4, 4};
  b.add(test::test_batchnorm("bn", ir::Graph::kInput, 3, rng));
  b.outputs = {"bn"};
  b.infer_shapes();
  Loaded lb(write_shr(b));
  EXPECT_EQ(lb.opcodes(), std::vector<std::string>{"Conv2d"});
  EXPECT_EQ(lb.tensor("bn.weight").dims[0], 3);
  ir::Graph flat;
  flat.meta.input_shape = {3};
  flat.add(test::test_batchnorm("bn", ir::Graph::kInput, 3, rng));
  flat.outputs = {"bn"};
  flat.infer_shapes();
  expect_bad_input(flat, "node 'bn' (BatchNorm)");
}

// --- quantized -----------------------------------------------------------------------------------

TEST(ShrWriter, FixedPointLeNet5PerChannel) {
  ir::Graph g = test::make_test_lenet5();
  set_fixed_state(g, 8, 8, /*per_channel=*/true);
  Loaded l(write_shr(g));
  const Model& m = l.m;
  EXPECT_EQ(m.flags, shr::kFlagInteger);
  EXPECT_EQ(l.opcodes(), (std::vector<std::string>{"Quantize", "Conv2d", "MaxPool", "Conv2d", "MaxPool", "Flatten",
                                                   "Linear", "Linear", "Dequantize"}));
  EXPECT_EQ(m.tensors[m.inputs[0]].dtype, shr::DType::F32);
  const TensorDesc& q = l.tensor("input:q");
  EXPECT_EQ(q.dtype, shr::DType::I8);
  EXPECT_EQ(q.fl, 5);
  EXPECT_EQ(m.tensors[m.outputs[0]].dtype, shr::DType::F32);
  EXPECT_EQ(m.tensors[m.outputs[0]].name, "fc2:f32");

  const quant::ModelQuant mq = quant::read_model_quant(g);
  for (const char* layer : {"conv1", "conv2", "fc1", "fc2"}) {
    const ir::Node& n = g.at(layer);
    const quant::NodeQuant& nq = mq.nodes.at(layer);
    const TensorDesc& w = l.tensor(std::string(layer) + ".weight");
    const TensorDesc& b = l.tensor(std::string(layer) + ".bias");
    const ir::Tensor& wr = *n.tensor("weight");
    const int64_t oc = wr.shape[0], per = wr.numel() / oc;
    ASSERT_EQ(w.channel_fl_count, oc) << layer;
    EXPECT_EQ(w.dtype, shr::DType::I8);
    EXPECT_EQ(w.bits, 8);
    EXPECT_EQ(b.dtype, shr::DType::I32);
    const int fl_x = mq.format_of(n.inputs[0]).fl;
    for (int64_t c = 0; c < oc; ++c) {
      EXPECT_EQ(w.fl_of(c), nq.weight_fl_of(c));
      EXPECT_EQ(b.fl_of(c), fl_x + nq.weight_fl_of(c));
      EXPECT_EQ(b.value_at(c), fx::quantize(n.tensor("bias")->at(c), 32, fl_x + nq.weight_fl_of(c)));
      for (int64_t k = 0; k < per; ++k)
        ASSERT_EQ(w.value_at(c * per + k), fx::quantize(wr.at(c * per + k), 8, nq.weight_fl_of(c))) << layer << c << k;
    }
    EXPECT_TRUE(l.op(layer).acc32) << layer;  // 8-bit: far below 2^31
  }
  // Fused ReLU clamp in fc1's output domain; no clamp beyond the range on fc2.
  EXPECT_EQ(l.op("fc1").clamp_lo, 0);
  EXPECT_EQ(l.op("fc1").clamp_hi, 127);
  EXPECT_EQ(l.op("fc2").clamp_lo, -128);
  // Pass-through ops keep the format.
  EXPECT_EQ(l.tensor("pool2").fl, l.tensor("conv2").fl);
}

TEST(ShrWriter, SixteenBitLayersUseI16AndRelu6Clamp) {
  ir::Graph g;
  g.meta.name = "r6";
  g.meta.input_shape = {2, 5, 5};
  test::TestRng rng(5);
  g.add(test::test_conv("conv", ir::Graph::kInput, 2, 3, 3, rng, 1, 1));
  g.add(test::test_node("relu6", ir::Op::ReLU6, {"conv"}));
  g.outputs = {"relu6"};
  g.infer_shapes();
  set_fixed_state(g, 12, 12, /*per_channel=*/false, /*act_fl=*/8);
  Loaded l(write_shr(g));
  const TensorDesc& w = l.tensor("conv.weight");
  EXPECT_EQ(w.dtype, shr::DType::I16);
  EXPECT_EQ(w.bits, 12);
  EXPECT_EQ(w.channel_fl_count, 0);
  const TensorDesc& y = l.tensor("relu6");
  EXPECT_EQ(y.dtype, shr::DType::I16);
  const rt::OpDesc& conv = l.op("conv");
  EXPECT_EQ(conv.activation, shr::Activation::ReLU6);
  EXPECT_EQ(conv.clamp_lo, 0);
  EXPECT_EQ(conv.clamp_hi, 6 * 256);  // floor(6 * 2^8 + 0.5), within the 12-bit range
}

TEST(ShrWriter, CodebookLayersArePackedExactly) {
  ir::Graph g = test::make_test_lenet5();
  set_fixed_state(g, 8, 8, false);
  const quant::Codebook cb3 = set_kmeans(g, "fc1", 3, /*zero_reserved=*/true);
  const quant::Codebook cb5 = set_kmeans(g, "conv2", 5, false);
  Loaded l(write_shr(g));
  const TensorDesc& fc1 = l.tensor("fc1.weight");
  EXPECT_EQ(fc1.storage, shr::Storage::Codebook);
  EXPECT_EQ(fc1.index_bits, 3);
  EXPECT_EQ(fc1.centroid_count, 8u);
  EXPECT_TRUE(fc1.zero_reserved);
  EXPECT_EQ(fc1.fl, 6);
  EXPECT_EQ(fc1.stored_bytes, 8u + (500u * 800u * 3u + 7u) / 8u);
  for (int64_t i = 0; i < fc1.numel; ++i) {
    ASSERT_EQ(fc1.index_at(i), static_cast<uint32_t>(cb3.indices[static_cast<size_t>(i)])) << i;
    ASSERT_EQ(fc1.value_at(i), cb3.centroids_q[static_cast<size_t>(cb3.indices[static_cast<size_t>(i)])]) << i;
  }
  const TensorDesc& conv2 = l.tensor("conv2.weight");
  EXPECT_EQ(conv2.index_bits, 5);
  EXPECT_FALSE(conv2.zero_reserved);
  for (int64_t i = 0; i < conv2.numel; ++i) ASSERT_EQ(conv2.index_at(i), static_cast<uint32_t>(cb5.indices[static_cast<size_t>(i)]));
  // The bias of a codebook layer is at FL_x + the centroid FL.
  EXPECT_EQ(l.tensor("fc1.bias").fl, l.tensor("flatten").fl + 6);
}

/// Runs a .shr file through the C API on input x; returns output 0 (`n` floats).
std::vector<float> run_shr(const std::string& bytes, const std::vector<float>& x, size_t n) {
  std::vector<uint64_t> buf((bytes.size() + 7) / 8);
  std::memcpy(buf.data(), bytes.data(), bytes.size());
  shrink_rt_model* m = nullptr;
  char err[256] = "";
  EXPECT_EQ(shrink_rt_load(buf.data(), bytes.size(), &m, err, sizeof err), SHRINK_RT_OK) << err;
  if (!m) return {};
  std::vector<uint8_t> arena(shrink_rt_arena_size(m));
  std::vector<float> y(n);
  EXPECT_EQ(shrink_rt_set_input_f32(m, arena.data(), arena.size(), 0, x.data(), x.size()), SHRINK_RT_OK);
  EXPECT_EQ(shrink_rt_run(m, arena.data(), arena.size()), SHRINK_RT_OK);
  EXPECT_EQ(shrink_rt_get_output_f32(m, arena.data(), 0, y.data(), y.size()), SHRINK_RT_OK);
  shrink_rt_free(m);
  return y;
}

/// LeNet-5 with conv2 and fc1 pruned 92% (fc1 row 1 entirely, row 2 but for its first and last
/// columns: a gap of 799 > 255), then `bits`-bit k-means with the zero reserved; returns fc1's codebook.
quant::Codebook make_pruned_kmeans_lenet5(ir::Graph& g, int bits) {
  g = test::make_test_lenet5();
  set_fixed_state(g, 8, 8, false);
  auto pruned = [](int64_t cols) {
    return [cols](int64_t i) {
      const int64_t r = i / cols, c = i % cols;
      if (r == 1) return true;
      if (r == 2) return c != 0 && c != cols - 1;
      return (i * 7919) % 100 >= 8;
    };
  };
  const quant::Codebook fc1_cb = set_kmeans(g, "fc1", bits, true, pruned(800));
  const ir::Tensor& conv2_w = *g.at("conv2").tensor("weight");
  set_kmeans(g, "conv2", bits, true, pruned(conv2_w.numel() / conv2_w.shape[0]));
  return fc1_cb;
}

TEST(ShrWriter, PrunedKmeansLayersStoreCsrCodebookSmallerAndBitExact) {
  // Deep Compression without entropy coding: raw csr-codebook against the packed codebook.
  ir::Graph g;
  const quant::Codebook fc1_cb = make_pruned_kmeans_lenet5(g, 4);
  ShrOptions raw;
  raw.entropy = false;
  const std::string bytes = write_shr(g, raw);
  ShrOptions no_csr = raw;
  no_csr.allow_csr = false;
  const std::string packed = write_shr(g, no_csr);
  Loaded l(bytes), p(packed);
  for (const char* name : {"fc1.weight", "conv2.weight"}) {
    const TensorDesc &t = l.tensor(name), &c = p.tensor(name);
    ASSERT_EQ(t.storage, shr::Storage::CsrCodebook) << name;
    ASSERT_EQ(c.storage, shr::Storage::Codebook) << name;
    EXPECT_TRUE(t.zero_reserved);
    EXPECT_EQ(t.index_bits, 4);
    EXPECT_EQ(t.centroid_count, 16u);
    EXPECT_LT(t.stored_bytes * 2, c.stored_bytes) << name << ": at 92% sparsity less than half the packed codebook";
    for (int64_t i = 0; i < t.numel; ++i) ASSERT_EQ(t.value_at(i), c.value_at(i)) << name << " element " << i;
  }
  // fc1: 16 i8 centroids, nnz 4-bit indices, 501 u16 row pointers, nnz u8 gaps.
  const TensorDesc& fc1 = l.tensor("fc1.weight");
  uint32_t nonzero = 0;
  for (int32_t k : fc1_cb.indices) nonzero += k != 0;
  EXPECT_EQ(fc1.nnz, nonzero + 3u);  // row 2: 799 = 255 + 255 + 255 + 34, three padding entries
  EXPECT_EQ(fc1.row_ptr_type, shr::DType::U16);
  EXPECT_EQ(fc1.stored_bytes, 16u + (fc1.nnz * 4u + 7u) / 8u + 501u * 2u + fc1.nnz);
  EXPECT_LT(bytes.size(), packed.size());
  // The runtime computes the same integers from either storage (the packed codebook is checked
  // against `shrink infer` by tests/cli, CliShrinkRt.KmeansLeNet5IsBitExact).
  std::vector<float> x(28 * 28);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) / 50.0f - 0.5f;
  const std::vector<float> y = run_shr(bytes, x, 10), want = run_shr(packed, x, 10);
  ASSERT_EQ(y.size(), 10u);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(std::memcmp(&y[i], &want[i], 4), 0) << i << ": " << y[i] << " vs " << want[i];
}

TEST(ShrWriter, PrunedKmeansWithEntropyIsSmallerAndBitExact) {
  // The same model Huffman-coded (ShrOptions::entropy, the default) against raw: a smaller file,
  // encoding 1 on the pruned layers, the same weights after the load-time decoding and the same
  // outputs bit for bit; 4- and 5-bit codebooks.
  for (int bits : {4, 5}) {
    ir::Graph g;
    make_pruned_kmeans_lenet5(g, bits);
    ShrOptions raw;
    raw.entropy = false;
    const std::string coded = write_shr(g), plain = write_shr(g, raw);
    EXPECT_LT(coded.size(), plain.size()) << bits;
    Loaded h(coded), r(plain);
    for (const char* name : {"fc1.weight", "conv2.weight"}) {
      const TensorDesc &t = h.tensor(name), &c = r.tensor(name);
      EXPECT_EQ(t.encoding, shr::Encoding::Huffman) << name;
      EXPECT_EQ(c.encoding, shr::Encoding::Raw) << name;
      EXPECT_LT(t.stored_bytes, c.stored_bytes) << name;
      EXPECT_GT(t.decoded_bytes, 0u) << name;
      for (int64_t i = 0; i < t.numel; ++i) ASSERT_EQ(t.value_at(i), c.value_at(i)) << name << " element " << i;
    }
    std::vector<float> x(28 * 28);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 53) % 97) / 40.0f - 0.7f;
    const std::vector<float> y = run_shr(coded, x, 10), want = run_shr(plain, x, 10);
    ASSERT_EQ(y.size(), 10u);
    for (size_t i = 0; i < y.size(); ++i)
      EXPECT_EQ(std::memcmp(&y[i], &want[i], 4), 0) << bits << " bits, output " << i;
  }
}

TEST(ShrWriter, SparseWeightsChooseCsrWhenSmaller) {
  ir::Graph g = test::make_test_lenet5();
  // fc1: 90% zeros; conv2: 10% zeros (CSR would be larger); fc2: dense.
  ir::Tensor& fc1 = *g.at("fc1").tensor("weight");
  for (int64_t i = 0; i < fc1.numel(); ++i)
    if (i % 10 != 3) fc1.at(i) = 0.0f;
  ir::Tensor& conv2 = *g.at("conv2").tensor("weight");
  for (int64_t i = 0; i < conv2.numel(); i += 10) conv2.at(i) = 0.0f;
  for (bool quantized : {false, true}) {
    ir::Graph q = g;
    if (quantized) set_fixed_state(q, 8, 8, true);
    Loaded l(write_shr(q));
    const TensorDesc& t = l.tensor("fc1.weight");
    ASSERT_EQ(t.storage, shr::Storage::Csr) << quantized;
    EXPECT_EQ(t.rows, 500);
    EXPECT_EQ(t.cols, 800);
    uint32_t nnz = 0;  // quantized: weights that round to 0 are not stored either
    for (int64_t i = 0; i < fc1.numel(); ++i) {
      const double want = quantized ? static_cast<double>(fx::quantize(fc1.at(i), 8, t.fl_of(i / 800)))
                                    : static_cast<double>(fc1.at(i));
      ASSERT_EQ(t.value_at(i), want) << i;
      nnz += want != 0;
    }
    EXPECT_EQ(t.nnz, nnz);
    EXPECT_GT(nnz, 39000u);
    EXPECT_LE(nnz, 40000u);
    EXPECT_EQ(t.row_ptr_type, shr::DType::U16);  // nnz < 65536
    EXPECT_EQ(t.col_type, shr::DType::U16);      // 800 columns
    const uint64_t elem = quantized ? 1 : 4;
    EXPECT_EQ(t.stored_bytes, nnz * (elem + 2) + 501 * 2 + (quantized ? 500u : 0u));  // + per-channel FLs
    EXPECT_EQ(l.tensor("conv2.weight").storage, shr::Storage::Dense) << quantized;
    EXPECT_EQ(l.tensor("fc2.weight").storage, shr::Storage::Dense) << quantized;
  }
  ShrOptions no_csr;
  no_csr.allow_csr = false;
  Loaded dense(write_shr(g, no_csr));
  EXPECT_EQ(dense.tensor("fc1.weight").storage, shr::Storage::Dense);
}

TEST(ShrWriter, LookupTablesForIntegerNonlinearOps) {
  ir::Graph g = small_linear_graph("luts", 9);
  g.add(test::test_node("sig", ir::Op::Sigmoid, {"fc"}));
  g.add(test::test_node("tanh", ir::Op::Tanh, {"sig"}));
  ir::Node lr = test::test_node("leaky", ir::Op::LeakyReLU, {"tanh"});
  lr.alpha = 0.1f;
  g.add(lr);
  g.add(test::test_node("softmax", ir::Op::Softmax, {"leaky"}));
  g.outputs = {"softmax"};
  g.infer_shapes();
  set_fixed_state(g, 8, 8, false, /*act_fl=*/6);
  g.at("tanh").state["quant"]["output"] = {{"bits", 10}, {"fl", 8}};  // a 10-bit table output: i16
  Loaded l(write_shr(g));
  EXPECT_EQ(l.opcodes(), (std::vector<std::string>{"Quantize", "Linear", "Sigmoid", "Tanh", "LeakyReLU", "Dequantize",
                                                   "Softmax"}));
  const quant::ModelQuant mq = quant::read_model_quant(g);
  for (const char* name : {"sig", "tanh", "leaky"}) {
    const rt::OpDesc& o = l.op(name);
    ASSERT_NE(o.lut, shr::kNoTensor) << name;
    const TensorDesc& t = l.m.tensors[o.lut];
    const ir::Node& n = g.at(name);
    const quant::Lut ref = quant::build_lut(n, mq.format_of(n.inputs[0]), mq.format_of(name));
    ASSERT_EQ(t.numel, static_cast<int64_t>(ref.table.size())) << name;
    EXPECT_EQ(t.bits, mq.format_of(name).bits);
    for (int64_t i = 0; i < t.numel; ++i) ASSERT_EQ(t.value_at(i), ref.table[static_cast<size_t>(i)]) << name << i;
  }
  EXPECT_EQ(l.tensor("tanh.lut").dtype, shr::DType::I16);
  EXPECT_EQ(l.tensor("leaky.lut").numel, 1024);  // input: 10-bit tanh
  EXPECT_EQ(l.m.tensors[l.m.outputs[0]].name, "softmax");
}

TEST(ShrWriter, InconsistentQuantStateIsBadInput) {
  ir::Graph g = test::make_test_lenet5();
  set_fixed_state(g, 8, 8, false);
  g.at("pool1").state["quant"]["output"] = {{"bits", 8}, {"fl", 2}};  // a MaxPool cannot change the format
  expect_bad_input(g, "node 'pool1' (MaxPool)");
  // An integer node reading the float output of a Softmax.
  ir::Graph f = test::make_test_lenet5();
  f.add(test::test_node("softmax", ir::Op::Softmax, {"fc2"}));
  test::TestRng rng(1);
  f.add(test::test_linear("fc3", "softmax", 10, 4, rng));
  f.outputs = {"fc3"};
  f.infer_shapes();
  set_fixed_state(f, 8, 8, false);
  expect_bad_input(f, "node 'fc3' (Linear) is integer but its input 'softmax' is float");
}

TEST(ShrWriter, ExportModelWritesALoadableFile) {
  ir::Graph g = test::make_test_lenet5();
  set_fixed_state(g, 8, 8, true);
  const std::string path = ::testing::TempDir() + "shr_writer_test_lenet5.shr";
  export_model(g, "shr", path);
  shrink_rt_model* m = nullptr;
  char err[256];
  ASSERT_EQ(shrink_rt_load_file(path.c_str(), &m, err, sizeof err), SHRINK_RT_OK) << err;
  EXPECT_EQ(shrink_rt_op_count(m), 9);
  EXPECT_EQ(shrink_rt_model_size(m), ir::read_file(path).size());
  shrink_rt_free(m);
  std::remove(path.c_str());
}

TEST(ShrWriter, EveryTruncationOfAWrittenFileIsRefused) {
  const std::string bytes = write_shr(test::make_test_resblock());
  ASSERT_LT(bytes.size(), 40000u);
  std::vector<uint64_t> buf((bytes.size() + 7) / 8);
  std::memcpy(buf.data(), bytes.data(), bytes.size());
  for (size_t n = 0; n < bytes.size(); ++n) {
    Model m;
    rt::Status s = rt::load_model(buf.data(), n, m);
    ASSERT_FALSE(s.ok()) << "cut to " << n << " bytes";
  }
  Model m;
  EXPECT_TRUE(rt::load_model(buf.data(), bytes.size(), m).ok());
}

}  // namespace
}  // namespace shrink::exporter
