// Data set readers: Fashion-MNIST splits, idx:DIR, hdf5:FILE, hostile files, shuffling.
#include "compress/ir/dataset.h"

#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#if __has_include(<hdf5.h>)
#include <hdf5.h>
#else
#include <hdf5/serial/hdf5.h>
#endif

#include <gtest/gtest.h>

#include "compress/ir/error.h"

namespace shrink::ir {
namespace {

namespace fs = std::filesystem;
const std::string kFashionDir = "/usr/share/datasets/fashion-mnist";
constexpr int64_t kPixels = 28 * 28;

/// Reads `count` bytes at `offset` of the decompressed gzip file, independently of dataset.cc.
std::vector<uint8_t> gz_bytes(const std::string& path, long offset, unsigned count) {
  gzFile f = gzopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr) << path;
  std::vector<uint8_t> out(count);
  EXPECT_EQ(gzseek(f, offset, SEEK_SET), offset);
  EXPECT_EQ(gzread(f, out.data(), count), static_cast<int>(count));
  gzclose(f);
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return out;
}
void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}
std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}
/// A small IDX pair: n images of rows x cols with pixel (i, k) = (i * 7 + k) % 256, label i % 3.
void write_idx_pair(const std::string& dir, const std::string& prefix, uint32_t n, uint32_t rows,
                    uint32_t cols, uint32_t label_count) {
  std::string img = be32(0x803) + be32(n) + be32(rows) + be32(cols);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t k = 0; k < rows * cols; ++k) img += char((i * 7 + k) % 256);
  std::string lab = be32(0x801) + be32(label_count);
  for (uint32_t i = 0; i < label_count; ++i) lab += char(i % 3);
  write_gz(dir + "/" + prefix + "-images-idx3-ubyte.gz", img);
  write_gz(dir + "/" + prefix + "-labels-idx1-ubyte.gz", lab);
}

/// Expects BadInput whose message contains `needle`.
template <class F>
void expect_bad_input(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected BadInput mentioning " << needle;
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
  }
}

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shrink_dataset_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
  }
  void TearDown() override { fs::remove_all(tmp_); }
  std::string tmp_;
};

TEST_F(DatasetTest, FashionMnistSplitSizes) {
  const Dataset train = load_dataset("fashion-mnist", Split::Train);
  const Dataset val = load_dataset("fashion-mnist", Split::Val);
  const Dataset test = load_dataset("fashion-mnist", Split::Test);
  EXPECT_EQ(train.size, 55000);
  EXPECT_EQ(val.size, 5000);
  EXPECT_EQ(test.size, 10000);
  for (const Dataset* d : {&train, &val, &test}) {
    EXPECT_EQ(d->sample_shape, (Shape{1, 28, 28}));
    EXPECT_EQ(static_cast<int64_t>(d->x.size()), d->size * kPixels);
    EXPECT_EQ(static_cast<int64_t>(d->y.size()), d->size);
    EXPECT_EQ(d->num_classes, 10);
    ASSERT_EQ(d->labels.size(), 10u);
    EXPECT_EQ(d->labels[0], "T-shirt/top");
    EXPECT_EQ(d->labels[9], "Ankle boot");
  }
  EXPECT_EQ(val.name, "fashion-mnist:val");
}

