// The Exact simulation against independent integer implementations written here (int64
// accumulation + fx::requantize), bit for bit; the Train simulation's straight-through gradients.
#include "quantize/simulate.h"

#include <cmath>

#include <gtest/gtest.h>

#include "compress/executor.h"
#include "runtime/include/shrink_fixed_point.h"
#include "tests/ir/test_graphs.h"

namespace shrink::quant {
namespace {

using test::TestRng;

nlohmann::json fmt(int bits, int fl) { return {{"bits", bits}, {"fl", fl}}; }

std::vector<int64_t> ints(const torch::Tensor& x, int fl) {
  torch::Tensor q = to_integers(x, fl);
  return std::vector<int64_t>(q.data_ptr<int64_t>(), q.data_ptr<int64_t>() + q.numel());
}

// input {4, 7, 6} -> conv (6 out, 3x3, stride 2, pads 1 (top/left) 2 (bottom/right), groups 2,
// per-channel weight FLs) -> flatten -> linear (5 out).
struct ConvLinear {
  ir::Graph g;
  std::vector<int> conv_fl{6, 7, 5, 6, 9, 8};
  int fl_x = 5, fl_c = 3, fl_l = 4, fl_lw = 7;
  int bits_c = 8, bits_l = 8, bits_w = 8, bits_x = 8;

