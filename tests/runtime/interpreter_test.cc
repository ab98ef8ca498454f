// The interpreter, the arena planner and the run half of the C API on hand-built models
// (tiny_shr.h, independent of the exporter). Expected integers are computed here from the
// model's data with DESIGN.md's rules, not with the runtime's kernels.
#include <sys/wait.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/src/interpreter.h"
#include "shrink_rt.h"
#include "tiny_shr.h"

// A counting global operator new: the run path must not allocate. (GCC warns that free() meets
// memory from operator new: here operator new itself is malloc.)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<long> g_news{0};
void* operator new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
// The nothrow forms too (std::stable_sort's temporary buffer uses them): a partial replacement
// would pair the library's nothrow new with this malloc-based delete, which ASan reports.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using shrink::test::TinyShr;

int64_t sat(int64_t v, int bits) {
  const int64_t hi = (int64_t{1} << (bits - 1)) - 1, lo = -hi - 1;
  return v < lo ? lo : v > hi ? hi : v;
}
/// DESIGN.md requantize: s > 0 rounds half up by an arithmetic shift, s <= 0 multiplies.
int64_t requant(int64_t acc, int s, int bits) {
  if (s > 0) return sat(s >= 63 ? 0 : (acc + (int64_t{1} << (s - 1))) >> s, bits);
  return sat(acc * (int64_t{1} << -s), bits);
}

/// The tiny model's outputs (fc integers, fl 2) for input x, by hand.
std::vector<int64_t> tiny_reference(const TinyShr& t, const std::vector<float>& x) {
  // Quantize (x - 0.5) / 0.25 to i8 fl 4.
  std::vector<int64_t> q(16);
  for (int i = 0; i < 16; ++i) {
    const float v = (x[i] - t.norm[0]) / t.norm[1];
    q[i] = sat(static_cast<int64_t>(std::floor(static_cast<double>(v) * 16.0 + 0.5)), 8);
  }
  // Conv 2@3x3 (dense weights from CSR or the codebook), per-channel FL, bias, ReLU, out fl 3.
  std::vector<int64_t> w(18, 0);
  if (t.conv_codebook) {
    const int64_t c[4] = {0, 10, -20, 30};
    for (int i = 0; i < 18; ++i) w[i] = c[i % 4];
  } else {
    for (int r = 0; r < 2; ++r)
      for (int k = t.conv_row_ptr[r]; k < t.conv_row_ptr[r + 1]; ++k) w[r * 9 + t.conv_cols[k]] = t.conv_values[k];
  }
  std::vector<int64_t> conv(8);
  for (int oc = 0; oc < 2; ++oc)
    for (int oy = 0; oy < 2; ++oy)
      for (int ox = 0; ox < 2; ++ox) {
        int64_t acc = t.conv_bias[oc];
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) acc += q[(oy + i) * 4 + ox + j] * w[oc * 9 + i * 3 + j];
        int64_t y = requant(acc, 4 + t.conv_fls[oc] - 3, 8);
        conv[oc * 4 + oy * 2 + ox] = y < 0 ? 0 : y;
      }
  // Linear 8 -> 3 with codebook weights (fl 5), out fl 2.
  std::vector<int64_t> fc(3);
  for (int o = 0; o < 3; ++o) {
    int64_t acc = 0;
    for (int i = 0; i < 8; ++i) acc += conv[i] * t.centroids[t.indices[o * 8 + i]];
    fc[o] = requant(acc, 3 + 5 - 2, 8);
  }
  return fc;
}

struct Loaded {
  std::vector<uint8_t> bytes;
  shrink_rt_model* m = nullptr;
  std::vector<uint8_t> arena;
  explicit Loaded(const TinyShr& t) : bytes(t.build()) {
    char err[256];
    EXPECT_EQ(shrink_rt_load(bytes.data(), bytes.size(), &m, err, sizeof err), SHRINK_RT_OK) << err;
    arena.assign(shrink_rt_arena_size(m), 0xA5);
  }
  ~Loaded() { shrink_rt_free(m); }
};

std::vector<float> sample_input(int seed) {
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = 0.5f + 0.37f * std::sin(static_cast<float>(i * 7 + seed));
  return x;
}

TEST(Interpreter, TinyModelMatchesHandComputedIntegers) {
  for (bool codebook_conv : {false, true}) {
    TinyShr t;
    t.conv_codebook = codebook_conv;
    Loaded l(t);
    ASSERT_NE(l.m, nullptr);
    for (int seed = 0; seed < 5; ++seed) {
      const std::vector<float> x = sample_input(seed);
      ASSERT_EQ(shrink_rt_set_input_f32(l.m, l.arena.data(), l.arena.size(), 0, x.data(), 16), SHRINK_RT_OK);
      ASSERT_EQ(shrink_rt_run(l.m, l.arena.data(), l.arena.size()), SHRINK_RT_OK);
      const std::vector<int64_t> want = tiny_reference(t, x);
      int8_t q[3];
      float y[3];
      ASSERT_EQ(shrink_rt_get_output_q(l.m, l.arena.data(), 0, q, 3), SHRINK_RT_OK);
      ASSERT_EQ(shrink_rt_get_output_f32(l.m, l.arena.data(), 0, y, 3), SHRINK_RT_OK);
      for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(q[i], want[i]) << "codebook conv " << codebook_conv << " seed " << seed << " output " << i;
        EXPECT_EQ(y[i], static_cast<float>(want[i]) / 4.0f);
      }
    }
  }
}

