// The "fits on" lines of `shrink-rt inspect` (docs/mcu.md) on a small model: both Cortex-M4
// targets say yes, and each estimate is the file size plus the measured firmware flash, and the
// Cortex-M4 arena (shrink_rt_arena_size_scalar) plus the firmware RAM. (tests/cli/
// inspect_fits_test.cc: an int8 LeNet-5 says no for 128 KB.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shrink_rt.h"
#include "tests/cli/cli_util.h"
#include "tests/runtime/inspect_fits.h"
#include "tests/runtime/tiny_shr.h"

namespace shrink::test {
namespace {

TEST(InspectFits, ASmallModelFitsBothCortexM4Targets) {
  clitest::TempDir d;
  const std::vector<uint8_t> bytes = TinyShr().build();
  clitest::write(d / "m.shr", std::string(bytes.begin(), bytes.end()));
  const clitest::CmdResult r = clitest::run_program(std::string(SHRINK_BIN_DIR) + "/shrink-rt", "inspect m.shr", d.path());
  ASSERT_EQ(r.code, 0) << r.err;
  shrink_rt_model* m = nullptr;
  ASSERT_EQ(shrink_rt_load(bytes.data(), bytes.size(), &m, nullptr, 0), SHRINK_RT_OK);
  const size_t arena = shrink_rt_arena_size_scalar(m);
  shrink_rt_free(m);
  for (const char* target : {"Cortex-M4 256 KB flash / 64 KB RAM", "Cortex-M4 128 KB flash / 64 KB RAM"}) {
    const FitsLine f = fits_line(r.out, target);
    ASSERT_TRUE(f.found) << target << " in:\n" << r.out;
    EXPECT_EQ(f.verdict, "yes") << target;
    EXPECT_EQ(f.file, bytes.size());
    EXPECT_EQ(f.flash, f.file + f.fw_flash);
    EXPECT_GT(f.fw_flash, 40000u);  // the runtime, newlib-nano and the harness: tens of KB
    EXPECT_EQ(f.arena, arena);
    EXPECT_EQ(f.decoded, 0u);
    EXPECT_EQ(f.ram, f.arena + f.decoded + f.fw_ram);
  }
}

}  // namespace
}  // namespace shrink::test
