// Executor: every op against a direct LibTorch computation or a naive loop reference,
// normalisation, hooks, gradients, BatchNorm statistics and the round trip to the IR.
#include "compress/executor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "compress/ir/error.h"

// Designated initializers that leave the other fields at their defaults ({.input = hook}) are
// the intended style here.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace shrink {
namespace {

namespace F = torch::nn::functional;

constexpr double kTol = 1e-5;  // float ops computed in a different but equivalent way

// A graph of one node fed by the network input; tensors drawn from torch's seeded generator.
class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(7); }

  static ir::Graph single(const ir::Shape& input, ir::Node n) {
    ir::Graph g;
    g.meta.input_shape = input;
    n.name = n.name.empty() ? "n" : n.name;
    if (n.inputs.empty()) n.inputs = {ir::Graph::kInput};
    std::string name = n.name;
    g.add(std::move(n));
    g.outputs = {name};
    return g;
  }

  static ir::Node conv(int64_t cin, int64_t cout, int64_t k, int64_t groups = 1) {
    ir::Node n;
    n.op = ir::Op::Conv2d;
    n.in_channels = cin;
    n.out_channels = cout;
    n.groups = groups;
    n.kernel = {k, k};
    n.tensors["weight"] = from_torch(torch::randn({cout, cin / groups, k, k}));
    n.tensors["bias"] = from_torch(torch::randn({cout}));
    return n;
  }

  static ir::Node pool(ir::Op op, int64_t k, int64_t s, std::array<int64_t, 4> pads, bool ceil,
                       bool include_pad = false) {
    ir::Node n;
    n.op = op;
    n.kernel = {k, k};
    n.stride = {s, s};
    n.pads = pads;
    n.ceil_mode = ceil;
    n.count_include_pad = include_pad;
    return n;
  }

  static torch::Tensor run(ir::Graph g, const torch::Tensor& x) {
    Executor ex(std::move(g));
    return ex.forward(x);
  }
};

// Naive pooling over {N, C, H, W}: windows start at o * s - pad_top; the padded input spans
// [-top, H + bottom); ceil_mode drops a last window that starts in the bottom / right padding.
torch::Tensor pool_reference(const torch::Tensor& x, bool is_max, int64_t k, int64_t s,
                             std::array<int64_t, 4> p, bool ceil, bool include_pad) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto out_size = [&](int64_t in, int64_t lo, int64_t hi) {
    int64_t span = in + lo + hi - k;
    int64_t o = (ceil ? (span + s - 1) / s : span / s) + 1;
    if (ceil && (o - 1) * s >= in + lo) --o;
    return o;
  };
  const int64_t OH = out_size(H, p[0], p[2]), OW = out_size(W, p[1], p[3]);
  torch::Tensor y = torch::zeros({N, C, OH, OW});
  auto xa = x.accessor<float, 4>();
  auto ya = y.accessor<float, 4>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
          int64_t count = 0;
          for (int64_t i = oh * s - p[0]; i < oh * s - p[0] + k; ++i)
            for (int64_t j = ow * s - p[1]; j < ow * s - p[1] + k; ++j) {
              bool in_padded = i >= -p[0] && i < H + p[2] && j >= -p[1] && j < W + p[3];
              bool real = i >= 0 && i < H && j >= 0 && j < W;
              if (real) acc = is_max ? std::max<double>(acc, xa[n][c][i][j]) : acc + xa[n][c][i][j];
              if (include_pad ? in_padded : real) ++count;
            }
          ya[n][c][oh][ow] = static_cast<float>(is_max ? acc : acc / static_cast<double>(count));
        }
  return y;
}

TEST_F(ExecutorTest, ConvMatchesTorch) {
  ir::Node n = conv(4, 6, 3);
  n.stride = {2, 1};
  n.pads = {1, 1, 1, 1};
  torch::Tensor w = to_torch(n.tensors["weight"]), b = to_torch(n.tensors["bias"]);
  torch::Tensor x = torch::randn({2, 4, 9, 8});
  torch::Tensor y = run(single({4, 9, 8}, n), x);
  EXPECT_TRUE(torch::allclose(y, at::conv2d(x, w, b, {2, 1}, {1, 1}), kTol, kTol));
}

