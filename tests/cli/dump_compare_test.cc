// shrink infer --dump-layers and shrink compare on a trained LeNet-5 (fp32 and its 8-bit
// simulation), and shrink export --format c through the CLI (the array holds the .shr bytes).
#include <cmath>
#include <cstdio>

#include <gtest/gtest.h>

#include "compress/ir/model_file.h"
#include "compress/ir/npy.h"
#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

/// A {3, 1, 28, 28} input in [0, 1).
void write_input(const std::string& path) {
  ir::Tensor x(ir::Shape{3, 1, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i) x.data[static_cast<size_t>(i)] = static_cast<float>((i * 7919) % 1000) / 1000.0f;
  ir::write_npy(path, x);
}

ir::Tensor read(const std::string& path) {
  ir::NpyArray a = ir::read_npy(path);
  ir::Tensor t(a.shape);
  t.data = a.f32;
  return t;
}

TEST(CliDumpCompare, DumpsEveryNodeAndComparesThem) {
  TempDir t;
  const std::string model = trained_model();
  const ir::Graph g = ir::load_model(model);
  write_input(t / "x.npy");
  CmdResult r = run_shrink("infer '" + model + "' --input x.npy -o y.npy --dump-layers d1", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  // input.npy: the normalized input (x - mean) / std, with the batch dim.
  const ir::Tensor x = read(t / "x.npy"), in = read(t / "d1/input.npy");
  ASSERT_EQ(in.shape, x.shape);
  const float mean = g.meta.mean.empty() ? 0.f : g.meta.mean[0], sd = g.meta.std.empty() ? 1.f : g.meta.std[0];
  EXPECT_NEAR(in.data[100], (x.data[100] - mean) / sd, 1e-5);
  for (const auto& n : g.nodes) {
    const ir::Tensor d = read(t / ("d1/" + n.name + ".npy"));
    ir::Shape want = {3};
    want.insert(want.end(), n.shape.begin(), n.shape.end());
    EXPECT_EQ(d.shape, want) << n.name;
  }
  EXPECT_EQ(read(t / ("d1/" + g.outputs[0] + ".npy")).data, read(t / "y.npy").data);  // the output, exactly

  r = run_shrink("infer '" + model + "' --input x.npy -o y2.npy --dump-layers d2", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_shrink("compare d1 d2", t.path());
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("no difference in " + std::to_string(g.nodes.size() + 1) + " tensors"), std::string::npos)
      << r.out;

  // Change one value of the second node and two of the last: the graph order names the second
  // node, the name order whichever file sorts first; the tolerance hides small changes.
  const std::string early = g.nodes[1].name, late = g.nodes.back().name;
  ir::Tensor e = read(t / ("d2/" + early + ".npy"));
  const float e5 = e.data[5];
  e.data[5] += 0.25f;
  const double early_diff = std::fabs(static_cast<double>(e.data[5]) - e5);
  ir::write_npy(t / ("d2/" + early + ".npy"), e);
  ir::Tensor l = read(t / ("d2/" + late + ".npy"));
  const float l3 = l.data[3], l12 = l.data[12];
  l.data[3] += 0.5f;
  l.data[12] -= 2.0f;
  const double late_diff = std::max(std::fabs(static_cast<double>(l.data[3]) - l3),
                                    std::fabs(static_cast<double>(l.data[12]) - l12));
  ir::write_npy(t / ("d2/" + late + ".npy"), l);
  auto g9 = [](double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return std::string(buf);
  };
  r = run_shrink("compare d1 d2 --model '" + model + "'", t.path());
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.out.rfind(early + ": 1 of " + std::to_string(e.numel()) + " values differ (tolerance 0), max |a - b| = " +
                            g9(early_diff) + ", first at ",
                        0),
            0u)
      << r.out;
  r = run_shrink("compare d1 d2", t.path());
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out.rfind(std::min(early, late) + ": ", 0), 0u) << r.out;
  r = run_shrink("compare d1 d2 --tolerance 0.3 --model '" + model + "'", t.path());  // hides the early change
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, late + ": 2 of " + std::to_string(l.numel()) + " values differ (tolerance 0.3), max |a - b| = " +
                       g9(late_diff) + ", first at [0, 3]: " + g9(l3) + " vs " + g9(l.data[3]) + "\n");
  r = run_shrink("compare d1 d2 --tolerance 2.5", t.path());
  EXPECT_EQ(r.code, 0) << r.out;

  // Bad input: exit 2.
  expect_bad_input(run_shrink("compare d1 no_such_dir", t.path()), "no_such_dir");
  fs::create_directory(t / "empty");
  expect_bad_input(run_shrink("compare d1 empty", t.path()), "no .npy file");
  expect_bad_input(run_shrink("compare d1 d2 --tolerance=-1", t.path()), "--tolerance");
}

