// Resumable training (TrainCheckpoint): a train() run stopped in its second epoch and started
// again continues from its epoch-1 checkpoint and ends with the weights of a run never
// stopped, bit for bit (optimizer moments, generator state, masks and callbacks included).
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include "compress/ir/error.h"
#include "compress/train.h"
#include "compress/zoo.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;

const ir::Dataset& train_600() {
  static const ir::Dataset d = ir::load_dataset("fashion-mnist", ir::Split::Train, 600);
  return d;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "shrink-resume-XXXXXX").string();
    if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// LeNet-300-100 with a pruning mask on its first layer (so masks are part of the state).
Executor make_model() {
  zoo::ZooOptions zo;
  zo.seed = 3;
  ir::Graph g = zoo::make("lenet300", zo);
  fill_metadata_from_data(g, train_600());
  Executor ex(std::move(g));
  const std::string first = ex.named_parameters().front().first;
  const std::string node = first.substr(0, first.rfind('/'));
  torch::Tensor w = ex.tensor(node, "weight");
  ex.set_tensor(node, kWeightMask, torch::ones_like(w));
  return ex;
}

std::string first_node(Executor& ex) {
  const std::string first = ex.named_parameters().front().first;
  return first.substr(0, first.rfind('/'));
}

// Options whose result depends on every piece of state: Adam moments, the lr schedule, the
// global generator (on_step adds torch::randn noise while the model is in train mode, as dropout
// would: the replay of skipped steps, before training resumes, draws nothing, so only the
// restored generator state gives the same noise) and the mask (on_epoch prunes a slice).
// `stop_at` >= 0: on_step throws at that step (the "kill").
TrainOptions options(Executor& ex, const std::string& prefix, int64_t* steps_seen, int64_t stop_at) {
  TrainOptions o;
  o.epochs = 3;
  o.batch_size = 50;  // 12 steps per epoch
  o.lr = 2e-3;
  o.seed = 7;
  o.progress = false;
  o.checkpoint = std::make_shared<TrainCheckpoint>();
  o.checkpoint->prefix = prefix;
  const std::string node = first_node(ex);
  o.on_step = [&ex, node, steps_seen, stop_at](int64_t step, int) {
    if (step == stop_at) throw std::runtime_error("killed");
    ++*steps_seen;
    if (!ex.training()) return;
    torch::NoGradGuard no_grad;
    torch::Tensor& w = ex.tensor(node, "weight");
    w.add_(torch::randn(w.sizes()) * 1e-4);
  };
  o.on_epoch = [&ex, node](int epoch) {
    torch::NoGradGuard no_grad;
    ex.tensor(node, kWeightMask).view(-1).slice(0, epoch * 1000, epoch * 1000 + 1000).zero_();
  };
  return o;
}

void expect_same_state(Executor& a, Executor& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].first, pb[i].first);
    EXPECT_TRUE(torch::equal(pa[i].second, pb[i].second)) << pa[i].first << " differs";
  }
  EXPECT_TRUE(torch::equal(a.tensor(first_node(a), kWeightMask), b.tensor(first_node(b), kWeightMask)));
}

TEST(TrainResume, KilledInEpochTwoContinuesBitIdentical) {
  set_threads(1);
  TempDir t;
  // Uninterrupted.
  Executor a = make_model();
  int64_t steps_a = 0;
  TrainResult ra = train(a, train_600(), options(a, (t.path / "a.").string(), &steps_a, -1));
  ASSERT_EQ(steps_a, 36);
  ASSERT_EQ(ra.history.size(), 3u);

  // Killed at step 15 (epoch 2): only the epoch-1 checkpoint exists.
  const std::string pb = (t.path / "b.").string();
  {
    Executor b = make_model();
    int64_t steps = 0;
    EXPECT_THROW(train(b, train_600(), options(b, pb, &steps, 15)), std::runtime_error);
    EXPECT_EQ(steps, 15);
  }
  ASSERT_TRUE(fs::exists(pb + "train-0.pt"));

  // Started again from scratch with the same options: continues after epoch 1.
  Executor c = make_model();
  int64_t steps_c = 0;
  TrainResult rc = train(c, train_600(), options(c, pb, &steps_c, -1));
  EXPECT_EQ(steps_c, 36);  // 12 replayed, 24 run
  ASSERT_EQ(rc.history.size(), 3u);
  for (size_t e = 0; e < 3; ++e) {
    EXPECT_EQ(rc.history[e].loss, ra.history[e].loss) << "epoch " << e;
    EXPECT_EQ(rc.history[e].train_accuracy, ra.history[e].train_accuracy) << "epoch " << e;
  }
  expect_same_state(a, c);
  // The mask really was pruned (state that training alone would not restore).
  EXPECT_EQ(c.tensor(first_node(c), kWeightMask).sum().item<double>(),
            static_cast<double>(c.tensor(first_node(c), kWeightMask).numel() - 3000));

  // A finished call returns its saved state at once.
  Executor d = make_model();
  int64_t steps_d = 0;
  TrainResult rd = train(d, train_600(), options(d, pb, &steps_d, -1));
  EXPECT_EQ(steps_d, 36);  // all replayed
  EXPECT_EQ(rd.history.size(), 3u);
  expect_same_state(a, d);
}

TEST(TrainResume, CheckpointOfAnotherTrainingIsRefused) {
  set_threads(1);
  TempDir t;
  const std::string p = (t.path / "x.").string();
  Executor a = make_model();
  int64_t steps = 0;
  TrainOptions o = options(a, p, &steps, -1);
  o.epochs = 1;
  train(a, train_600(), o);
  Executor b = make_model();
  TrainOptions o2 = options(b, p, &steps, -1);
  o2.epochs = 1;
  o2.batch_size = 60;
  EXPECT_THROW(train(b, train_600(), o2), BadInput);
  // Calls sharing one checkpoint are numbered: a second call uses its own file.
  Executor c = make_model();
  TrainOptions o3 = options(c, p, &steps, -1);
  o3.epochs = 1;
  train(c, train_600(), o3);
  train(c, train_600(), o3);
  EXPECT_EQ(o3.checkpoint->calls, 2);
  EXPECT_TRUE(fs::exists(p + "train-1.pt"));
}

}  // namespace
}  // namespace shrink
