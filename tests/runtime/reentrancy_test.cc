// Reentrancy (issue 9): two different models, and the same model loaded twice, run at the same
// time on two std::threads, each with its own handle and arena, many times; every output must be
// exactly (bit for bit) what the same model gives for the same input run alone. The runtime's
// contract (shrink_rt.h): one model handle and arena serve one thread at a time, and nothing else
// is shared. `make test-tsan` runs this test under ThreadSanitizer.
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "shrink_rt.h"
#include "tiny_shr.h"

namespace {

using shrink::test::TinyShr;

constexpr int kInputs = 16;  ///< distinct inputs, cycled through
constexpr int kRuns = 400;   ///< runs per thread

std::vector<float> input(int k) {
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[static_cast<size_t>(i)] = 0.37f * static_cast<float>((i * 5 + k * 3) % 11) - 1.1f + 0.05f * k;
  return x;
}

/// One handle and one arena; load, run and read output 0, returning a status string ("" = ok).
struct Runner {
  shrink_rt_model* m = nullptr;
  std::vector<unsigned char> arena;
  std::string error;

  explicit Runner(const std::vector<uint8_t>& bytes) {
    char msg[256] = {0};
    if (shrink_rt_load(bytes.data(), bytes.size(), &m, msg, sizeof msg) != SHRINK_RT_OK) {
      error = std::string("load: ") + msg;
      return;
    }
    arena.resize(shrink_rt_arena_size(m));
  }
  ~Runner() { shrink_rt_free(m); }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  /// The output for x, or empty on a failure (error says which).
  std::vector<float> run(const std::vector<float>& x) {
    std::vector<float> y(3);
    shrink_rt_status s = shrink_rt_set_input_f32(m, arena.data(), arena.size(), 0, x.data(), x.size());
    if (s == SHRINK_RT_OK) s = shrink_rt_run(m, arena.data(), arena.size());
    if (s == SHRINK_RT_OK) s = shrink_rt_get_output_f32(m, arena.data(), 0, y.data(), y.size());
    if (s != SHRINK_RT_OK) {
      error = std::string("run: ") + shrink_rt_status_str(s);
      return {};
    }
    return y;
  }
};

/// The outputs of `bytes` for every input, run alone on this thread.
std::vector<std::vector<float>> alone(const std::vector<uint8_t>& bytes) {
  Runner r(bytes);
  EXPECT_EQ(r.error, "");
  std::vector<std::vector<float>> out;
  for (int k = 0; k < kInputs; ++k) out.push_back(r.run(input(k)));
  return out;
}

/// A thread's work: load its own handle, run kRuns times (starting at input `phase`) and count
/// the outputs that differ from `expected` in any bit.
void worker(const std::vector<uint8_t>* bytes, const std::vector<std::vector<float>>* expected, int phase,
            int* mismatches, std::string* error) {
  Runner r(*bytes);
  if (!r.error.empty()) {
    *error = r.error;
    return;
  }
  for (int i = 0; i < kRuns; ++i) {
    const int k = (i + phase) % kInputs;
    const std::vector<float> y = r.run(input(k));
    const std::vector<float>& e = (*expected)[static_cast<size_t>(k)];
    if (y.size() != e.size() || std::memcmp(y.data(), e.data(), y.size() * sizeof(float)) != 0) ++*mismatches;
  }
  *error = r.error;
}

void run_pair(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  const auto ea = alone(a), eb = alone(b);
  int ma = 0, mb = 0;
  std::string erra, errb;
  std::thread ta(worker, &a, &ea, 0, &ma, &erra);
  std::thread tb(worker, &b, &eb, 7, &mb, &errb);
  ta.join();
  tb.join();
  EXPECT_EQ(erra, "");
  EXPECT_EQ(errb, "");
  EXPECT_EQ(ma, 0) << "model A: " << ma << " of " << kRuns << " outputs differ from its runs alone";
  EXPECT_EQ(mb, 0) << "model B: " << mb << " of " << kRuns << " outputs differ from its runs alone";
}

/// Model A: the CSR int8 conv; model B: a different model (2-bit codebook conv, other weights,
/// other normalization), so that the two threads run different kernels on different data.
std::vector<uint8_t> model_a() { return TinyShr().build(); }
std::vector<uint8_t> model_b() {
  TinyShr t;
  t.conv_codebook = true;
  t.norm = {0.25f, 0.5f};
  t.conv_bias = {-70, 40};
  return t.build();
}

TEST(Reentrancy, TwoModelsOnTwoThreadsGiveTheirOutputsAlone) {
  const auto a = model_a(), b = model_b();
  ASSERT_NE(alone(a), alone(b));  // really two different models
  run_pair(a, b);
}

TEST(Reentrancy, SameModelTwiceWithTwoArenasGivesItsOutputsAlone) {
  const auto a = model_a();
  run_pair(a, a);
  const auto b = model_b();  // the codebook model expands its weights into each arena on its first run
  run_pair(b, b);
}

}  // namespace