  ConvLinear() {
    TestRng rng(7);
    g.meta.name = "convlin";
    g.meta.input_shape = {4, 7, 6};
    ir::Node c = test::test_conv("conv", ir::Graph::kInput, 4, 6, 3, rng, 2, 1, 2);
    c.pads = {1, 1, 2, 2};
    test::fill_uniform(c.tensors["weight"], rng, -1.2f, 1.2f);  // some saturate at FL 7 / 9
    test::fill_uniform(c.tensors["bias"], rng, -1.f, 1.f);
    g.add(c);
    g.add(test::test_node("flat", ir::Op::Flatten, {"conv"}));
    g.outputs = {"flat"};
    g.infer_shapes();
    const int64_t feat = ir::numel(g.shape_of("flat"));
    ir::Node l = test::test_linear("fc", "flat", feat, 5, rng);
    test::fill_uniform(l.tensors["weight"], rng, -0.5f, 0.5f);
    g.add(l);
    g.outputs = {"fc"};
    g.infer_shapes();
    g.state["quant"] = {{"input", fmt(bits_x, fl_x)}};
    g.find("conv")->state["quant"] = {{"scheme", "fixed"}, {"output", fmt(bits_c, fl_c)},
                                      {"weight", {{"bits", bits_w}, {"fl", conv_fl}}}};
    g.find("flat")->state["quant"] = {{"scheme", "fixed"}, {"output", fmt(bits_c, fl_c)}};
    g.find("fc")->state["quant"] = {{"scheme", "fixed"}, {"output", fmt(bits_l, fl_l)},
                                    {"weight", {{"bits", bits_w}, {"fl", std::vector<int>{fl_lw}}}}};
  }
};

TEST(SimulateTest, ConvAndLinearMatchIntegerReferenceBitForBit) {
  ConvLinear m;
  const ir::Graph& g = m.g;
  const int64_t N = 3, C = 4, H = 7, W = 6, OC = 6, K = 3, S = 2, G = 2;
  TestRng rng(11);
  ir::Tensor xin = test::random_tensor({N, C, H, W}, rng, -6.f, 6.f);  // saturates at FL 5 (|x| > 3.98)
  torch::Tensor x = to_torch(xin);

  // Reference: integers only.
  std::vector<int64_t> qx(xin.data.size());
  for (size_t i = 0; i < qx.size(); ++i) qx[i] = fx::quantize(static_cast<double>(xin.data[i]), m.bits_x, m.fl_x);
  const ir::Node& conv = *g.find("conv");
  const ir::Tensor& w = *conv.tensor("weight");
  const ir::Tensor& b = *conv.tensor("bias");
  const int64_t OH = (H + 1 + 2 - K) / S + 1, OW = (W + 1 + 2 - K) / S + 1, CG = C / G, OG = OC / G;
  std::vector<int64_t> yc(static_cast<size_t>(N * OC * OH * OW));
  int saturated = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < OC; ++oc) {
      const int flw = m.conv_fl[static_cast<size_t>(oc)];
      const int64_t qb = fx::quantize(b.data[static_cast<size_t>(oc)], 32, m.fl_x + flw);
      const int64_t grp = oc / OG;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t acc = qb;
          for (int64_t ic = 0; ic < CG; ++ic)
            for (int64_t kh = 0; kh < K; ++kh)
              for (int64_t kw = 0; kw < K; ++kw) {
                const int64_t ih = oh * S - 1 + kh, iw = ow * S - 1 + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t qw = fx::quantize(w.data[static_cast<size_t>(((oc * CG + ic) * K + kh) * K + kw)], m.bits_w, flw);
                acc += qw * qx[static_cast<size_t>(((n * C + grp * CG + ic) * H + ih) * W + iw)];
              }
          const int64_t y = fx::requantize(acc, m.fl_x + flw - m.fl_c, m.bits_c);
          saturated += (y == fx::qmax(m.bits_c) || y == fx::qmin(m.bits_c));
          yc[static_cast<size_t>(((n * OC + oc) * OH + oh) * OW + ow)] = y;
        }
    }
  EXPECT_GT(saturated, 0) << "the test should exercise saturation";
  const ir::Node& fc = *g.find("fc");
  const int64_t F = OC * OH * OW;
  std::vector<int64_t> yl;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < 5; ++o) {
      int64_t acc = fx::quantize(fc.tensor("bias")->data[static_cast<size_t>(o)], 32, m.fl_c + m.fl_lw);
      for (int64_t f = 0; f < F; ++f)
        acc += fx::quantize(fc.tensor("weight")->data[static_cast<size_t>(o * F + f)], m.bits_w, m.fl_lw) *
               yc[static_cast<size_t>(n * F + f)];
      yl.push_back(fx::requantize(acc, m.fl_c + m.fl_lw - m.fl_l, m.bits_l));
    }
  int lin_sat = 0;
  for (int64_t v : yl) lin_sat += (v == fx::qmax(m.bits_l) || v == fx::qmin(m.bits_l));
  EXPECT_GT(lin_sat, 0);
  std::printf("conv outputs saturated: %d of %zu; linear: %d of %zu\n", saturated, yc.size(), lin_sat, yl.size());

  Executor ex(g);
  ex.set_training(false);
  Simulation sim(ex, SimMode::Exact);
  torch::NoGradGuard ng;
  auto out = ex.forward_with(x, {"conv"});
  EXPECT_EQ(out.at("conv").scalar_type(), torch::kFloat64);
  EXPECT_EQ(ints(out.at("conv"), m.fl_c), yc);
  EXPECT_EQ(out.at("output").scalar_type(), torch::kFloat32);  // the last integer tensor, dequantized
  EXPECT_EQ(ints(out.at("output"), m.fl_l), yl);
  // Every output value is exactly q * 2^-FL.
  torch::Tensor o = out.at("output").to(torch::kFloat64);
  EXPECT_TRUE(torch::equal(o, torch::round(o * std::ldexp(1.0, m.fl_l)) / std::ldexp(1.0, m.fl_l)));
}

TEST(SimulateTest, HooksRemovedWithTheSimulation) {
  ConvLinear m;
  Executor ex(m.g);
  ex.set_training(false);
  torch::Tensor x = torch::rand({2, 4, 7, 6});
  torch::NoGradGuard ng;
  torch::Tensor fp = ex.forward(x);
  { Simulation sim(ex, SimMode::Exact); EXPECT_FALSE(torch::equal(ex.forward(x), fp)); }
  EXPECT_TRUE(torch::equal(ex.forward(x), fp));
}

