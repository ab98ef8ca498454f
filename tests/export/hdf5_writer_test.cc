// Tests of the HDF5 weight-file writer (export/hdf5_writer.h) on fp32 graphs, read back with the
// HDF5 C API: BatchNorm folded, float weights as the IR holds them, a 95%-sparse layer as CSR, '/'
// in node names, and the atomic write. (Quantized models: tests/cli/export_hdf5_test.cc.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "compress/ir/error.h"
#include "compress/ir/passes.h"
#include "export/export.h"
#include "export/hdf5_writer.h"
#include "tests/export/hdf5_read.h"
#include "tests/ir/test_graphs.h"

namespace shrink::exporter {
namespace {

namespace fs = std::filesystem;

TEST(Hdf5Writer, Fp32DenseAndCsr) {
  ir::Graph g = test::make_test_lenet5(3);
  ir::Tensor& w = *g.at("fc1").tensor("weight");
  for (int64_t i = 0; i < w.numel(); ++i)
    if (i % 20 != 7) w.at(i) = 0.0f;
  g.at("conv2").name = "block/conv2";  // a '/' in a node name
  g.at("pool2").inputs = {"block/conv2"};
  const fs::path path = fs::temp_directory_path() / ("shrink-hdf5-" + std::to_string(getpid()) + ".h5");
  export_model(g, "hdf5", path.string());
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  EXPECT_EQ(h5read::str_attr(f, "/", "format"), "shrink-weights");
  EXPECT_EQ(h5read::str_attr(f, "/", "scheme"), "fp32");
  EXPECT_EQ(h5read::str_attr(f, "/", "model"), "lenet5");
  EXPECT_EQ(h5read::str_attr(f, "/conv1", "weight_storage"), "dense");
  EXPECT_EQ(h5read::dataset<float>(f, "/conv1/weight", H5T_NATIVE_FLOAT), g.at("conv1").tensor("weight")->data);
  EXPECT_EQ(h5read::dataset<float>(f, "/conv1/bias", H5T_NATIVE_FLOAT), g.at("conv1").tensor("bias")->data);
  EXPECT_EQ(h5read::str_attr(f, "/block_conv2", "name"), "block/conv2");
  EXPECT_EQ(h5read::str_attr(f, "/block_conv2", "op"), "Conv2d");
  // fc1: CSR of its 500 rows x 800 columns.
  EXPECT_EQ(h5read::str_attr(f, "/fc1", "weight_storage"), "csr");
  EXPECT_EQ(h5read::int_attr(f, "/fc1", "weight_shape"), (std::vector<int>{500, 800}));
  const auto rp = h5read::dataset<int32_t>(f, "/fc1/weight_row_ptr", H5T_NATIVE_INT32);
  const auto ci = h5read::dataset<int32_t>(f, "/fc1/weight_col_idx", H5T_NATIVE_INT32);
  const auto va = h5read::dataset<float>(f, "/fc1/weight_values", H5T_NATIVE_FLOAT);
  ASSERT_EQ(rp.size(), 501u);
  EXPECT_EQ(rp.back(), static_cast<int32_t>(va.size()));
  EXPECT_EQ(va.size(), 500u * 40);
  std::vector<float> dense(static_cast<size_t>(w.numel()), 0.0f);
  for (size_t r = 0; r < 500; ++r)
    for (int32_t k = rp[r]; k < rp[r + 1]; ++k) dense[r * 800 + static_cast<size_t>(ci[static_cast<size_t>(k)])] = va[static_cast<size_t>(k)];
  EXPECT_EQ(dense, w.data);
  EXPECT_LT(H5Lexists(f, "/fc1/weight", H5P_DEFAULT), 1);
  H5Fclose(f);
  fs::remove(path);
}

TEST(Hdf5Writer, BatchNormFoldedAndAtomic) {
  ir::Graph g = test::make_test_resblock();
  const fs::path dir = fs::temp_directory_path() / ("shrink-hdf5-dir-" + std::to_string(getpid()));
  fs::create_directories(dir);
  export_hdf5(g, (dir / "w.h5").string());
  ir::Graph folded = g;
  ir::fold_batchnorm(folded);
  hid_t f = H5Fopen((dir / "w.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  EXPECT_LT(H5Lexists(f, "/bn1", H5P_DEFAULT), 1);  // folded into conv1
  EXPECT_EQ(h5read::dataset<float>(f, "/conv1/weight", H5T_NATIVE_FLOAT), folded.at("conv1").tensor("weight")->data);
  H5Fclose(f);
  EXPECT_THROW(export_hdf5(g, (dir / "no/such/w.h5").string()), BadInput);
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u);  // no temporary left behind
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shrink::exporter
