// shrink export --format shr on real models: an fp32 LeNet-5 and its 8-bit quantized version.
// (The file's contents are checked with the runtime's loader in tests/export/shr_writer_test.cc;
// here the command, its exit codes and the header the runtime reads first.)
#include <cstring>

#include <gtest/gtest.h>

#include "runtime/format/shr_format.h"
#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

shr::FileHeader header_of(const fs::path& p) {
  const std::string bytes = slurp(p);
  shr::FileHeader h{};
  EXPECT_GE(bytes.size(), sizeof h);
  if (bytes.size() >= sizeof h) std::memcpy(&h, bytes.data(), sizeof h);
  EXPECT_EQ(h.file_size, bytes.size());
  return h;
}

TEST(CliExportShr, Fp32AndQuantizedModels) {
  TempDir t;
  const std::string model = trained_model();
  CmdResult r = run_shrink("export '" + model + "' --format shr -o m.shr", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote m.shr"), std::string::npos) << r.out;
  shr::FileHeader h = header_of(t / "m.shr");
  EXPECT_EQ(std::memcmp(h.magic, shr::kMagic, 8), 0);
  EXPECT_EQ(h.version, shr::kVersion);
  EXPECT_EQ(h.flags, 0u);
  const uint64_t fp32_size = h.file_size;
  EXPECT_GT(fp32_size, 431080u * 4);  // LeNet-5's parameters in f32

  r = run_shrink("quantize '" + model + "' --data fashion-mnist --scheme fixed --bits 8 --calibration 200 -o q8.h5",
                 t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_shrink("export q8.h5 --format shr -o q8.shr", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  h = header_of(t / "q8.shr");
  EXPECT_EQ(h.flags, shr::kFlagInteger);
  EXPECT_LT(h.file_size, fp32_size / 3);  // int8 weights, int32 biases
  EXPECT_GT(h.file_size, 431080u);

  // The output folder must exist; nothing is left behind on failure.
  expect_bad_input(run_shrink("export '" + model + "' --format shr -o no/such/dir/m.shr", t.path()), "no/such/dir");
}

}  // namespace
}  // namespace shrink::clitest