TEST(CliDumpCompare, QuantizedDumpsAreOnTheirFixedPointGrid) {
  TempDir t;
  const std::string model = trained_model();
  CmdResult r = run_shrink("quantize '" + model + "' --data fashion-mnist --scheme fixed --bits 8 --calibration 200 -o q8.h5",
                           t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  write_input(t / "x.npy");
  r = run_shrink("infer q8.h5 --input x.npy -o y.npy --dump-layers d", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const ir::Graph g = ir::load_model(t / "q8.h5");
  int checked = 0;
  for (const auto& n : g.nodes) {
    if (n.op != ir::Op::Conv2d && n.op != ir::Op::Linear) continue;
    const int fl = n.state.at("quant").at("output").at("fl").get<int>();
    const ir::Tensor d = read(t / ("d/" + n.name + ".npy"));
    int64_t off_grid = 0, nonzero = 0;
    for (float v : d.data) {
      const double q = std::ldexp(static_cast<double>(v), fl);
      off_grid += q != std::nearbyint(q) || std::fabs(q) > 128;
      nonzero += v != 0;
    }
    EXPECT_EQ(off_grid, 0) << n.name << " fl " << fl;
    EXPECT_GT(nonzero, 0) << n.name;
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

/// The values of the `const uint8_t NAME[...] = {0x.., ...};` array in C source, as bytes.
std::string parse_c_array(const std::string& code) {
  std::string bytes;
  size_t p = code.find("= {");
  if (p == std::string::npos) return bytes;
  const size_t end = code.find("};", p);
  for (p = code.find("0x", p); p != std::string::npos && p < end; p = code.find("0x", p + 4))
    bytes += static_cast<char>(std::stoi(code.substr(p + 2, 2), nullptr, 16));
  return bytes;
}

TEST(CliExportC, HoldsTheShrBytes) {
  TempDir t;
  const std::string model = trained_model();
  CmdResult r = run_shrink("export '" + model + "' --format shr -o m.shr", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_shrink("export '" + model + "' --format c -o lenet.c --name lenet", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string h = slurp(t / "lenet.h");
  EXPECT_NE(h.find("#define LENET_SIZE " + std::to_string(fs::file_size(t / "m.shr")) + "u"), std::string::npos);
  EXPECT_NE(h.find("#define LENET_ARENA_BYTES "), std::string::npos);
  EXPECT_EQ(parse_c_array(slurp(t / "lenet.c")), slurp(t / "m.shr"));
  fs::create_directory(t / "out");
  r = run_shrink("export '" + model + "' --format c -o out", t.path());  // folder: model.c / model.h
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(t / "out/model.h"));
  EXPECT_EQ(parse_c_array(slurp(t / "out/model.c")), slurp(t / "m.shr"));
  expect_bad_input(run_shrink("export '" + model + "' --format shr -o x.shr --name n", t.path()), "--name");
  expect_bad_input(run_shrink("export '" + model + "' --format c -o x.c --name 3d", t.path()), "C identifier");
}

}  // namespace
}  // namespace shrink::clitest
