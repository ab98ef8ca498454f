// quantize_model on a LeNet-5 trained for 2 epochs on the full train split (trained once, cached
// in the build folder between test processes): accuracy of the Exact simulation on test.
#include "quantize/quantize_model.h"


#include <cmath>
#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>

#include "compress/executor_setup.h"
#include "compress/ir/error.h"
#include "compress/ir/model_file.h"
#include "compress/train.h"
#include "compress/zoo.h"
#include "quantize/register.h"
#include "quantize/simulate.h"
#include "runtime/include/shrink_fixed_point.h"
#include "tests/quantize/lenet5_fixture.h"

namespace shrink::quant {
namespace {

namespace fs = std::filesystem;

double accuracy(const ir::Graph& g) {
  register_all();
  auto m = make_model_executor(g, ExecutorPurpose::Eval);
  return evaluate(m->executor(), test_set()).accuracy;
}

QuantizeOptions fixed(int bits) {
  QuantizeOptions o;
  o.weight_bits = o.act_bits = bits;
  return o;
}

TEST(QuantizeModelTest, FixedPoint8And16BitLoseLittle) {
  const double fp = accuracy(lenet5());
  const double a8 = accuracy(quantize_model(lenet5(), calib(), fixed(8)));
  const double a16 = accuracy(quantize_model(lenet5(), calib(), fixed(16)));
  std::printf("LeNet-5 test accuracy: fp32 %.4f, fixed 8-bit %.4f (drop %.2f pp), 16-bit %.4f (drop %.2f pp)\n", fp, a8,
              100 * (fp - a8), a16, 100 * (fp - a16));
  EXPECT_GT(fp, 0.85);
  EXPECT_LE(fp - a8, 0.005);
  EXPECT_LE(fp - a16, 0.0005);
}

TEST(QuantizeModelTest, StateRecordsFormatsAndWeightsOnGrid) {
  QuantizeOptions o = fixed(6);
  o.per_channel = true;
  o.layers["conv1"].weight_bits = 4;
  ir::Graph q = quantize_model(lenet5(), calib(), o);
  ModelQuant mq = read_model_quant(q);
  EXPECT_EQ(mq.input.bits, 6);
  for (const auto& n : q.nodes) {
    if (n.op == ir::Op::Softmax) {
      EXPECT_FALSE(mq.nodes.count(n.name));
      continue;
    }
    ASSERT_TRUE(mq.nodes.count(n.name)) << n.name;
    const NodeQuant& nq = mq.nodes.at(n.name);
    if (n.op == ir::Op::ReLU || n.op == ir::Op::MaxPool || n.op == ir::Op::Flatten) {
      EXPECT_EQ(nq.output, mq.format_of(n.inputs[0])) << n.name;  // takes its input's format
    }
    if (!nq.has_weight) continue;
    const ir::Tensor& w = *n.tensor("weight");
    EXPECT_EQ(nq.weight_bits, n.name == "conv1" ? 4 : 6);
    EXPECT_EQ(static_cast<int64_t>(nq.weight_fl.size()), w.shape[0]);
    const int64_t slice = w.numel() / w.shape[0];
    for (int64_t i = 0; i < w.numel(); ++i) {
      const double s = std::ldexp(static_cast<double>(w.data[static_cast<size_t>(i)]), nq.weight_fl_of(i / slice));
      ASSERT_EQ(s, std::round(s));
      ASSERT_LE(std::fabs(s), static_cast<double>(fx::qmax(nq.weight_bits)) + 1);
    }
  }
  // Saved and loaded, the state survives.
  const fs::path p = fs::temp_directory_path() / "shrink-qmodel-test.h5";
  ir::save_model(q, p.string());
  ir::Graph back = ir::load_model(p.string());
  fs::remove(p);
  EXPECT_EQ(back.state["quant"], q.state["quant"]);
  EXPECT_EQ(read_model_quant(back).nodes.at("conv1").weight_fl, mq.nodes.at("conv1").weight_fl);
}

TEST(QuantizeModelTest, KMeans5BitWithin2pp) {
  QuantizeOptions o;
  o.scheme = "kmeans";
  o.index_bits = 5;
  ir::Graph q = quantize_model(lenet5(), calib(), o);
  const double fp = accuracy(lenet5()), a = accuracy(q);
  std::printf("LeNet-5 test accuracy: fp32 %.4f, k-means 5-bit weights + 8-bit activations %.4f (drop %.2f pp)\n", fp, a,
              100 * (fp - a));
  EXPECT_LE(fp - a, 0.02);
  ModelQuant mq = read_model_quant(q);
  for (const auto& [name, nq] : mq.nodes)
    if (nq.has_weight) {
      ASSERT_TRUE(nq.codebook);
      const ir::Tensor& w = *q.find(name)->tensor("weight");
      for (int64_t i = 0; i < w.numel(); i += 97) ASSERT_EQ(w.data[static_cast<size_t>(i)], nq.codebook->value(i));
    }
}

TEST(QuantizeModelTest, QuantizationAwareFinetuneHelpsAndStaysOnGrid) {
  register_all();
  QuantizeOptions o = fixed(8);
  o.weight_bits = 4;
  ir::Graph q = quantize_model(lenet5(), calib(), o);
  const double before = accuracy(q);
  auto m = make_model_executor(q, ExecutorPurpose::Train);
  ASSERT_EQ(m->applied(), std::vector<std::string>{"quant"});
  TrainOptions t;
  t.epochs = 1;
  t.lr = 1e-4;
  t.limit = 5000;
  t.progress = false;
  train(m->executor(), ir::load_dataset("fashion-mnist", ir::Split::Train, 5000), t);
  ir::Graph tuned = m->finish();
  const double after = accuracy(tuned);
  std::printf("LeNet-5 4-bit weights / 8-bit activations: test accuracy %.4f without, %.4f after 1 epoch of QAT on 5,000 images\n",
              before, after);
  EXPECT_GE(after, before);
  ModelQuant mq = read_model_quant(tuned);
  int changed = 0;
  for (const auto& [name, nq] : mq.nodes) {
    if (!nq.has_weight) continue;
    const ir::Tensor& w = *tuned.find(name)->tensor("weight");
    const ir::Tensor& w0 = *q.find(name)->tensor("weight");
    const int64_t slice = w.numel() / w.shape[0];
    for (int64_t i = 0; i < w.numel(); ++i) {
      const double s = std::ldexp(static_cast<double>(w.data[static_cast<size_t>(i)]), nq.weight_fl_of(i / slice));
      ASSERT_EQ(s, std::round(s)) << name << " " << i;
      ASSERT_GE(s, static_cast<double>(fx::qmin(nq.weight_bits)));
      ASSERT_LE(s, static_cast<double>(fx::qmax(nq.weight_bits)));
      changed += w.data[static_cast<size_t>(i)] != w0.data[static_cast<size_t>(i)];
    }
  }
  // At lr 1e-4 for 79 steps few 4-bit weights cross half a grid step; the float biases move.
  std::printf("weights moved to another grid point: %d\n", changed);
  EXPECT_NE(tuned.find("fc2")->tensor("bias")->data, q.find("fc2")->tensor("bias")->data);
}

TEST(QuantizeModelTest, KMeansCentroidFinetuneKeepsCodebook) {
  register_all();
  QuantizeOptions o;
  o.scheme = "kmeans";
  o.index_bits = 3;
  ir::Graph q = quantize_model(lenet5(), calib(), o);
  auto m = make_model_executor(q, ExecutorPurpose::Train);
  TrainOptions t;
  t.epochs = 1;
  t.lr = 1e-4;
  t.limit = 1000;
  t.progress = false;
  train(m->executor(), ir::load_dataset("fashion-mnist", ir::Split::Train, 1000), t);
  ir::Graph tuned = m->finish();
  ModelQuant before = read_model_quant(q), after = read_model_quant(tuned);
  int moved = 0;
  for (const auto& [name, nq] : after.nodes) {
    if (!nq.has_weight) continue;
    EXPECT_EQ(tuned.find(name)->tensor("centroids"), nullptr);
    EXPECT_EQ(nq.codebook->indices, before.nodes.at(name).codebook->indices);  // membership fixed
    moved += nq.codebook->centroids_q != before.nodes.at(name).codebook->centroids_q;
    const ir::Tensor& w = *tuned.find(name)->tensor("weight");
    for (int64_t i = 0; i < w.numel(); ++i) ASSERT_EQ(w.data[static_cast<size_t>(i)], nq.codebook->value(i));
  }
  EXPECT_GT(moved, 0);
}

TEST(QuantizeModelTest, BadOptionsAndConfigs) {
  QuantizeOptions o = fixed(17);
  EXPECT_THROW(quantize_model(lenet5(), calib(), o), BadInput);
  o = fixed(8);
  o.scheme = "kmeans";
  o.index_bits = 0;
  EXPECT_THROW(check_options(o), BadInput);
  o.index_bits = 9;
  EXPECT_THROW(check_options(o), BadInput);
  o = fixed(8);
  o.layers["conv1"].weight_bits = 4;
  o.layers["nosuch"].weight_bits = 4;
  try {
    quantize_model(lenet5(), calib(), o);
    FAIL() << "expected BadInput";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("unknown layer 'nosuch'"), std::string::npos) << e.what();
  }
  o.layers.erase("conv1");
  try {
    quantize_model(lenet5(), calib(), o);
    FAIL() << "expected BadInput";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("another model"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace shrink::quant