TEST(Interpreter, QuantizedInputSkipsQuantizeAndAgrees) {
  TinyShr t;
  Loaded l(t);
  shrink_rt_dtype dt;
  int bits = 0, fl = 0;
  ASSERT_EQ(shrink_rt_input_format(l.m, 0, &dt, &bits, &fl), SHRINK_RT_OK);
  EXPECT_EQ(dt, SHRINK_RT_I8);
  EXPECT_EQ(bits, 8);
  EXPECT_EQ(fl, 4);
  ASSERT_EQ(shrink_rt_output_format(l.m, 0, &dt, &bits, &fl), SHRINK_RT_OK);
  EXPECT_EQ(fl, 2);
  const std::vector<float> x = sample_input(3);
  int8_t q[16];
  for (int i = 0; i < 16; ++i)
    q[i] = static_cast<int8_t>(sat(static_cast<int64_t>(std::floor(static_cast<double>((x[i] - 0.5f) / 0.25f) * 16 + 0.5)), 8));
  ASSERT_EQ(shrink_rt_set_input_q(l.m, l.arena.data(), l.arena.size(), 0, q, 16), SHRINK_RT_OK);
  ASSERT_EQ(shrink_rt_run(l.m, l.arena.data(), l.arena.size()), SHRINK_RT_OK);
  int8_t out[3];
  ASSERT_EQ(shrink_rt_get_output_q(l.m, l.arena.data(), 0, out, 3), SHRINK_RT_OK);
  const std::vector<int64_t> want = tiny_reference(t, x);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(out[i], want[i]);
}

TEST(Interpreter, RunPathDoesNotAllocate) {
  TinyShr t;
  t.conv_codebook = true;
  const long at_start = g_news.load();
  Loaded l(t);
  EXPECT_GT(g_news.load(), at_start) << "the counting operator new is not in use";
  const std::vector<float> x = sample_input(1);
  float y[3];
  ASSERT_EQ(shrink_rt_set_profiling(l.m, 1), SHRINK_RT_OK);
  const long before = g_news.load();
  for (int r = 0; r < 3; ++r) {
    ASSERT_EQ(shrink_rt_set_input_f32(l.m, l.arena.data(), l.arena.size(), 0, x.data(), 16), SHRINK_RT_OK);
    ASSERT_EQ(shrink_rt_run(l.m, l.arena.data(), l.arena.size()), SHRINK_RT_OK);
    ASSERT_EQ(shrink_rt_get_output_f32(l.m, l.arena.data(), 0, y, 3), SHRINK_RT_OK);
  }
  EXPECT_EQ(g_news.load() - before, 0);
  double us = -1;
  ASSERT_EQ(shrink_rt_profile(l.m, 1, &us), SHRINK_RT_OK);
  EXPECT_GE(us, 0.0);
  EXPECT_EQ(shrink_rt_profile(l.m, 99, &us), SHRINK_RT_INVALID_ARGUMENT);
}

TEST(Interpreter, BadArgumentsGiveStatuses) {
  TinyShr t;
  Loaded l(t);
  std::vector<float> x(16, 0.0f);
  float y[3];
  void* a = l.arena.data();
  const size_t n = l.arena.size();
  EXPECT_EQ(shrink_rt_arena_size(nullptr), 0u);
  EXPECT_EQ(shrink_rt_run(nullptr, a, n), SHRINK_RT_INVALID_ARGUMENT);
  EXPECT_EQ(shrink_rt_run(l.m, nullptr, n), SHRINK_RT_INVALID_ARGUMENT);
  EXPECT_EQ(shrink_rt_run(l.m, a, n - 1), SHRINK_RT_INVALID_ARGUMENT);
  EXPECT_EQ(shrink_rt_set_input_f32(l.m, a, n, 0, x.data(), 15), SHRINK_RT_INVALID_ARGUMENT);
  EXPECT_EQ(shrink_rt_set_input_f32(l.m, a, n, 1, x.data(), 16), SHRINK_RT_INVALID_ARGUMENT);
  EXPECT_EQ(shrink_rt_set_input_f32(l.m, a, n, 0, nullptr, 16), SHRINK_RT_INVALID_ARGUMENT);
  EXPECT_EQ(shrink_rt_set_input_q(l.m, a, n, 0, x.data(), 17), SHRINK_RT_INVALID_ARGUMENT);
  EXPECT_EQ(shrink_rt_get_output_f32(l.m, a, 0, y, 2), SHRINK_RT_INVALID_ARGUMENT);
  EXPECT_EQ(shrink_rt_get_output_f32(l.m, a, -1, y, 3), SHRINK_RT_INVALID_ARGUMENT);
  EXPECT_EQ(shrink_rt_get_output_q(l.m, a, 0, y, 4), SHRINK_RT_INVALID_ARGUMENT);
  EXPECT_EQ(shrink_rt_input_format(l.m, 5, nullptr, nullptr, nullptr), SHRINK_RT_INVALID_ARGUMENT);
  EXPECT_EQ(shrink_rt_tensor_data(l.m, a, 1000), nullptr);
}

