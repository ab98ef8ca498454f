// shrink export --format hdf5 (export/hdf5_writer.h, layout in docs/export.md), read back with the
// HDF5 C API: fp32 weights as stored, the integers of fixed-point layers (per channel; one layer
// made 95% sparse so it is stored as CSR) equal fx::quantize of the IR weights at their FLs, and a
// k-means layer's indices and centroids equal the IR's codebook. Also --format onnx of a quantized
// 8-bit model (QDQ) and of a 4-bit-activation model (fp32 with dequantized weights, a warning).
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "compress/ir/model_file.h"
#include "compress/ir/quant_state.h"
#include "runtime/include/shrink_fixed_point.h"
#include "tests/cli/cli_util.h"
#include "tests/export/hdf5_read.h"

namespace shrink::clitest {
namespace {

using h5read::int_attr;
using h5read::str_attr;
template <typename T>
std::vector<T> read_ds(hid_t f, const std::string& p, hid_t t) { return h5read::dataset<T>(f, p, t); }

TEST(CliExportHdf5, Fp32FixedSparseAndCodebook) {
  TempDir t;
  const std::string model = trained_model();
  CmdResult r = run_shrink("export '" + model + "' --format hdf5 -o w32.h5", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const ir::Graph g32 = ir::load_model(model);
  hid_t f = H5Fopen((t / "w32.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  EXPECT_EQ(str_attr(f, "/", "scheme"), "fp32");
  const ir::Node& first = g32.nodes.front();
  ASSERT_EQ(first.op, ir::Op::Conv2d);
  EXPECT_EQ(read_ds<float>(f, "/" + first.name + "/weight", H5T_NATIVE_FLOAT), first.tensor("weight")->data);
  H5Fclose(f);

  // Fixed point, per channel, with fc-layer weights 95% zero (stored as CSR).
  r = run_shrink("quantize '" + model + "' --data fashion-mnist --scheme fixed --bits 8 --per-channel --calibration 200 -o q8.h5",
                 t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  ir::Graph g = ir::load_model(t / "q8.h5");
  std::string sparse;
  for (auto& n : g.nodes)
    if (n.op == ir::Op::Linear && sparse.empty()) {
      sparse = n.name;
      ir::Tensor& w = *n.tensor("weight");
      for (int64_t i = 0; i < w.numel(); ++i)
        if (i % 20 != 3) w.at(i) = 0.0f;
    }
  ir::save_model(g, t / "sparse.h5");
  r = run_shrink("export sparse.h5 --format hdf5 -o w8.h5", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const quant::ModelQuant mq = quant::read_model_quant(g);
  f = H5Fopen((t / "w8.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  EXPECT_EQ(int_attr(f, "/", "input_fl"), std::vector<int>{mq.input.fl});
  int layers = 0;
  for (const auto& n : g.nodes) {
    if (n.op != ir::Op::Conv2d && n.op != ir::Op::Linear) continue;
    ++layers;
    const std::string grp = "/" + n.name;
    const quant::NodeQuant& nq = mq.nodes.at(n.name);
    const ir::Tensor& w = *n.tensor("weight");
    const int64_t oc = w.shape[0], per = w.numel() / oc;
    EXPECT_EQ(int_attr(f, grp, "weight_fl"), nq.weight_fl) << n.name;
    EXPECT_EQ(static_cast<int64_t>(nq.weight_fl.size()), oc) << n.name;  // per channel
    std::vector<int> want(static_cast<size_t>(w.numel()));
    for (int64_t i = 0; i < w.numel(); ++i) want[static_cast<size_t>(i)] = static_cast<int>(fx::quantize(w.at(i), 8, nq.weight_fl_of(i / per)));
    std::vector<int> got;
    const std::string storage = str_attr(f, grp, "weight_storage");
    EXPECT_EQ(storage, n.name == sparse ? "csr" : "dense") << n.name;
    if (storage == "csr") {
      const auto rp = read_ds<int32_t>(f, grp + "/weight_row_ptr", H5T_NATIVE_INT32);
      const auto ci = read_ds<int32_t>(f, grp + "/weight_col_idx", H5T_NATIVE_INT32);
      const auto va = read_ds<int8_t>(f, grp + "/weight_values", H5T_NATIVE_INT8);
      ASSERT_EQ(rp.size(), static_cast<size_t>(oc + 1));
      EXPECT_LE(va.size(), static_cast<size_t>(w.numel() / 20 + oc));
      got.assign(static_cast<size_t>(w.numel()), 0);
      for (int64_t row = 0; row < oc; ++row)
        for (int32_t k = rp[static_cast<size_t>(row)]; k < rp[static_cast<size_t>(row) + 1]; ++k)
          got[static_cast<size_t>(row * per + ci[static_cast<size_t>(k)])] = va[static_cast<size_t>(k)];
    } else {
      for (int8_t v : read_ds<int8_t>(f, grp + "/weight", H5T_NATIVE_INT8)) got.push_back(v);
    }
    EXPECT_EQ(got, want) << n.name;
    const int xfl = mq.format_of(n.inputs[0]).fl;
    const auto bias = read_ds<int32_t>(f, grp + "/bias", H5T_NATIVE_INT32);
    ASSERT_EQ(bias.size(), static_cast<size_t>(oc));
    for (int64_t c = 0; c < oc; ++c)
      EXPECT_EQ(bias[static_cast<size_t>(c)], fx::quantize(n.tensor("bias")->at(c), 32, xfl + nq.weight_fl_of(c))) << n.name;
    EXPECT_EQ(int_attr(f, grp, "bias_fl")[0], xfl + nq.weight_fl[0]);
  }
  EXPECT_EQ(layers, 4);
  H5Fclose(f);

  // ONNX of an 8-bit model: QDQ (tests/export/onnx_qdq_test.cc checks it against the runtime),
  // no warning.
  r = run_shrink("export q8.h5 --format onnx -o q8.onnx", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
  {
    std::ifstream f(t / "q8.onnx", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_NE(bytes.find("QuantizeLinear"), std::string::npos);
    EXPECT_NE(bytes.find("DequantizeLinear"), std::string::npos);
  }
  // ONNX of a model with 4-bit activations (no QDQ form): fp32 with the dequantized integer
  // weights, and a warning.
  r = run_shrink("quantize '" + model + "' --data fashion-mnist --scheme fixed --weight-bits 8 --act-bits 4 --per-channel "
                 "--calibration 200 --limit 200 -o q84.h5", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_shrink("export q84.h5 --format onnx -o q84.onnx", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("shrink: warning: export --format onnx:"), std::string::npos) << r.err;
  r = run_shrink("import q84.onnx -o back.h5", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const ir::Graph q8 = ir::load_model(t / "q84.h5"), back = ir::load_model(t / "back.h5");
  const quant::ModelQuant m8 = quant::read_model_quant(q8);
  std::vector<const ir::Node*> layers_back;
  for (const auto& n : back.nodes)
    if (n.op == ir::Op::Conv2d || n.op == ir::Op::Linear) layers_back.push_back(&n);
  size_t k = 0;
  for (const auto& n : q8.nodes) {
    if (n.op != ir::Op::Conv2d && n.op != ir::Op::Linear) continue;
    ASSERT_LT(k, layers_back.size());
    const ir::Tensor& w = *n.tensor("weight");
    const ir::Tensor& wb = *layers_back[k++]->tensor("weight");
    ASSERT_EQ(wb.numel(), w.numel()) << n.name;
    const quant::NodeQuant& nq = m8.nodes.at(n.name);
    const int64_t per = w.numel() / w.shape[0];
    int64_t wrong = 0;
    for (int64_t i = 0; i < w.numel(); ++i) {
      const int fl = nq.weight_fl_of(i / per);
      wrong += wb.at(i) != static_cast<float>(fx::dequantize(fx::quantize(w.at(i), 8, fl), fl));
    }
    EXPECT_EQ(wrong, 0) << n.name;
  }
  EXPECT_EQ(k, 4u);

  // k-means: indices and integer centroids as the IR holds them.
  r = run_shrink("quantize '" + model + "' --data fashion-mnist --scheme kmeans --index-bits 3 --calibration 200 -o km.h5",
                 t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_shrink("export km.h5 --format hdf5 -o wk.h5", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const ir::Graph gk = ir::load_model(t / "km.h5");
  const quant::ModelQuant mk = quant::read_model_quant(gk);
  f = H5Fopen((t / "wk.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const std::string name = gk.nodes.front().name;
  const quant::Codebook& cb = *mk.nodes.at(name).codebook;
  EXPECT_EQ(str_attr(f, "/" + name, "weight_storage"), "codebook");
  EXPECT_EQ(int_attr(f, "/" + name, "index_bits"), std::vector<int>{3});
  EXPECT_EQ(read_ds<int32_t>(f, "/" + name + "/weight_centroids", H5T_NATIVE_INT32), cb.centroids_q);
  const auto idx = read_ds<uint8_t>(f, "/" + name + "/weight_indices", H5T_NATIVE_UINT8);
  EXPECT_EQ(std::vector<int32_t>(idx.begin(), idx.end()), cb.indices);
  H5Fclose(f);
}

}  // namespace
}  // namespace shrink::clitest