TEST_F(ExecutorTest, GroupedDepthwiseDilatedConvMatchesTorch) {
  torch::Tensor x = torch::randn({2, 6, 10, 10});
  ir::Node g = conv(6, 9, 3, /*groups=*/3);
  g.dilation = {2, 2};
  g.pads = {2, 2, 2, 2};
  EXPECT_TRUE(torch::allclose(run(single({6, 10, 10}, g), x),
                              at::conv2d(x, to_torch(g.tensors["weight"]), to_torch(g.tensors["bias"]),
                                         {1, 1}, {2, 2}, {2, 2}, 3),
                              kTol, kTol));
  ir::Node dw = conv(6, 6, 3, /*groups=*/6);
  dw.has_bias = false;
  dw.tensors.erase("bias");
  dw.pads = {1, 1, 1, 1};
  EXPECT_TRUE(torch::allclose(run(single({6, 10, 10}, dw), x),
                              at::conv2d(x, to_torch(dw.tensors["weight"]), {}, {1, 1}, {1, 1}, {1, 1}, 6),
                              kTol, kTol));
}

TEST_F(ExecutorTest, AsymmetricConvPadsEqualACroppedSymmetricConv) {
  // pads top 1, left 0, bottom 2, right 1 at stride 1 = symmetric pads (2, 1) without the
  // first output row and column.
  ir::Node n = conv(3, 5, 3);
  n.pads = {1, 0, 2, 1};
  torch::Tensor x = torch::randn({2, 3, 7, 6});
  torch::Tensor y = run(single({3, 7, 6}, n), x);
  torch::Tensor ref = at::conv2d(x, to_torch(n.tensors["weight"]), to_torch(n.tensors["bias"]), {1, 1},
                                 {2, 1});
  ref = ref.slice(2, 1).slice(3, 1);
  ASSERT_EQ(y.sizes(), ref.sizes());
  EXPECT_TRUE(torch::allclose(y, ref, kTol, kTol));
}

TEST_F(ExecutorTest, PoolsMatchNaiveReference) {
  torch::Tensor x = torch::randn({2, 3, 7, 8});
  struct Case { int64_t k, s; std::array<int64_t, 4> pads; bool ceil, include; };
  const Case cases[] = {
      {2, 2, {0, 0, 0, 0}, false, false}, {2, 2, {0, 0, 0, 0}, true, false},
      {3, 2, {1, 1, 1, 1}, true, false},  {3, 2, {1, 1, 1, 1}, true, true},
      {3, 2, {1, 1, 1, 1}, false, true},  {3, 2, {0, 1, 2, 0}, false, false},
      {3, 2, {0, 1, 2, 0}, true, true},   {3, 3, {1, 0, 2, 2}, true, false},
  };
  for (const Case& c : cases) {
    for (bool is_max : {true, false}) {
      SCOPED_TRACE(::testing::Message() << (is_max ? "max" : "avg") << " k" << c.k << " s" << c.s
                                        << " pads " << c.pads[0] << c.pads[1] << c.pads[2] << c.pads[3]
                                        << " ceil " << c.ceil << " include " << c.include);
      ir::Node n = pool(is_max ? ir::Op::MaxPool : ir::Op::AvgPool, c.k, c.s, c.pads, c.ceil, c.include);
      torch::Tensor y = run(single({3, 7, 8}, n), x);
      torch::Tensor ref = pool_reference(x, is_max, c.k, c.s, c.pads, c.ceil, c.include);
      ASSERT_EQ(y.sizes(), ref.sizes());
      EXPECT_TRUE(torch::allclose(y, ref, kTol, kTol));
    }
  }
}

