// Hostile .npy files for shrink-rt's reader (runtime/tools/npy.cc; issue 9, item 3): wrong
// dtype, Fortran order, a huge header, truncated data and shape products that overflow are each
// refused with a one-line message, by read_npy and by `shrink-rt run` (exit 2). The libFuzzer
// target fuzz/npy_fuzzer.cc fuzzes the same reader.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/tools/npy.h"
#include "tests/cli/cli_util.h"
#include "tests/runtime/tiny_shr.h"

namespace shrink::rttool {
namespace {

using clitest::TempDir;

/// A .npy image: magic, version, header length (2 bytes for version 1, 4 otherwise), the header
/// text padded with spaces and a newline to a multiple of 64, then `data`.
std::string npy_image(const std::string& dict, const std::string& data, int version = 1) {
  const size_t pre = version == 1 ? 10 : 12;
  std::string h = dict;
  h.append((64 - (pre + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string s = "\x93NUMPY";
  s += static_cast<char>(version);
  s += '\0';
  for (size_t i = 0; i < pre - 8; ++i) s += static_cast<char>((h.size() >> (8 * i)) & 0xFF);
  return s + h + data;
}

std::string dict(const std::string& descr, const std::string& fortran, const std::string& shape) {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

void write_file(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

/// read_npy's message for `bytes` (empty when the file reads).
std::string read_error(const std::string& bytes) {
  TempDir d;
  const std::string path = d / "x.npy";
  write_file(path, bytes);
  NpyArray a;
  std::string err;
  if (read_npy(path, a, err)) return "";
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  EXPECT_EQ(err.rfind(path + ": ", 0), 0u) << err;  // names the file
  return err;
}

void expect_error(const std::string& bytes, const std::string& part) {
  const std::string err = read_error(bytes);
  EXPECT_NE(err.find(part), std::string::npos) << "error: '" << err << "'\nexpected: " << part;
}

TEST(NpyReader, ReadsFloat32AndInt64) {
  TempDir d;
  const float f[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
  write_file(d / "f.npy", npy_image(dict("<f4", "False", "(2, 3)"), std::string(reinterpret_cast<const char*>(f), 24)));
  NpyArray a;
  std::string err;
  ASSERT_TRUE(read_npy(d / "f.npy", a, err)) << err;
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.f32, std::vector<float>(f, f + 6));
  const int64_t q[2] = {-5, 1LL << 40};
  write_file(d / "q.npy", npy_image(dict("<i8", "False", "(2,)"), std::string(reinterpret_cast<const char*>(q), 16), 2));
  ASSERT_TRUE(read_npy(d / "q.npy", a, err)) << err;
  EXPECT_TRUE(a.is_int64);
  EXPECT_EQ(a.i64, (std::vector<int64_t>{-5, 1LL << 40}));
  // An empty array and a scalar.
  EXPECT_EQ(read_error(npy_image(dict("<f4", "False", "(0, 3)"), "")), "");
  EXPECT_EQ(read_error(npy_image(dict("<f4", "False", "()"), "abcd")), "");
}

TEST(NpyReader, WrongDtype) {
  for (const char* descr : {"<f8", ">f4", "<i4", "|u1", "|b1", "<c8", "O"})
    expect_error(npy_image(dict(descr, "False", "(2,)"), std::string(16, '\0')),
                 std::string("dtype '") + descr + "' is not supported (expected float32 '<f4' or int64 '<i8')");
}

TEST(NpyReader, FortranOrder) {
  expect_error(npy_image(dict("<f4", "True", "(2, 2)"), std::string(16, '\0')), "Fortran-order arrays are not supported");
  expect_error(npy_image("{'descr': '<f4', 'shape': (2,), }", std::string(8, '\0')),
               "header lacks descr, fortran_order or shape");
}

TEST(NpyReader, HugeHeader) {
  // Version 2 lengths are 4 bytes: a 4 GiB header is refused before anything is allocated.
  std::string s = npy_image(dict("<f4", "False", "(1,)"), std::string(4, '\0'), 2);
  s[8] = s[9] = s[10] = s[11] = '\xFF';
  expect_error(s, "header length 4294967295 exceeds the 65536-byte limit");
  s[10] = 1;  // 65536 + 65535 bytes: still past the limit
  s[11] = 0;
  expect_error(s, "header length 131071 exceeds the 65536-byte limit");
  // A length within the limit but past the end of the file.
  s = npy_image(dict("<f4", "False", "(1,)"), std::string(4, '\0'));
  s[8] = s[9] = '\xFF';
  expect_error(s, "header length 65535 exceeds the file");
  expect_error(npy_image(dict("<f4", "False", "(1,)"), "", 9), "unsupported .npy version 9");
}

TEST(NpyReader, TruncatedData) {
  const std::string full = npy_image(dict("<f4", "False", "(2, 3)"), std::string(24, '\x01'));
  expect_error(full.substr(0, full.size() - 4), "the data has 20 bytes, the shape needs 24");
  expect_error(full + "xx", "the data has 26 bytes, the shape needs 24");
  expect_error(full.substr(0, 9), "not a .npy file (bad magic)");
  expect_error(full.substr(0, 40), "header length 118 exceeds the file");
}

TEST(NpyReader, ShapeProductOverflow) {
  // 2^40 * 2^40 would overflow int64 if multiplied first.
  expect_error(npy_image(dict("<f4", "False", "(1099511627776, 1099511627776)"), ""), "has more than 2^40 elements");
  expect_error(npy_image(dict("<f4", "False", "(4294967296, 4294967296, 4294967296)"), ""), "has more than 2^40 elements");
  expect_error(npy_image(dict("<f4", "False", "(99999999999999999999999,)"), ""), "has a dimension past 2^40");
  // A zero dim keeps the product 0 whatever follows.
  EXPECT_EQ(read_error(npy_image(dict("<f4", "False", "(0, 1099511627776, 1099511627776)"), "")), "");
  expect_error(npy_image(dict("<f4", "False", "(-1, 3)"), ""), "bad shape (-1, 3)");
  expect_error(npy_image(dict("<f4", "False", "12345"), ""), "bad shape 12345");
}

// `shrink-rt run` on each kind of bad array: exit 2, one line on stderr naming the file.
TEST(NpyReader, ShrinkRtRunRefusesBadArraysWithExitTwo) {
  TempDir d;
  const std::vector<uint8_t> model = test::TinyShr().build();
  write_file(d / "m.shr", std::string(model.begin(), model.end()));
  const std::string x16(64, '\0');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {npy_image(dict("<f4", "False", "(1, 4, 4)"), x16), ""},  // the valid input: exit 0
      {npy_image(dict("<f8", "False", "(1, 4, 4)"), x16 + x16), "dtype '<f8' is not supported"},
      {npy_image(dict("<f4", "True", "(1, 4, 4)"), x16), "Fortran-order"},
      {npy_image(dict("<f4", "False", "(1, 4, 4)"), x16.substr(1)), "the data has 63 bytes, the shape needs 64"},
      {npy_image(dict("<f4", "False", "(1099511627776, 1099511627776)"), ""), "more than 2^40 elements"},
      {npy_image(dict("<f4", "False", "(2, 4, 4)"), x16 + x16), "shape does not match the model's input [1, 4, 4]"},
      {npy_image(dict("<f4\n", "False", "(1, 4, 4)"), x16), "dtype '<f4?' is not supported"},  // a newline in the header
  };
  for (const auto& [bytes, needle] : cases) {
    write_file(d / "x.npy", bytes);
    const clitest::CmdResult r = clitest::run_program(std::string(SHRINK_BIN_DIR) + "/shrink-rt",
                                                      "run m.shr --input x.npy -o y.npy", d.path());
    if (needle.empty()) {
      EXPECT_EQ(r.code, 0) << r.err;
      continue;
    }
    EXPECT_EQ(r.code, 2) << needle << ": " << r.err;
    EXPECT_EQ(clitest::line_count(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("shrink-rt: x.npy: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
  }
}

}  // namespace
}  // namespace shrink::rttool
