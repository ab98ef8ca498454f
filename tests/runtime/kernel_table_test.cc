// The interpreter's kernel table (runtime/src/kernel_table.h, shrink_rt_load_kernels): a model
// lists the kernels it runs, loads and runs identically with only those registered, and fails
// the load cleanly (SHRINK_RT_UNSUPPORTED, a message naming the kernel) when one is missing.
// Plus the scalar-target arena (shrink_rt_arena_size_scalar) and the terse status messages.
#define SHRINK_RT_TERSE_MESSAGES 1  // check.h's terse sites, for TerseMessagesNameTheSourceSite
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/src/check.h"
#include "runtime/src/interpreter.h"
#include "shrink_rt.h"
#include "tiny_shr.h"

namespace {

using shrink::test::TinyShr;
namespace k = shrink::rt::kernels;

std::vector<std::string> model_kernels(const shrink_rt_model* m) {
  std::vector<const char*> names(static_cast<size_t>(std::max(shrink_rt_model_kernels(m, nullptr, 0), 0)));
  EXPECT_EQ(shrink_rt_model_kernels(m, names.data(), static_cast<int>(names.size())), static_cast<int>(names.size()));
  return {names.begin(), names.end()};
}

// The kernels of the default tiny model: Quantize, Conv2d (CSR i8), Flatten, Linear (2-bit codebook), Dequantize.
const std::vector<std::string> kTinyKernels = {"conv2d_csr_q", "dense_q", "codebook_expand", "quantize_f32", "dequantize_q"};

/// The public kernel object of a name (every kernel of SHRINK_RT_KERNELS_ALL).
const shrink_rt_kernel* kernel_named(const std::string& name) {
#define SHRINK_TEST_KERNEL_CASE(n) \
  if (name == #n) return &shrink_rt_kernel_##n;
  SHRINK_RT_KERNELS_ALL(SHRINK_TEST_KERNEL_CASE)
#undef SHRINK_TEST_KERNEL_CASE
  ADD_FAILURE() << "no kernel " << name;
  return nullptr;
}

std::vector<const shrink_rt_kernel*> kernel_list(const std::vector<std::string>& names) {
  std::vector<const shrink_rt_kernel*> l;
  for (const std::string& n : names) l.push_back(kernel_named(n));
  l.push_back(nullptr);
  return l;
}

/// The model's output integers and floats for 5 inputs, with an arena of `arena_bytes`.
std::vector<float> outputs(shrink_rt_model* m, size_t arena_bytes) {
  std::vector<uint8_t> arena(arena_bytes, 0xA5);
  std::vector<float> all;
  for (int seed = 0; seed < 5; ++seed) {
    std::vector<float> x(16);
    for (int i = 0; i < 16; ++i) x[static_cast<size_t>(i)] = 0.5f + 0.37f * std::sin(static_cast<float>(i * 7 + seed));
    EXPECT_EQ(shrink_rt_set_input_f32(m, arena.data(), arena.size(), 0, x.data(), 16), SHRINK_RT_OK);
    EXPECT_EQ(shrink_rt_run(m, arena.data(), arena.size()), SHRINK_RT_OK);
    float y[3] = {0, 0, 0};
    int8_t q[3] = {0, 0, 0};
    EXPECT_EQ(shrink_rt_get_output_f32(m, arena.data(), 0, y, 3), SHRINK_RT_OK);
    EXPECT_EQ(shrink_rt_get_output_q(m, arena.data(), 0, q, 3), SHRINK_RT_OK);
    for (int i = 0; i < 3; ++i) {
      all.push_back(y[i]);
      all.push_back(q[i]);
    }
  }
  return all;
}

TEST(KernelTable, ModelKernelsListWhatEachStorageRuns) {
  struct Case {
    bool codebook, csr_codebook;
    std::vector<std::string> want;
  };
  for (const Case& c : {Case{false, false, kTinyKernels},
                        Case{true, false, {"conv2d_q", "dense_q", "codebook_expand", "quantize_f32", "dequantize_q"}},
                        Case{false, true, {"conv2d_csr_codebook_q", "dense_q", "codebook_expand", "quantize_f32", "dequantize_q"}}}) {
    TinyShr t;
    t.conv_codebook = c.codebook;
    t.conv_csr_codebook = c.csr_codebook;
    const std::vector<uint8_t> bytes = t.build();
    shrink_rt_model* m = nullptr;
    char err[256] = {0};
    ASSERT_EQ(shrink_rt_load(bytes.data(), bytes.size(), &m, err, sizeof err), SHRINK_RT_OK) << err;
    EXPECT_EQ(model_kernels(m), c.want);
    const char* two[2] = {nullptr, nullptr};
    EXPECT_EQ(shrink_rt_model_kernels(m, two, 2), 5);  // the count, only `max` names written
    EXPECT_STREQ(two[1], c.want[1].c_str());
    shrink_rt_free(m);
  }
  EXPECT_EQ(shrink_rt_model_kernels(nullptr, nullptr, 0), -1);
}

TEST(KernelTable, OnlyTheModelsKernelsGiveTheSameOutputs) {
  const std::vector<uint8_t> bytes = TinyShr{}.build();
  shrink_rt_model *all = nullptr, *few = nullptr;
  char err[256] = {0};
  ASSERT_EQ(shrink_rt_load(bytes.data(), bytes.size(), &all, err, sizeof err), SHRINK_RT_OK) << err;
  const std::vector<const shrink_rt_kernel*> list = kernel_list(kTinyKernels);
  ASSERT_EQ(shrink_rt_load_kernels(bytes.data(), bytes.size(), list.data(), &few, err, sizeof err), SHRINK_RT_OK) << err;
  EXPECT_EQ(shrink_rt_arena_size(few), shrink_rt_arena_size(all));
  const std::vector<float> want = outputs(all, shrink_rt_arena_size(all));
  EXPECT_EQ(outputs(few, shrink_rt_arena_size(few)), want);
  // A re-plan keeps the registered kernels.
  ASSERT_EQ(shrink_rt_keep_all_tensors(few), SHRINK_RT_OK);
  EXPECT_EQ(outputs(few, shrink_rt_arena_size(few)), want);
  shrink_rt_free(all);
  shrink_rt_free(few);
}

TEST(KernelTable, AMissingKernelFailsTheLoadWithItsName) {
  const std::vector<uint8_t> bytes = TinyShr{}.build();
  for (size_t drop = 0; drop < kTinyKernels.size(); ++drop) {
    std::vector<std::string> names = kTinyKernels;
    names.erase(names.begin() + static_cast<std::ptrdiff_t>(drop));
    names.push_back("softmax_f32");  // an unneeded kernel does not stand in
    const std::vector<const shrink_rt_kernel*> list = kernel_list(names);
    shrink_rt_model* m = reinterpret_cast<shrink_rt_model*>(&drop);  // must be reset to NULL
    char err[256] = {0};
    EXPECT_EQ(shrink_rt_load_kernels(bytes.data(), bytes.size(), list.data(), &m, err, sizeof err), SHRINK_RT_UNSUPPORTED);
    EXPECT_EQ(m, nullptr);
    EXPECT_NE(std::string(err).find("kernel " + kTinyKernels[drop] + " is not registered"), std::string::npos) << err;
  }
  const shrink_rt_kernel* const none[] = {nullptr};
  shrink_rt_model* m = nullptr;
  EXPECT_EQ(shrink_rt_load_kernels(bytes.data(), bytes.size(), none, &m, nullptr, 0), SHRINK_RT_UNSUPPORTED);
  EXPECT_EQ(shrink_rt_load_kernels(bytes.data(), bytes.size(), nullptr, &m, nullptr, 0), SHRINK_RT_INVALID_ARGUMENT);
  EXPECT_EQ(m, nullptr);
}

TEST(KernelTable, TheScalarArenaIsEnoughForTheScalarKernels) {
  const std::vector<uint8_t> bytes = TinyShr{}.build();
  shrink_rt_model* m = nullptr;
  char err[256] = {0};
  ASSERT_EQ(shrink_rt_load(bytes.data(), bytes.size(), &m, err, sizeof err), SHRINK_RT_OK) << err;
  const std::vector<float> want = outputs(m, shrink_rt_arena_size(m));
  const size_t scalar = shrink_rt_arena_size_scalar(m);
  EXPECT_GT(scalar, 0u);
  EXPECT_LE(scalar, shrink_rt_arena_size(m));
  if (!k::cpu_fast_paths()) {
    EXPECT_EQ(scalar, shrink_rt_arena_size(m));  // a build or CPU without fast kernels
  }
  // The scalar plan: no scratch for the Linear op (dense_q runs without), the CSR conv keeps its own.
  shrink::rt::Plan plan;
  ASSERT_TRUE(shrink::rt::prepare_plan(m->model, plan, m->plan->kernels, {.scalar = true}).ok());
  EXPECT_EQ(plan.arena_bytes(), scalar);
  const size_t conv = 1, linear = 3;  // Quantize, Conv2d, Flatten, Linear, Dequantize
  ASSERT_EQ(m->model.ops[linear].code, shrink::shr::OpCode::Linear);
  EXPECT_EQ(plan.scratch_buffer[linear], -1);
  EXPECT_GE(plan.scratch_buffer[conv], 0);
  // Run on the scalar kernels with an arena of exactly that size: the same outputs.
  const k::Isa before = k::active_isa();
  k::set_isa(k::Isa::kScalar);
  *m->plan = plan;
  EXPECT_EQ(shrink_rt_arena_size(m), scalar);
  EXPECT_EQ(outputs(m, scalar), want);
  k::set_isa(before);
  shrink_rt_free(m);
  EXPECT_EQ(shrink_rt_arena_size_scalar(nullptr), 0u);
}

TEST(KernelTable, TerseMessagesNameTheSourceSite) {
  const int line = __LINE__ + 1;
  const shrink::rt::Status s = SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "tensor %u is bad", 3u);
  EXPECT_EQ(s.code, SHRINK_RT_CORRUPT_MODEL);
  EXPECT_EQ(s.message, "kernel_table_test.cc:" + std::to_string(line));
  EXPECT_EQ(SHRINK_RT_MESSAGE(SHRINK_RT_UNSUPPORTED, shrink::rt::fail(SHRINK_RT_OK, "unused")).code, SHRINK_RT_UNSUPPORTED);
}

}  // namespace