TEST_F(ExecutorTest, ElementwiseAndShapeOpsMatchTorch) {
  torch::Tensor x = torch::randn({3, 4, 5, 5}) * 5;
  auto op = [](ir::Op o) {
    ir::Node n;
    n.op = o;
    return n;
  };
  ir::Shape in{4, 5, 5};
  EXPECT_TRUE(torch::equal(run(single(in, op(ir::Op::ReLU)), x), x.clamp_min(0)));
  EXPECT_TRUE(torch::equal(run(single(in, op(ir::Op::ReLU6)), x), x.clamp(0, 6)));
  ir::Node leaky = op(ir::Op::LeakyReLU);
  leaky.alpha = 0.2f;
  EXPECT_TRUE(torch::allclose(run(single(in, leaky), x), torch::where(x > 0, x, x * 0.2f), kTol, kTol));
  EXPECT_TRUE(torch::allclose(run(single(in, op(ir::Op::Sigmoid)), x), 1 / (1 + torch::exp(-x)), kTol, kTol));
  EXPECT_TRUE(torch::allclose(run(single(in, op(ir::Op::Tanh)), x), torch::tanh(x), kTol, kTol));
  EXPECT_TRUE(torch::equal(run(single(in, op(ir::Op::Identity)), x), x));
  torch::Tensor gap = run(single(in, op(ir::Op::GlobalAvgPool)), x);
  ASSERT_EQ(gap.sizes(), (std::vector<int64_t>{3, 4, 1, 1}));
  EXPECT_NEAR(gap[1][2][0][0].item<float>(), x[1][2].sum().item<float>() / 25, kTol * 10);
  torch::Tensor flat = run(single(in, op(ir::Op::Flatten)), x);
  EXPECT_TRUE(torch::equal(flat, x.reshape({3, 100})));
  ir::Node reshape = op(ir::Op::Reshape);
  reshape.target_shape = {20, -1};
  EXPECT_TRUE(torch::equal(run(single(in, reshape), x), x.reshape({3, 20, 5})));
  ir::Node softmax = op(ir::Op::Softmax);
  softmax.axis = 1;
  torch::Tensor sm = run(single(in, softmax), x);
  EXPECT_TRUE(torch::allclose(sm, torch::exp(x) / torch::exp(x).sum(1, true), kTol, kTol));
}

TEST_F(ExecutorTest, LinearBatchNormAddConcat) {
  ir::Graph g;
  g.meta.input_shape = {4, 3, 3};
  ir::Node bn;
  bn.name = "bn";
  bn.op = ir::Op::BatchNorm;
  bn.inputs = {ir::Graph::kInput};
  bn.eps = 1e-3f;
  torch::Tensor gamma = torch::rand({4}) + 0.5, beta = torch::randn({4}), mean = torch::randn({4}),
                var = torch::rand({4}) + 0.1;
  bn.tensors = {{"weight", from_torch(gamma)}, {"bias", from_torch(beta)},
                {"running_mean", from_torch(mean)}, {"running_var", from_torch(var)}};
  g.add(bn);
  ir::Node add;
  add.name = "add";
  add.op = ir::Op::Add;
  add.inputs = {"bn", ir::Graph::kInput};
  g.add(add);
  ir::Node cat;
  cat.name = "cat";
  cat.op = ir::Op::Concat;
  cat.axis = 1;
  cat.inputs = {"add", "bn", ir::Graph::kInput};
  g.add(cat);
  ir::Node flat;
  flat.name = "flat";
  flat.op = ir::Op::Flatten;
  flat.inputs = {"cat"};
  g.add(flat);
  ir::Node fc;
  fc.name = "fc";
  fc.op = ir::Op::Linear;
  fc.inputs = {"flat"};
  fc.in_channels = 108;
  fc.out_channels = 7;
  torch::Tensor w = torch::randn({7, 108}), b = torch::randn({7});
  fc.tensors = {{"weight", from_torch(w)}, {"bias", from_torch(b)}};
  g.add(fc);
  g.outputs = {"fc"};

  torch::Tensor x = torch::randn({2, 4, 3, 3});
  Executor ex(g);
  auto outs = ex.forward_with(x, {"bn", "cat"});
  auto v = [](const torch::Tensor& t) { return t.reshape({1, 4, 1, 1}); };
  torch::Tensor bn_ref = v(gamma) * (x - v(mean)) / torch::sqrt(v(var) + 1e-3) + v(beta);
  EXPECT_TRUE(torch::allclose(outs.at("bn"), bn_ref, kTol, kTol));
  torch::Tensor cat_ref = torch::cat({bn_ref + x, bn_ref, x}, 1);
  EXPECT_TRUE(torch::allclose(outs.at("cat"), cat_ref, kTol, kTol));
  EXPECT_TRUE(torch::allclose(outs.at("output"), cat_ref.reshape({2, 108}).matmul(w.t()) + b, 1e-4, 1e-4));
}