TEST_F(DatasetTest, LabelsInRangeAndPixelsInUnitInterval) {
  const Dataset test = load_dataset("fashion-mnist", Split::Test);
  std::set<int64_t> seen(test.y.begin(), test.y.end());
  EXPECT_EQ(seen, (std::set<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  const auto [lo, hi] = std::minmax_element(test.x.begin(), test.x.end());
  EXPECT_EQ(*lo, 0.0f);
  EXPECT_EQ(*hi, 1.0f);  // 255 / 255 exactly
}

TEST_F(DatasetTest, ValIsTheTailOfTheTrainingFile) {
  const Dataset val = load_dataset("fashion-mnist", Split::Val);
  const auto img = gz_bytes(kFashionDir + "/train-images-idx3-ubyte.gz", 16 + 55000 * kPixels, kPixels);
  const auto lab = gz_bytes(kFashionDir + "/train-labels-idx1-ubyte.gz", 8 + 55000, 1);
  for (int64_t k = 0; k < kPixels; ++k) ASSERT_EQ(val.x[k], img[k] / 255.0f) << k;
  EXPECT_EQ(val.y[0], lab[0]);
  // And the last val sample is the last image of the file.
  const auto last = gz_bytes(kFashionDir + "/train-images-idx3-ubyte.gz", 16 + 59999 * kPixels, kPixels);
  for (int64_t k = 0; k < kPixels; ++k) ASSERT_EQ(val.x[4999 * kPixels + k], last[k] / 255.0f) << k;
}

TEST_F(DatasetTest, LimitTakesTheFirstSamplesOfTheSplit) {
  const Dataset full = load_dataset("fashion-mnist", Split::Val);
  const Dataset few = load_dataset("fashion-mnist", Split::Val, 7);
  ASSERT_EQ(few.size, 7);
  EXPECT_EQ(few.y, std::vector<int64_t>(full.y.begin(), full.y.begin() + 7));
  EXPECT_EQ(few.x, std::vector<float>(full.x.begin(), full.x.begin() + 7 * kPixels));
  EXPECT_EQ(load_dataset("fashion-mnist", Split::Test, 0).size, 0);
  EXPECT_EQ(load_dataset("fashion-mnist", Split::Val, 999999).size, 5000);
  const Dataset train3 = load_dataset("fashion-mnist", Split::Train, 3);
  const auto lab = gz_bytes(kFashionDir + "/train-labels-idx1-ubyte.gz", 8, 3);
  EXPECT_EQ(train3.y, (std::vector<int64_t>{lab[0], lab[1], lab[2]}));
}

TEST_F(DatasetTest, ReadsAllTrainingImagesQuickly) {
  const auto t0 = std::chrono::steady_clock::now();
  const Dataset train = load_dataset("fashion-mnist", Split::Train);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(train.size, 55000);
  // Decompressing 47 MB and converting takes ~0.3 s; the bound leaves room for a busy machine.
  EXPECT_LT(s, 2.0) << "reading the training file took " << s << " s";
}

TEST_F(DatasetTest, IdxDirReadsACopiedFolderGzipOrPlain) {
  const std::string gzdir = tmp_ + "/gz", plain = tmp_ + "/plain";
  fs::create_directories(gzdir);
  fs::create_directories(plain);
  for (const char* f : {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    fs::copy_file(kFashionDir + "/" + f + ".gz", gzdir + "/" + f + ".gz");
    write_all(plain + "/" + f, gunzip(kFashionDir + "/" + f + ".gz"));
  }
  const Dataset ref = load_dataset("fashion-mnist", Split::Test, 500);
  for (const std::string& dir : {gzdir, plain}) {
    const Dataset d = load_dataset("idx:" + dir, Split::Test, 500);
    EXPECT_EQ(d.size, 500);
    EXPECT_EQ(d.x, ref.x) << dir;
    EXPECT_EQ(d.y, ref.y) << dir;
    EXPECT_EQ(d.num_classes, 10);
    EXPECT_EQ(d.name, "idx:" + dir + ":test");
  }
  // data_dir overrides the default folder of fashion-mnist.
  EXPECT_EQ(load_dataset("fashion-mnist", Split::Test, 5, gzdir).y,
            std::vector<int64_t>(ref.y.begin(), ref.y.begin() + 5));
}

TEST_F(DatasetTest, IdxSmallFolderSplitsElevenTwelfths) {
  write_idx_pair(tmp_, "train", 24, 2, 3, 24);
  const Dataset tr = load_dataset("idx:" + tmp_, Split::Train);
  const Dataset va = load_dataset("idx:" + tmp_, Split::Val);
  EXPECT_EQ(tr.size, 22);
  EXPECT_EQ(va.size, 2);
  EXPECT_EQ(tr.sample_shape, (Shape{1, 2, 3}));
  EXPECT_EQ(tr.num_classes, 3);
  EXPECT_TRUE(tr.labels.empty());
  // Sample 22 (first of val), pixel k = (22 * 7 + k) % 256.
  for (int k = 0; k < 6; ++k) EXPECT_EQ(va.x[k], ((22 * 7 + k) % 256) / 255.0f);
  EXPECT_EQ(va.y[0], 22 % 3);
}

TEST_F(DatasetTest, TruncatedGzipIsBadInputNamingTheFile) {
  fs::copy_file(kFashionDir + "/t10k-labels-idx1-ubyte.gz", tmp_ + "/t10k-labels-idx1-ubyte.gz");
  const std::string img = tmp_ + "/t10k-images-idx3-ubyte.gz";
  const std::string full = read_all(kFashionDir + "/t10k-images-idx3-ubyte.gz");
  write_all(img, full.substr(0, full.size() / 2));
  expect_bad_input([&] { load_dataset("idx:" + tmp_, Split::Test); }, img);
  // Only the 8-byte gzip trailer (CRC, length) missing: all data decompresses, still refused.
  write_all(img, full.substr(0, full.size() - 8));
  expect_bad_input([&] { load_dataset("idx:" + tmp_, Split::Test); }, img);
}

TEST_F(DatasetTest, HostileIdxHeadersAreBadInput) {
  write_idx_pair(tmp_, "t10k", 10, 4, 4, 9);  // 10 images, 9 labels
  expect_bad_input([&] { load_dataset("idx:" + tmp_, Split::Test); }, "t10k-labels-idx1-ubyte.gz");
  const std::string lab = tmp_ + "/t10k-labels-idx1-ubyte.gz";
  write_gz(lab, be32(0x803) + be32(10) + std::string(10, '\1'));  // images magic in a labels file
  expect_bad_input([&] { load_dataset("idx:" + tmp_, Split::Test); }, "bad IDX magic 0x00000803");
  // The header promises more images than the file holds (plain file, no gzip).
  fs::remove(tmp_ + "/t10k-images-idx3-ubyte.gz");
  write_gz(lab, be32(0x801) + be32(1000000) + std::string(1000000, '\1'));
  write_all(tmp_ + "/t10k-images-idx3-ubyte", be32(0x803) + be32(1000000) + be32(28) + be32(28) +
                                                   std::string(100, '\0'));
  expect_bad_input([&] { load_dataset("idx:" + tmp_, Split::Test); }, "truncated");
}

TEST_F(DatasetTest, MissingFolderOrFileOrUnknownSpecIsBadInput) {
  expect_bad_input([&] { load_dataset("fashion-mnist", Split::Test, -1, tmp_ + "/nope"); },
                   tmp_ + "/nope");
  expect_bad_input([&] { load_dataset("idx:" + tmp_, Split::Test); }, "t10k-images-idx3-ubyte");
  expect_bad_input([&] { load_dataset("hdf5:" + tmp_ + "/none.h5", Split::Test); }, "none.h5");
  write_all(tmp_ + "/text.h5", "not hdf5");
  expect_bad_input([&] { load_dataset("hdf5:" + tmp_ + "/text.h5", Split::Test); }, "text.h5");
  expect_bad_input([&] { load_dataset("cifar", Split::Test); }, "cifar");
  expect_bad_input([&] { split_from_name("validation"); }, "validation");
  EXPECT_EQ(split_from_name("val"), Split::Val);
  EXPECT_STREQ(split_name(Split::Test), "test");
}

/// Writes x (float32, dims) and y (int64) with the HDF5 C API.
void write_h5(const std::string& path, const std::vector<hsize_t>& xdims, const std::vector<float>& x,
              const std::vector<int64_t>& y, bool with_y = true) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t xs = H5Screate_simple(static_cast<int>(xdims.size()), xdims.data(), nullptr);
  hid_t xd = H5Dcreate2(f, "x", H5T_IEEE_F32LE, xs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(H5Dwrite(xd, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x.data()), 0);
  H5Dclose(xd);
  H5Sclose(xs);
  if (with_y) {
    const hsize_t n = y.size();
    hid_t ys = H5Screate_simple(1, &n, nullptr);
    hid_t yd = H5Dcreate2(f, "y", H5T_STD_I64LE, ys, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(H5Dwrite(yd, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, y.data()), 0);
    H5Dclose(yd);
    H5Sclose(ys);
  }
  H5Fclose(f);
}

TEST_F(DatasetTest, Hdf5FileSplitsAndValues) {
  const int64_t n = 36, per = 2 * 3 * 4;
  std::vector<float> x(n * per);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f * static_cast<float>(i);
  std::vector<int64_t> y(n);
  for (int64_t i = 0; i < n; ++i) y[i] = (i * 5) % 7;  // max label 6 -> 7 classes
  const std::string path = tmp_ + "/data.h5";
  write_h5(path, {hsize_t(n), 2, 3, 4}, x, y);

  const Dataset tr = load_dataset("hdf5:" + path, Split::Train);
  const Dataset va = load_dataset("hdf5:" + path, Split::Val);
  const Dataset te = load_dataset("hdf5:" + path, Split::Test, 5);
  EXPECT_EQ(tr.size, 33);  // 11/12 of 36
  EXPECT_EQ(va.size, 3);
  EXPECT_EQ(te.size, 5);
  EXPECT_EQ(tr.sample_shape, (Shape{2, 3, 4}));
  EXPECT_EQ(tr.num_classes, 7);
  EXPECT_EQ(va.num_classes, 7);
  EXPECT_EQ(va.x, std::vector<float>(x.begin() + 33 * per, x.end()));
  EXPECT_EQ(va.y, std::vector<int64_t>(y.begin() + 33, y.end()));
  EXPECT_EQ(te.x, std::vector<float>(x.begin(), x.begin() + 5 * per));
  EXPECT_EQ(tr.y, std::vector<int64_t>(y.begin(), y.begin() + 33));

  // N x F features.
  write_h5(path, {hsize_t(n), hsize_t(per)}, x, y);
  const Dataset flat = load_dataset("hdf5:" + path, Split::Test);
  EXPECT_EQ(flat.sample_shape, (Shape{per}));
  EXPECT_EQ(flat.x, x);
}

TEST_F(DatasetTest, Hdf5HostileFilesAreBadInput) {
  const std::string path = tmp_ + "/bad.h5";
  std::vector<float> x(4 * 6, 0.5f);
  write_h5(path, {4, 6}, x, {0, 1, 2, 3}, /*with_y=*/false);
  expect_bad_input([&] { load_dataset("hdf5:" + path, Split::Test); }, "no dataset 'y'");
  write_h5(path, {4, 6}, x, {0, 1, 2});
  expect_bad_input([&] { load_dataset("hdf5:" + path, Split::Test); }, "x has 4 samples but y has 3");
  write_h5(path, {4, 6}, x, {0, 1, -2, 3});
  expect_bad_input([&] { load_dataset("hdf5:" + path, Split::Test); }, "negative label");
  write_h5(path, {4, 1, 2, 3, 1}, x, {0, 1, 2, 3});
  expect_bad_input([&] { load_dataset("hdf5:" + path, Split::Test); }, "rank 5");
}

TEST(ShuffledIndices, IsASeedDependentPermutation) {
  const auto a = shuffled_indices(1000, 1);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_EQ(shuffled_indices(1000, 1), a);       // deterministic
  EXPECT_NE(shuffled_indices(1000, 2), a);       // seed-dependent
  int fixed_points = 0;
  for (int64_t i = 0; i < 1000; ++i) fixed_points += a[i] == i;
  EXPECT_LT(fixed_points, 10);                   // expected ~1 for a random permutation
  EXPECT_TRUE(shuffled_indices(0, 3).empty());
  EXPECT_EQ(shuffled_indices(1, 3), std::vector<int64_t>{0});
  EXPECT_THROW(shuffled_indices(-1, 3), BadInput);
}

TEST(ShuffledIndices, EveryPositionIsReachedForSmallN) {
  // Over many seeds each element lands in each position: the draw covers the whole range.
  int counts[4][4] = {};
  for (uint64_t seed = 0; seed < 400; ++seed) {
    const auto p = shuffled_indices(4, seed);
    for (int i = 0; i < 4; ++i) counts[i][p[i]]++;
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_GT(counts[i][j], 60) << i << "," << j;  // mean 100
}

}  // namespace
}  // namespace shrink::ir
