// Distillation (distill/ and the training loop's teacher terms): feature matching and attention
// transfer against values computed by hand, trainable / frozen nodes, fed nodes. (The KD loss
// against a hand-computed value: TrainTest.DistillationLossMatchesHandComputation.)
#include <gtest/gtest.h>

#include <cmath>

#include "compress/executor.h"
#include "compress/ir/dataset.h"
#include "compress/ir/error.h"
#include "compress/train.h"
#include "compress/zoo.h"
#include "distill/losses.h"

namespace shrink::distill {
namespace {

TEST(DistillLosses, FeatureMatchingAndAttentionTransfer) {
  torch::Tensor a = torch::tensor({1.0, 2.0, 3.0, 4.0}, torch::kFloat64).view({1, 1, 2, 2});
  torch::Tensor b = torch::tensor({1.0, 0.0, 3.0, 2.0}, torch::kFloat64).view({1, 1, 2, 2});
  EXPECT_NEAR(feature_mse(a, b).item<double>(), (0 + 4 + 0 + 4) / 4.0, 1e-12);
  EXPECT_THROW(feature_mse(a, b.view({1, 4, 1, 1})), BadInput);
  // Attention map: channel-mean of squares, L2-normalised per sample.
  torch::Tensor f = torch::tensor({1.0, 0.0, 0.0, 1.0, 1.0, 2.0, 0.0, 0.0}, torch::kFloat64).view({1, 2, 2, 2});
  torch::Tensor m = attention_map(f);  // channel means of squares: {1, 2, 0, 0.5}
  const double norm = std::sqrt(1 + 4 + 0 + 0.25);
  const double expect_map[4] = {1 / norm, 2 / norm, 0, 0.5 / norm};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(m[0][i].item<double>(), expect_map[i], 1e-12);
  // Invariant to scale and to the channel count; positive when the spatial pattern differs.
  EXPECT_NEAR(attention_transfer(3.0 * f, f).item<double>(), 0, 1e-12);
  EXPECT_NEAR(attention_transfer(torch::cat({f, f}, 1), f).item<double>(), 0, 1e-12);
  EXPECT_GT(attention_transfer(f.flip({3}), f).item<double>(), 1e-3);
  EXPECT_THROW(attention_transfer(f, torch::zeros({1, 2, 3, 3}, torch::kFloat64)), BadInput);
}

TEST(DistillLosses, RegisteredKindsAreKnownToTheTrainingLoop) {
  register_losses();
  EXPECT_EQ(feature_loss_kinds(), (std::vector<std::string>{"attention", "mse"}));
  try {
    feature_loss("cosine");
    FAIL() << "no error";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("known: attention, mse"), std::string::npos) << e.what();
  }
}

const ir::Dataset& train256() {
  static const ir::Dataset d = ir::load_dataset("fashion-mnist", ir::Split::Train, 256);
  return d;
}

TEST(DistillTrain, OnlyTrainableNodesChangeAndFrozenBatchNormKeepsItsStatistics) {
  zoo::ZooOptions zo;
  const ir::Graph g = zoo::make("resnet8", zo);
  Executor teacher(g), student(g);
  teacher.set_training(false);
  TrainOptions o;
  o.epochs = 1;
  o.progress = false;
  o.teacher = &teacher;
  o.trainable = {"block3.conv2", "block3.bn2"};
  o.terms = {term("attention", "block2.relu", "block2.relu", 10)};
  train(student, train256(), o);
  const ir::Graph& after = student.sync_to_graph();
  for (const auto& n : after.nodes)
    for (const auto& [key, t] : n.tensors) {
      bool same = t.data == g.at(n.name).tensor(key)->data;
      if (n.name == "block3.conv2" || n.name == "block3.bn2") {
        if (key != "running_mean" && key != "running_var") EXPECT_FALSE(same) << n.name << "/" << key;
      } else {
        EXPECT_TRUE(same) << n.name << "/" << key;  // frozen BatchNorm statistics included
      }
    }
  EXPECT_TRUE(student.frozen().empty());  // restored after training
  o.trainable = {"nope"};
  EXPECT_THROW(train(student, train256(), o), BadInput);
}

TEST(DistillTrain, FeatureTermsAloneTrainAFedStudentTowardsTheTeacher) {
  zoo::ZooOptions zo;
  zo.seed = 1;
  const ir::Graph teacher_graph = zoo::make("resnet8", zo);
  ir::Graph student_graph = teacher_graph;
  {  // the student's block3 starts elsewhere
    zo.seed = 2;
    const ir::Graph other = zoo::make("resnet8", zo);
    for (auto& n : student_graph.nodes)
      if (n.name.rfind("block3.", 0) == 0) n.tensors = other.at(n.name).tensors;
  }
  Executor teacher(teacher_graph), student(student_graph);
  teacher.set_training(false);
  // The feature distance on real images, BatchNorm in train mode (batch statistics), as trained.
  const ir::Dataset val = ir::load_dataset("fashion-mnist", ir::Split::Val, 128);
  auto [x, y] = dataset_to_torch(val);
  x = x.view({128, 1, 28, 28});
  auto distance = [&] {
    torch::NoGradGuard ng;
    student.set_training(true);
    auto tv = teacher.forward_with(x, {"block2.relu", "block3.relu"}, false);
    auto sv = student.forward_from({{"block2.relu", tv.at("block2.relu")}}, {"block3.relu"}, false);
    EXPECT_EQ(sv.count("output"), 0u);  // only what was asked ran
    student.set_training(false);
    return feature_mse(sv.at("block3.relu"), tv.at("block3.relu")).item<double>();
  };
  const double before = distance();
  TrainOptions o;
  o.epochs = 3;
  o.progress = false;
  o.teacher = &teacher;
  o.alpha = 0;
  o.ce_weight = 0;
  o.feed = {"block2.relu"};
  o.terms = {term("mse", "block3.relu", "block3.relu")};
  o.trainable = {"block3.conv1", "block3.bn1", "block3.conv2", "block3.bn2", "block3.shortcut", "block3.shortcut.bn"};
  TrainResult r = train(student, train256(), o);
  EXPECT_EQ(r.history.back().train_accuracy, -1);  // no logits were computed
  EXPECT_LT(r.history.back().loss, r.history.front().loss);
  const double after = distance();
  EXPECT_LT(after, 0.5 * before) << before << " -> " << after;
  TrainOptions none = o;
  none.terms.clear();
  EXPECT_THROW(train(student, train256(), none), BadInput);  // nothing to minimise
  TrainOptions no_teacher = o;
  no_teacher.teacher = nullptr;
  EXPECT_THROW(train(student, train256(), no_teacher), BadInput);
}

}  // namespace
}  // namespace shrink::distill