TEST_F(ExecutorTest, NormalisesInputPerChannel) {
  ir::Node id;
  id.op = ir::Op::Identity;
  ir::Graph g = single({3, 2, 2}, id);
  g.meta.mean = {0.5f, -1.0f, 2.0f};
  g.meta.std = {2.0f, 0.5f, 4.0f};
  torch::Tensor x = torch::rand({2, 3, 2, 2});
  torch::Tensor m = torch::tensor({0.5f, -1.0f, 2.0f}).reshape({1, 3, 1, 1});
  torch::Tensor s = torch::tensor({2.0f, 0.5f, 4.0f}).reshape({1, 3, 1, 1});
  EXPECT_TRUE(torch::allclose(run(g, x), (x - m) / s, kTol, kTol));

  // The input hook sees the normalised input.
  Executor ex(g);
  torch::Tensor seen;
  ex.add_hook({.input = [&](const torch::Tensor& t) { seen = t; return t * 0; }});
  EXPECT_TRUE(torch::equal(ex.forward(x), torch::zeros_like(x)));
  EXPECT_TRUE(torch::allclose(seen, (x - m) / s, kTol, kTol));
}

TEST_F(ExecutorTest, RejectsWrongInputShape) {
  ir::Node id;
  id.op = ir::Op::Identity;
  Executor ex(single({3, 2, 2}, id));
  EXPECT_THROW(ex.forward(torch::rand({2, 3, 2, 3})), BadInput);
  EXPECT_THROW(ex.forward(torch::rand({3, 2, 2})), BadInput);
  EXPECT_THROW(ex.tensor("n", "weight"), BadInput);
  EXPECT_THROW(ex.add_hook({}, "nope"), BadInput);
}

TEST_F(ExecutorTest, WeightHookZeroingAChannelZeroesItsConvOutput) {
  ir::Node n = conv(3, 4, 3);
  n.name = "conv";
  torch::Tensor w = to_torch(n.tensors["weight"]), b = to_torch(n.tensors["bias"]);
  Executor ex(single({3, 6, 6}, n));
  torch::Tensor x = torch::randn({2, 3, 6, 6});
  torch::Tensor before = ex.forward(x);
  int id = ex.add_hook({.weight = [](const ir::Node&, const std::string& key, const torch::Tensor& t) {
                          if (key != "weight") return t;
                          torch::Tensor mask = torch::ones_like(t);
                          mask[2] = 0;
                          return t * mask;
                        }},
                       "conv");
  torch::Tensor after = ex.forward(x);
  // Channel 2 is its bias everywhere; the others are unchanged.
  EXPECT_TRUE(torch::equal(after.select(1, 2), torch::full_like(after.select(1, 2), b[2].item<float>())));
  torch::Tensor w0 = w.clone();
  w0[2] = 0;
  EXPECT_TRUE(torch::allclose(after, at::conv2d(x, w0, b), kTol, kTol));
  EXPECT_TRUE(torch::equal(after.narrow(1, 0, 2), before.narrow(1, 0, 2)));
  ex.remove_hook(id);
  EXPECT_TRUE(torch::equal(ex.forward(x), before));
}

