#include "compress/progress.h"

#include <gtest/gtest.h>

namespace shrink {
namespace {

TEST(ProgressTest, RendersBarCountsStatusAndEta) {
  EXPECT_EQ(ProgressBar::render("epoch 1/2", 5, 10, "loss 0.41", 12.0, 10),
            "epoch 1/2 [#####.....] 5/10 loss 0.41 ETA 12s");
  EXPECT_EQ(ProgressBar::render("eval", 0, 4, "", -1, 4), "eval [....] 0/4");
  EXPECT_EQ(ProgressBar::render("x", 9, 4, "", 75, 4), "x [####] 9/4 ETA 1m15s");
}

TEST(ProgressTest, PlainLineWhenNotATerminal) {
  ::testing::internal::CaptureStderr();
  {
    ProgressBar bar(3, "epoch 1/1");
    bar.update(1, "a");
    bar.update(3, "loss 0.5");
  }
  ProgressBar off(3, "silent", false);
  off.update(3);
  off.finish("x");
  std::string err = ::testing::internal::GetCapturedStderr();
  // Under a test runner stderr is captured (a pipe): one plain line from the destructor.
  EXPECT_EQ(err.rfind("epoch 1/1: 3/3 loss 0.5 (", 0), 0u) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1);
}

}  // namespace
}  // namespace shrink