// input {2, 4, 4} at FL 4: p = AvgPool 1x1 (requantize to FL 2), add = input + p (6 bits FL 3),
// cat = [input, p] (FL 3), avg = AvgPool 3x3 stride 2 pads 1 (FL 3, both count_include_pad),
// gap = GlobalAvgPool (FL 5).
ir::Graph pool_graph(bool include_pad) {
  ir::Graph g;
  g.meta.name = "pools";
  g.meta.input_shape = {2, 4, 4};
  ir::Node p = test::test_node("p", ir::Op::AvgPool, {ir::Graph::kInput});
  p.kernel = {1, 1};
  g.add(p);
  g.add(test::test_node("add", ir::Op::Add, {ir::Graph::kInput, "p"}));
  ir::Node c = test::test_node("cat", ir::Op::Concat, {ir::Graph::kInput, "p"});
  c.axis = 1;
  g.add(c);
  ir::Node a = test::test_node("avg", ir::Op::AvgPool, {ir::Graph::kInput});
  a.kernel = {3, 3};
  a.stride = {2, 2};
  a.pads = {1, 1, 1, 1};
  a.count_include_pad = include_pad;
  g.add(a);
  g.add(test::test_node("gap", ir::Op::GlobalAvgPool, {ir::Graph::kInput}));
  g.outputs = {"cat"};
  g.infer_shapes();
  g.state["quant"] = {{"input", fmt(8, 4)}};
  g.find("p")->state["quant"] = {{"output", fmt(8, 2)}};
  g.find("add")->state["quant"] = {{"output", fmt(6, 3)}};
  g.find("cat")->state["quant"] = {{"output", fmt(8, 3)}};
  g.find("avg")->state["quant"] = {{"output", fmt(8, 3)}};
  g.find("gap")->state["quant"] = {{"output", fmt(8, 5)}};
  return g;
}

TEST(SimulateTest, AddConcatAvgPoolIntegerRules) {
  for (bool include_pad : {false, true}) {
    ir::Graph g = pool_graph(include_pad);
    TestRng rng(3);
    ir::Tensor xin = test::random_tensor({1, 2, 4, 4}, rng, -7.f, 7.f);
    xin.data[0] = 0.5f / 16 * 3;   // q = floor(1.5 + 0.5) = 2: a rounding tie at FL 4
    xin.data[1] = -0.5f / 16 * 3;  // -1.5 -> -1
    std::vector<int64_t> q;
    for (float v : xin.data) q.push_back(fx::quantize(v, 8, 4));
    EXPECT_EQ(q[0], 2);
    EXPECT_EQ(q[1], -1);

    Executor ex(g);
    ex.set_training(false);
    Simulation sim(ex, SimMode::Exact);
    torch::NoGradGuard ng;
    auto out = ex.forward_with(to_torch(xin), {"p", "add", "cat", "avg", "gap"});

    std::vector<int64_t> p, add;
    for (int64_t v : q) {
      const int64_t pv = (v >= 0 ? v + 2 : v + 2 - 3) / 4;  // floor((v + 2) / 4), written out
      p.push_back(pv);
      add.push_back(std::clamp<int64_t>((v >= 0 ? v + 1 : v + 1 - 1) / 2 + pv * 2, -32, 31));
    }
    EXPECT_EQ(ints(out.at("p"), 2), p);
    EXPECT_EQ(ints(out.at("add"), 3), add);
    std::vector<int64_t> cat;
    for (int64_t v : q) cat.push_back(fx::requantize(v, 1, 8));
    for (int64_t v : p) cat.push_back(fx::requantize(v, -1, 8));
    // Concat along channels of a single sample: [input channels, p channels].
    EXPECT_EQ(ints(out.at("cat"), 3), cat);

    // 3x3 stride 2 pad 1 on 4x4: windows start at -1 and 1; n counts real cells (or padded ones).
    std::vector<int64_t> avg;
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t oh = 0; oh < 2; ++oh)
        for (int64_t ow = 0; ow < 2; ++ow) {
          int64_t sum = 0, n = 0;
          for (int64_t ih = oh * 2 - 1; ih < oh * 2 + 2; ++ih)
            for (int64_t iw = ow * 2 - 1; iw < ow * 2 + 2; ++iw) {
              const bool inside = ih >= 0 && ih < 4 && iw >= 0 && iw < 4;
              const bool in_padded = ih >= -1 && ih < 5 && iw >= -1 && iw < 5;
              if (inside) sum += q[static_cast<size_t>((c * 4 + ih) * 4 + iw)];
              n += include_pad ? in_padded : inside;
            }
          const int64_t num = 2 * sum + n, den = 2 * n;  // floor((2 sum + n) / 2n)
          const int64_t a = num >= 0 ? num / den : -((-num + den - 1) / den);
          avg.push_back(fx::requantize(a, 1, 8));
        }
    EXPECT_EQ(ints(out.at("avg"), 3), avg) << "count_include_pad " << include_pad;
    std::vector<int64_t> gap;
    for (int64_t c = 0; c < 2; ++c) {
      int64_t sum = 0;
      for (int64_t i = 0; i < 16; ++i) sum += q[static_cast<size_t>(c * 16 + i)];
      gap.push_back(fx::requantize(fx::average(sum, 16), 4 - 5, 8));
    }
    EXPECT_EQ(ints(out.at("gap"), 5), gap);
  }
}

