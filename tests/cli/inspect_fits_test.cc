// `shrink-rt inspect` on an int8 LeNet-5 (431k weights, a 437 KB .shr): its "fits on" lines say
// no for a Cortex-M4 with 128 KB (and 256 KB) of flash, the flash estimate being the file size plus
// the measured firmware constant, while its RAM estimate (the Cortex-M4 arena plus the firmware's
// RAM) is under 64 KB. (tests/runtime/inspect_fits_test.cc: a small model says yes.)
#include <gtest/gtest.h>

#include "tests/cli/cli_util.h"
#include "tests/runtime/inspect_fits.h"

namespace shrink::clitest {
namespace {

TEST(InspectFits, AnInt8LeNet5DoesNotFit128KbOfFlash) {
  TempDir t;
  CmdResult r = run_shrink("quantize '" + trained_model("lenet5") +
                               "' --data fashion-mnist --bits 8 --calibration 100 --limit 100 --threads 1 -o q.h5",
                           t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_shrink("export q.h5 --format shr --entropy off -o q.shr", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_program(std::string(SHRINK_BIN_DIR) + "/shrink-rt", "inspect q.shr", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto file = static_cast<unsigned long long>(fs::file_size(t / "q.shr"));
  EXPECT_GT(file, 400000u);
  for (const char* target : {"Cortex-M4 256 KB flash / 64 KB RAM", "Cortex-M4 128 KB flash / 64 KB RAM"}) {
    const test::FitsLine f = test::fits_line(r.out, target);
    ASSERT_TRUE(f.found) << target << " in:\n" << r.out;
    EXPECT_EQ(f.verdict, "no") << target;
    EXPECT_EQ(f.file, file);
    EXPECT_EQ(f.flash, file + f.fw_flash);
    EXPECT_EQ(f.ram, f.arena + f.decoded + f.fw_ram);
    EXPECT_LT(f.ram, 64u * 1024) << "the scalar-kernel arena of LeNet-5 is about 14 KB";
  }
}

}  // namespace
}  // namespace shrink::clitest
