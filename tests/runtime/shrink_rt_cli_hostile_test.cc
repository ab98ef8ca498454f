// `shrink-rt run` on 300 random corruptions of a real int8 .shr (tiny_shr.h: Quantize, CSR conv
// with per-channel FLs, codebook Linear, Dequantize): each must exit 2 with one line on stderr,
// never die of a signal, never accept the file (issue 9, "Done when"). Truncations and bit flips
// anywhere, the header included, with the CRCs as they are; plus cuts and header flips with the
// CRCs recomputed, so that the checks behind the CRCs have to refuse them.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "runtime/tools/npy.h"
#include "tests/cli/cli_util.h"
#include "tests/runtime/tiny_shr.h"

namespace shrink::test {
namespace {

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

/// Corruption `i` of `good` (a different byte string) and what it is, for the messages.
std::vector<uint8_t> corrupt(const std::vector<uint8_t>& good, int i, std::mt19937_64& rng, std::string& what) {
  for (;;) {
    std::vector<uint8_t> b = good;
    if (i < 100) {  // a cut anywhere
      b.resize(static_cast<size_t>(rng() % good.size()));
      what = "cut to " + std::to_string(b.size()) + " bytes";
    } else if (i < 250) {  // 1..8 bit flips anywhere
      what = "bits flipped at";
      for (int k = 1 + static_cast<int>(rng() % 8); k > 0; --k) {
        const size_t at = static_cast<size_t>(rng() % (i < 150 ? 64 + 32 * 9 : b.size()));  // 100 in the header and table
        b[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
        what += " " + std::to_string(at);
      }
    } else if (i < 275) {  // a cut that the header's file_size and every CRC agree with
      b.resize(64 + static_cast<size_t>(rng() % (good.size() - 64)));
      const uint64_t size = b.size();
      std::memcpy(b.data() + offsetof(shr::FileHeader, file_size), &size, 8);
      fix_crcs(b.data(), b.size());
      what = "cut to " + std::to_string(b.size()) + " bytes, size and CRCs fixed";
    } else {  // a header bit flipped, CRCs fixed (not bit 0 of the flags: informational, see docs/security.md)
      size_t at;
      int bit;
      do {
        at = static_cast<size_t>(rng() % shr::kHeaderCrcSpan);
        bit = static_cast<int>(rng() % 8);
      } while (at == offsetof(shr::FileHeader, flags) && bit == 0);
      b[at] ^= static_cast<uint8_t>(1u << bit);
      fix_crcs(b.data(), b.size());
      what = "header bit " + std::to_string(bit) + " of byte " + std::to_string(at) + " flipped, CRCs fixed";
    }
    if (b != good) return b;
  }
}

TEST(ShrinkRtHostile, ThreeHundredCorruptionsOfAnInt8ModelExitTwoWithOneLine) {
  clitest::TempDir d;
  const std::vector<uint8_t> good = TinyShr().build();
  const std::string rt = std::string(SHRINK_BIN_DIR) + "/shrink-rt";
  std::vector<float> x(16);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f * static_cast<float>(i) - 2.0f;
  std::string err;
  ASSERT_TRUE(rttool::write_npy(d / "x.npy", "<f4", {1, 4, 4}, x.data(), x.size() * 4, err)) << err;
  // The intact model runs.
  write_bytes(d / "m.shr", good);
  clitest::CmdResult r = clitest::run_program(rt, "run m.shr --input x.npy -o y.npy", d.path());
  ASSERT_EQ(r.code, 0) << r.err;
  rttool::NpyArray y;
  ASSERT_TRUE(rttool::read_npy(d / "y.npy", y, err)) << err;
  EXPECT_EQ(y.shape, (std::vector<int64_t>{3}));

  std::mt19937_64 rng(2026);
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    std::string what;
    write_bytes(d / "m.shr", corrupt(good, i, rng, what));
    std::remove((d / "y.npy").c_str());
    r = clitest::run_program(rt, "run m.shr --input x.npy -o y.npy", d.path());
    EXPECT_EQ(r.code, 2) << what << " (128 + n: signal n): " << r.err;
    EXPECT_EQ(clitest::line_count(r.err), 1) << what << ": " << r.err;
    EXPECT_EQ(r.err.rfind("shrink-rt: m.shr: ", 0), 0u) << what << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << what << ": " << r.out;
    EXPECT_FALSE(std::filesystem::exists(d / "y.npy")) << what << ": accepted";
    refused += r.code == 2;
  }
  EXPECT_EQ(refused, 300);
}

}  // namespace
}  // namespace shrink::test