TEST_F(ExecutorTest, OutputHooksComposeInRegistrationOrder) {
  ir::Graph g;
  g.meta.input_shape = {5};
  for (const char* name : {"a", "b"}) {
    ir::Node n;
    n.name = name;
    n.op = ir::Op::Identity;
    n.inputs = {g.nodes.empty() ? std::string(ir::Graph::kInput) : g.nodes.back().name};
    g.add(n);
  }
  g.outputs = {"b"};
  Executor ex(g);
  torch::Tensor x = torch::randn({2, 5});
  ex.add_hook({.output = [](const ir::Node&, const torch::Tensor& t) { return t + 1; }}, "a");
  ex.add_hook({.output = [](const ir::Node&, const torch::Tensor& t) { return t * 2; }}, "a");
  auto outs = ex.forward_with(x, {"a"});
  EXPECT_TRUE(torch::allclose(outs.at("a"), (x + 1) * 2, kTol, kTol));
  // A global hook runs after the node hooks, on both nodes: a - 3, then b = a - 3 - 3.
  int all = ex.add_hook({.output = [](const ir::Node&, const torch::Tensor& t) { return t - 3; }});
  EXPECT_TRUE(torch::allclose(ex.forward(x), (x + 1) * 2 - 3 - 3, kTol, kTol));
  ex.remove_hook(all);
  EXPECT_TRUE(torch::allclose(ex.forward(x), (x + 1) * 2, kTol, kTol));
}

TEST_F(ExecutorTest, OpHookReplacesAnOpAndFloat64Runs) {
  ir::Node n = conv(2, 3, 3);
  n.name = "conv";
  n.pads = {1, 1, 1, 1};
  ir::Graph g = single({2, 5, 5}, n);
  ir::Node r;
  r.name = "relu";
  r.op = ir::Op::ReLU;
  r.inputs = {"conv"};
  g.add(r);
  g.outputs = {"relu"};
  g.meta.mean = {0.25f};
  Executor ex(g);
  torch::Tensor x = torch::randn({2, 2, 5, 5});
  torch::Tensor y32 = ex.forward(x);
  // float64 end to end: the input hook and the weight hook convert.
  int a = ex.add_hook({.weight = [](const ir::Node&, const std::string&, const torch::Tensor& t) {
                         return t.to(torch::kFloat64);
                       },
                       .input = [](const torch::Tensor& t) { return t.to(torch::kFloat64); }});
  torch::Tensor y64 = ex.forward(x);
  EXPECT_EQ(y64.scalar_type(), torch::kFloat64);
  EXPECT_TRUE(torch::allclose(y64.to(torch::kFloat32), y32, kTol, kTol));
  ex.remove_hook(a);
  // The first op hook returning a tensor replaces the op; an undefined result defers.
  ex.add_hook({.op = [](const ir::Node&, const std::vector<torch::Tensor>&) { return torch::Tensor(); }});
  ex.add_hook({.op = [](const ir::Node&, const std::vector<torch::Tensor>& in) { return -in[0]; }}, "relu");
  ex.add_hook({.op = [](const ir::Node&, const std::vector<torch::Tensor>& in) { return in[0] * 0; }}, "relu");
  auto outs = ex.forward_with(x, {"conv"});
  EXPECT_TRUE(torch::equal(outs.at("output"), -outs.at("conv")));
}

