// .npy reader and writer: round trips, the byte layout NumPy expects, hostile files, and a
// cross-check against NumPy itself when python3-numpy is installed.
#include "compress/ir/npy.h"

#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "compress/ir/error.h"

namespace shrink::ir {
namespace {

namespace fs = std::filesystem;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

/// A .npy file made by hand: version major.0, the given header text padded to a multiple of 64.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1,
                      bool pad = true) {
  std::string h = dict;
  const size_t fixed = major == 1 ? 10 : 12;
  if (pad) h.append((64 - (fixed + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += '\0';
  const size_t n = h.size();
  out += char(n & 0xff);
  out += char((n >> 8) & 0xff);
  if (major == 2) {
    out += char((n >> 16) & 0xff);
    out += char((n >> 24) & 0xff);
  }
  return out + h + data;
}
template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

template <class F>
void expect_bad_input(F&& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "expected BadInput";
  } catch (const BadInput& e) {
    const std::string msg = e.what();
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << msg << " lacks " << n;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shrink_npy_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
  }
  void TearDown() override { fs::remove_all(tmp_); }
  std::string path(const std::string& name) const { return tmp_ + "/" + name; }
  std::string tmp_;
};

TEST_F(NpyTest, Float32RoundTripAndByteLayout) {
  Tensor t({2, 3, 4});
  for (int64_t i = 0; i < t.numel(); ++i) t.at(i) = 0.5f * static_cast<float>(i) - 3.25f;
  write_npy(path("a.npy"), t);
  const std::string bytes = read_all(path("a.npy"));
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(bytes[6], 1);
  EXPECT_EQ(bytes[7], 0);
  const size_t hlen = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u);  // data aligned as NumPy writes it
  const std::string header = bytes.substr(10, hlen);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << header;
  EXPECT_NE(header.find("'fortran_order': False"), std::string::npos) << header;
  EXPECT_NE(header.find("'shape': (2, 3, 4)"), std::string::npos) << header;
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(bytes.substr(10 + hlen), raw(t.data));

  const NpyArray a = read_npy(path("a.npy"));
  EXPECT_FALSE(a.is_int64);
  EXPECT_EQ(a.shape, t.shape);
  EXPECT_EQ(a.f32, t.data);
  EXPECT_TRUE(a.i64.empty());
}

TEST_F(NpyTest, Int64RoundTripOneDimAndScalar) {
  const std::vector<int64_t> v = {-5, 0, 7, int64_t{1} << 40};
  write_npy(path("v.npy"), Shape{4}, v);
  EXPECT_NE(read_all(path("v.npy")).find("'shape': (4,)"), std::string::npos);
  NpyArray a = read_npy(path("v.npy"));
  EXPECT_TRUE(a.is_int64);
  EXPECT_EQ(a.shape, Shape{4});
  EXPECT_EQ(a.i64, v);

  write_npy(path("s.npy"), Shape{}, std::vector<int64_t>{42});
  EXPECT_NE(read_all(path("s.npy")).find("'shape': ()"), std::string::npos);
  a = read_npy(path("s.npy"));
  EXPECT_EQ(a.shape, Shape{});
  EXPECT_EQ(a.i64, std::vector<int64_t>{42});

  write_npy(path("e.npy"), Shape{0, 3}, std::vector<int64_t>{});
  a = read_npy(path("e.npy"));
  EXPECT_EQ(a.shape, (Shape{0, 3}));
  EXPECT_TRUE(a.i64.empty());

  EXPECT_THROW(write_npy(path("bad.npy"), Shape{2, 2}, std::vector<int64_t>{1, 2, 3}), BadInput);
  EXPECT_FALSE(fs::exists(path("bad.npy")));
}

TEST_F(NpyTest, ReadsVersion2AndByteOrderVariants) {
  const std::vector<float> f = {1.5f, -2.0f, 3.0f};
  write_all(path("v2.npy"), npy_bytes("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3,)}",
                                      raw(f), /*major=*/2));
  NpyArray a = read_npy(path("v2.npy"));
  EXPECT_EQ(a.f32, f);
  EXPECT_EQ(a.shape, Shape{3});

  const std::vector<int64_t> i = {1, 2, 3, 4, 5, 6};
  for (const char* descr : {"|i8", "=i8", "<i8"}) {
    write_all(path("i.npy"), npy_bytes(std::string("{'shape': (2, 3), 'fortran_order': False, 'descr': '") +
                                           descr + "', }", raw(i), 1, /*pad=*/false));
    a = read_npy(path("i.npy"));
    EXPECT_TRUE(a.is_int64) << descr;
    EXPECT_EQ(a.shape, (Shape{2, 3})) << descr;
    EXPECT_EQ(a.i64, i) << descr;
  }
}

TEST_F(NpyTest, HostileFilesAreBadInputNamingFileAndField) {
  const std::string p = path("h.npy");
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  const std::vector<float> four = {1, 2, 3, 4};

  write_all(p, npy_bytes(ok_dict, raw(four).substr(0, 10)));  // truncated data
  expect_bad_input([&] { read_npy(p); }, {p, "shape", "truncated"});

  write_all(p, npy_bytes(ok_dict, raw(four) + "xx"));  // trailing bytes
  expect_bad_input([&] { read_npy(p); }, {p, "shape", "too many"});

  write_all(p, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                         std::string(32, '\0')));
  expect_bad_input([&] { read_npy(p); }, {p, "descr", "<f8"});

  write_all(p, npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", raw(four)));
  expect_bad_input([&] { read_npy(p); }, {p, "descr", ">f4"});

  write_all(p, npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", raw(four)));
  expect_bad_input([&] { read_npy(p); }, {p, "fortran_order"});

  write_all(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, }", raw(four)));
  expect_bad_input([&] { read_npy(p); }, {p, "'shape'"});

  write_all(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -2), }", raw(four)));
  expect_bad_input([&] { read_npy(p); }, {p, "shape"});

  write_all(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, "
                         "4294967296), }", raw(four)));
  expect_bad_input([&] { read_npy(p); }, {p, "shape"});

  write_all(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)", raw(four)));
  expect_bad_input([&] { read_npy(p); }, {p, "header"});

  // Version 2.0 header length of 70,000 bytes: refused before it is read.
  std::string huge = "\x93NUMPY";
  huge += '\x02';
  huge += '\0';
  huge += std::string("\x70\x11\x01\x00", 4);  // 0x011170 = 70,000
  write_all(p, huge + std::string(100, ' '));
  expect_bad_input([&] { read_npy(p); }, {p, "header length 70000", "64 KiB"});

  write_all(p, "\x93NUMPZ\x01\x00" + std::string(60, ' '));
  expect_bad_input([&] { read_npy(p); }, {p, "magic"});

  write_all(p, std::string("\x93NUMPY\x03\x00", 8) + std::string(60, ' '));
  expect_bad_input([&] { read_npy(p); }, {p, "version 3.0"});

  write_all(p, "\x93NU");
  expect_bad_input([&] { read_npy(p); }, {p});

  expect_bad_input([&] { read_npy(path("missing.npy")); }, {path("missing.npy")});
}

/// A Python that can import numpy (the one on PATH, else Debian's), or "" when there is none.
std::string numpy_python() {
  for (const char* py : {"python3", "/usr/bin/python3"})
    if (std::system((std::string(py) + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) return py;
  return "";
}

TEST_F(NpyTest, CrossCheckWithNumpy) {
  const std::string py = numpy_python();
  if (py.empty()) GTEST_SKIP() << "python3-numpy is not installed";
  // NumPy writes, we read.
  const std::string script =
      "import numpy as np\n"
      "np.save('" + path("np_f.npy") + "', (np.arange(24, dtype=np.float32) * 0.5 - 3).reshape(2, 3, 4))\n"
      "np.save('" + path("np_i.npy") + "', np.array([-1, 2, 1 << 40], dtype=np.int64))\n";
  write_all(path("w.py"), script);
  ASSERT_EQ(std::system((py + " " + path("w.py")).c_str()), 0);
  const NpyArray f = read_npy(path("np_f.npy"));
  ASSERT_EQ(f.shape, (Shape{2, 3, 4}));
  for (int i = 0; i < 24; ++i) EXPECT_EQ(f.f32[i], 0.5f * i - 3.0f);
  const NpyArray i = read_npy(path("np_i.npy"));
  EXPECT_EQ(i.i64, (std::vector<int64_t>{-1, 2, int64_t{1} << 40}));

  // We write, NumPy reads (and checks dtype, shape and values; exit 0 only if all match).
  Tensor t({3, 2}, {1, -2, 3.5f, 4, 5, 6.25f});
  write_npy(path("ours_f.npy"), t);
  write_npy(path("ours_i.npy"), Shape{2, 1}, std::vector<int64_t>{7, -8});
  const std::string check =
      "import numpy as np, sys\n"
      "a = np.load('" + path("ours_f.npy") + "')\n"
      "b = np.load('" + path("ours_i.npy") + "')\n"
      "ok = a.dtype == np.float32 and a.shape == (3, 2) and a.tolist() == [[1, -2], [3.5, 4], [5, 6.25]]\n"
      "ok = ok and b.dtype == np.int64 and b.shape == (2, 1) and b.tolist() == [[7], [-8]]\n"
      "sys.exit(0 if ok else 1)\n";
  write_all(path("r.py"), check);
  EXPECT_EQ(std::system((py + " " + path("r.py")).c_str()), 0);
}

}  // namespace
}  // namespace shrink::ir