TEST(SimulateTest, LookupTableOps) {
  for (ir::Op op : {ir::Op::Sigmoid, ir::Op::Tanh, ir::Op::LeakyReLU}) {
    ir::Graph g;
    g.meta.name = "lut";
    g.meta.input_shape = {1, 5, 5};
    ir::Node n = test::test_node("f", op, {ir::Graph::kInput});
    n.alpha = 0.1f;
    g.add(n);
    g.outputs = {"f"};
    g.infer_shapes();
    g.state["quant"] = {{"input", fmt(6, 3)}};
    g.find("f")->state["quant"] = {{"output", fmt(8, 6)}};
    Lut t = build_lut(*g.find("f"), {6, 3}, {8, 6});
    ASSERT_EQ(t.table.size(), 64u);
    auto f = [&](double v) {
      if (op == ir::Op::Sigmoid) return 1.0 / (1.0 + std::exp(-v));
      if (op == ir::Op::Tanh) return std::tanh(v);
      return v >= 0 ? v : static_cast<double>(0.1f) * v;
    };
    for (int64_t q = -32; q < 32; ++q) EXPECT_EQ(t.lookup(q), fx::quantize(f(q / 8.0), 8, 6)) << q;
    EXPECT_EQ(t.lookup(-32), op == ir::Op::Tanh ? -64 : (op == ir::Op::Sigmoid ? fx::quantize(f(-4), 8, 6) : fx::quantize(-0.4, 8, 6)));

    Executor ex(g);
    ex.set_training(false);
    Simulation sim(ex, SimMode::Exact);
    TestRng rng(5);
    ir::Tensor xin = test::random_tensor({1, 1, 5, 5}, rng, -5.f, 5.f);
    torch::NoGradGuard ng;
    std::vector<int64_t> got = ints(ex.forward(to_torch(xin)), 6), want;
    for (float v : xin.data) want.push_back(t.lookup(fx::quantize(v, 6, 3)));
    EXPECT_EQ(got, want) << ir::op_name(op);
  }
}

TEST(SimulateTest, TrainModeStraightThroughGradients) {
  ConvLinear m;
  Executor ex(m.g);
  ex.set_training(true);
  Simulation sim(ex, SimMode::Train);
  torch::Tensor x = torch::rand({2, 4, 7, 6});
  torch::Tensor y = ex.forward(x);
  EXPECT_EQ(y.scalar_type(), torch::kFloat32);
  // Forward values are on the output grid; gradients reach the fp32 weights.
  EXPECT_TRUE(torch::equal(y, torch::round(y * 16) / 16));  // FL 4
  y.sum().backward();
  torch::Tensor gw = ex.tensor("conv", "weight").grad();
  ASSERT_TRUE(gw.defined());
  EXPECT_GT(gw.abs().sum().item<double>(), 0);
}

}  // namespace
}  // namespace shrink::quant