// A conv -> BN -> ReLU -> pool -> linear network with every trainable tensor kind.
ir::Graph small_net() {
  torch::manual_seed(3);
  ir::Graph g;
  g.meta.input_shape = {2, 6, 6};
  ir::Node c;
  c.name = "conv";
  c.op = ir::Op::Conv2d;
  c.inputs = {ir::Graph::kInput};
  c.in_channels = 2;
  c.out_channels = 4;
  c.kernel = {3, 3};
  c.pads = {1, 1, 1, 1};
  c.tensors = {{"weight", from_torch(torch::randn({4, 2, 3, 3}) * 0.3)}, {"bias", from_torch(torch::randn({4}))}};
  g.add(c);
  ir::Node bn;
  bn.name = "bn";
  bn.op = ir::Op::BatchNorm;
  bn.inputs = {"conv"};
  bn.tensors = {{"weight", from_torch(torch::rand({4}) + 0.5)}, {"bias", from_torch(torch::randn({4}))},
                {"running_mean", ir::Tensor({4})}, {"running_var", ir::Tensor({4}, {1, 1, 1, 1})}};
  g.add(bn);
  ir::Node r;
  r.name = "relu";
  r.op = ir::Op::ReLU;
  r.inputs = {"bn"};
  g.add(r);
  ir::Node p;
  p.name = "pool";
  p.op = ir::Op::GlobalAvgPool;
  p.inputs = {"relu"};
  g.add(p);
  ir::Node f;
  f.name = "flat";
  f.op = ir::Op::Flatten;
  f.inputs = {"pool"};
  g.add(f);
  ir::Node fc;
  fc.name = "fc";
  fc.op = ir::Op::Linear;
  fc.inputs = {"flat"};
  fc.in_channels = 4;
  fc.out_channels = 3;
  fc.tensors = {{"weight", from_torch(torch::randn({3, 4}))}, {"bias", from_torch(torch::randn({3}))}};
  g.add(fc);
  g.outputs = {"fc"};
  return g;
}

TEST_F(ExecutorTest, GradientsReachEveryTrainableTensor) {
  Executor ex(small_net());
  ex.set_training(true);
  auto named = ex.named_parameters();
  std::vector<std::string> names;
  for (const auto& [name, t] : named) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv/bias", "conv/weight", "bn/bias", "bn/weight",
                                             "fc/bias", "fc/weight"}));
  EXPECT_FALSE(ex.tensor("bn", "running_mean").requires_grad());
  // A weighted sum (a plain sum has zero gradient through train-mode BN's beta-free part).
  torch::Tensor y = ex.forward(torch::randn({4, 2, 6, 6}));
  (y * torch::arange(1, 4, torch::kFloat32)).pow(2).sum().backward();
  for (const auto& [name, t] : named) {
    ASSERT_TRUE(t.grad().defined()) << name;
    EXPECT_GT(t.grad().abs().sum().item<float>(), 0.0f) << name;
  }
}

TEST_F(ExecutorTest, TrainModeBatchNormUpdatesRunningStats) {
  Executor ex(small_net());
  torch::Tensor x = torch::randn({8, 2, 6, 6});
  torch::Tensor conv_out = ex.forward_with(x, {"conv"}).at("conv").detach();
  EXPECT_TRUE(torch::equal(ex.tensor("bn", "running_mean"), torch::zeros({4})));  // eval: unchanged
  ex.set_training(true);
  ex.forward(x);
  torch::Tensor batch_mean = conv_out.mean({0, 2, 3});
  torch::Tensor batch_var = conv_out.var({0, 2, 3}, /*unbiased=*/true);
  EXPECT_TRUE(torch::allclose(ex.tensor("bn", "running_mean"), 0.1 * batch_mean, kTol, kTol));
  EXPECT_TRUE(torch::allclose(ex.tensor("bn", "running_var"), 0.9 + 0.1 * batch_var, kTol, kTol));
}

TEST_F(ExecutorTest, SyncToGraphRoundTrip) {
  Executor ex(small_net());
  {
    torch::NoGradGuard no_grad;
    ex.tensor("fc", "weight").mul_(2);
  }
  ex.set_tensor("conv", "weight_mask", torch::ones({4, 2, 3, 3}));
  EXPECT_FALSE(ex.tensor("conv", "weight_mask").requires_grad());
  torch::Tensor x = torch::randn({3, 2, 6, 6});
  torch::Tensor y = ex.forward(x);
  ir::Graph& g = ex.sync_to_graph();
  EXPECT_EQ(g.at("fc").tensors.at("weight"), from_torch(ex.tensor("fc", "weight")));
  EXPECT_EQ(g.at("conv").tensors.at("weight_mask").shape, (ir::Shape{4, 2, 3, 3}));
  Executor again(g);
  EXPECT_TRUE(torch::equal(again.forward(x), y));
  EXPECT_TRUE(torch::equal(to_torch(from_torch(x)), x));
}

}  // namespace
}  // namespace shrink