/// Checks the planner's invariants on a plan: buffers live at the same time do not overlap,
/// offsets are 64-aligned, and the arena is no larger than all buffers side by side.
void expect_valid_plan(const std::vector<shrink::rt::Buffer>& bs, uint64_t size) {
  uint64_t sum = 0;
  for (size_t i = 0; i < bs.size(); ++i) {
    sum += shrink::shr::align_up(bs[i].size, 64);
    EXPECT_EQ(bs[i].offset % 64, 0u);
    EXPECT_LE(bs[i].offset + bs[i].size, size);
    for (size_t j = 0; j < i; ++j) {
      const bool live_together = !(bs[i].last < bs[j].first || bs[j].last < bs[i].first);
      const bool overlap = bs[i].offset < bs[j].offset + bs[j].size && bs[j].offset < bs[i].offset + bs[i].size;
      EXPECT_FALSE(live_together && overlap) << "buffers " << i << " and " << j;
    }
  }
  EXPECT_LE(size, sum);
}

TEST(ArenaPlanner, RandomLifetimesNeverOverlapAndReuseMemory) {
  uint32_t s = 12345;
  auto rnd = [&] { return s = s * 1664525u + 1013904223u, s >> 8; };
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<shrink::rt::Buffer> bs(2 + rnd() % 30);
    for (auto& b : bs) {
      b.size = 1 + rnd() % 5000;
      b.first = static_cast<int64_t>(rnd() % 20) - 1;
      b.last = b.first + static_cast<int64_t>(rnd() % 5);
    }
    const uint64_t size = shrink::rt::plan_arena(bs);
    expect_valid_plan(bs, size);
  }
  // A chain a -> b -> c: a and c may share memory, b may not share with either.
  std::vector<shrink::rt::Buffer> chain(3);
  chain[0] = {1000, -1, 0};
  chain[1] = {1000, 0, 1};
  chain[2] = {1000, 1, 2};
  EXPECT_EQ(shrink::rt::plan_arena(chain), 2u * 1024u);
  EXPECT_EQ(chain[0].offset, chain[2].offset);
}

TEST(ArenaPlanner, TinyModelPlanIsValidAndKeepAllGrowsIt) {
  TinyShr t;
  Loaded l(t);
  const shrink::rt::Plan& p = *l.m->plan;
  expect_valid_plan(p.buffers, p.size);
  const size_t shared = shrink_rt_arena_size(l.m);
  ASSERT_EQ(shrink_rt_keep_all_tensors(l.m), SHRINK_RT_OK);
  expect_valid_plan(p.buffers, p.size);
  EXPECT_GE(shrink_rt_arena_size(l.m), shared);
  // Every activation is readable after a run with keep_all: the quantized input equals q.
  std::vector<uint8_t> arena(shrink_rt_arena_size(l.m));
  const std::vector<float> x = sample_input(2);
  ASSERT_EQ(shrink_rt_set_input_f32(l.m, arena.data(), arena.size(), 0, x.data(), 16), SHRINK_RT_OK);
  ASSERT_EQ(shrink_rt_run(l.m, arena.data(), arena.size()), SHRINK_RT_OK);
  const int8_t* q = static_cast<const int8_t*>(shrink_rt_tensor_data(l.m, arena.data(), 1));
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(q[i], sat(static_cast<int64_t>(std::floor(static_cast<double>((x[i] - 0.5f) / 0.25f) * 16 + 0.5)), 8));
}

TEST(ExampleMinimal, RunsAndPrintsTheTopClass) {
  TinyShr t;
  const std::vector<uint8_t> bytes = t.build();
  const std::string path = (std::filesystem::temp_directory_path() / "shrink_example_minimal_test.shr").string();
  {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  const std::vector<int64_t> want = tiny_reference(t, std::vector<float>(16, 0.0f));
  int best = 0;
  for (int i = 1; i < 3; ++i)
    if (want[i] > want[best]) best = i;
  const std::string cmd = std::string("'") + SHRINK_BIN_DIR + "/example_minimal' '" + path + "'";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[256] = {0};
  const bool got = std::fgets(line, sizeof line, p) != nullptr;
  const int st = pclose(p);
  std::filesystem::remove(path);
  ASSERT_TRUE(got);
  EXPECT_EQ(WEXITSTATUS(st), 0);
  const char* labels[3] = {"a", "b", "c"};
  char expect[128];
  std::snprintf(expect, sizeof expect, "top class %d (%s) score %g\n", best, labels[best], want[best] / 4.0);
  EXPECT_EQ(std::string(line), std::string(expect));
}

}  // namespace
