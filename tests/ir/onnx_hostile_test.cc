// Hostile ONNX files (issue 9): external data that tries to leave the model's folder or to read
// past a file, graphs with a cycle or a dangling input, absurd dimensions, truncated and
// bit-flipped files. Each must give a shrink::BadInput with a one-line message, never a crash,
// never a read outside the model's folder. docs/security.md lists what is refused and why.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "compress/ir/onnx_io.h"
#include "onnx_model_builder.h"

namespace shrink::ir {
namespace {

namespace fs = std::filesystem;

// ---- external data -----------------------------------------------------------------------------

class OnnxExternalDataTest : public OnnxTempDirTest {
 protected:
  using KeyValues = std::vector<std::pair<std::string, std::string>>;
  /// A Conv model whose 2x1x3x3 weight lives in external data described by `kvs` (as written).
  void write_model_kv(const KeyValues& kvs) {
    ModelBuilder b({1, 4, 4});
    auto* w = b.g->add_initializer();
    w->set_name("conv.weight");
    w->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : {2, 1, 3, 3}) w->add_dims(d);
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    for (const auto& [k, v] : kvs) {
      auto* e = w->add_external_data();
      e->set_key(k);
      e->set_value(v);
    }
    b.node("Conv", "conv", {"x", "conv.weight"}, "y");
    b.output("y");
    b.save(path("m.onnx"));
  }
  /// The same with `location`, `offset` and `length` ("" leaves the key out).
  void write_model(const std::string& location, const std::string& offset, const std::string& length) {
    KeyValues kvs{{"location", location}};
    if (!offset.empty()) kvs.emplace_back("offset", offset);
    if (!length.empty()) kvs.emplace_back("length", length);
    write_model_kv(kvs);
  }
  /// Writes 16 bytes of padding then the weight values (iota(18)) to `file`.
  void write_data(const std::string& file) {
    const std::vector<float> v = iota(18, 0.25f);
    std::string bytes(16, '\x7f');
    bytes.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
    fs::create_directories(fs::path(file).parent_path());
    write_file_atomic(file, bytes);
  }
};

TEST_F(OnnxExternalDataTest, ValidFileInModelFolderIsRead) {
  write_data(path("weights/w.bin"));
  write_model("weights/w.bin", "16", "72");
  Graph g = import_onnx(path("m.onnx"));
  EXPECT_EQ(g.at("conv").tensor("weight")->data, iota(18, 0.25f));
}

TEST_F(OnnxExternalDataTest, AbsoluteLocationIsRefused) {
  write_data(path("w.bin"));
  write_model(path("w.bin"), "16", "72");  // dir is absolute
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "absolute"});
}

TEST_F(OnnxExternalDataTest, DotDotLocationIsRefused) {
  write_data(path("w.bin"));
  write_model("../x", "16", "72");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "'..'"});
}

TEST_F(OnnxExternalDataTest, NestedDotDotLocationIsRefused) {
  write_data(path("a/w.bin"));
  write_model("a/../../x", "16", "72");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "'..'"});
}

TEST_F(OnnxExternalDataTest, SymlinkedParentFolderIsRefused) {
  write_data(path("real/w.bin"));
  fs::create_directory_symlink(path("real"), path("linked"));
  write_model("linked/w.bin", "16", "72");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "symbolic link"});
}

TEST_F(OnnxExternalDataTest, SymlinkedFileIsRefused) {
  write_data(path("w.bin"));
  fs::create_symlink(path("w.bin"), path("w_link.bin"));
  write_model("w_link.bin", "16", "72");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "symbolic link"});
}

TEST_F(OnnxExternalDataTest, OffsetPlusLengthPastEndIsRefused) {
  write_data(path("w.bin"));       // 16 + 72 = 88 bytes
  write_model("w.bin", "20", "72");    // ends at 92
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "past the end"});
}

TEST_F(OnnxExternalDataTest, MissingFileIsRefused) {
  write_model("nowhere.bin", "0", "72");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "not found"});
}


TEST_F(OnnxExternalDataTest, HardLinkToAFileOutsideTheFolderIsRefused) {
  // A hard link is a regular file by every path test; the importer refuses any external data
  // file with more than one link (docs/security.md), which is what it can enforce.
  char tmpl[] = "/tmp/shrink_onnx_outside_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string outside = std::string(tmpl) + "/secret.bin";
  write_data(outside);
  std::error_code ec;
  fs::create_hard_link(outside, path("w.bin"), ec);
  if (ec) {
    fs::remove_all(tmpl);
    GTEST_SKIP() << "cannot make a hard link here: " << ec.message();
  }
  write_model("w.bin", "16", "72");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "'w.bin'", "2 hard links"});
  fs::remove_all(tmpl);
  // With the outside name gone the same file has one link and is read.
  Graph g = import_onnx(path("m.onnx"));
  EXPECT_EQ(g.at("conv").tensor("weight")->data, iota(18, 0.25f));
}

TEST_F(OnnxExternalDataTest, NegativeOffsetIsRefused) {
  write_data(path("w.bin"));
  write_model("w.bin", "-4", "72");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "offset '-4'", "not a non-negative integer"});
  write_model("w.bin", "16", "-72");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "length '-72'", "not a non-negative integer"});
}

TEST_F(OnnxExternalDataTest, NonNumericOffsetIsRefused) {
  write_data(path("w.bin"));
  for (const char* v : {"abc", "0x10", "1e3", " 16", "+16", "16 ", "", "99999999999999999999"}) {
    SCOPED_TRACE(std::string("offset '") + v + "'");
    write_model_kv({{"location", "w.bin"}, {"offset", v}});  // "" included
    expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "external data offset", "not a non-negative integer"});
  }
}

TEST_F(OnnxExternalDataTest, OffsetPastEndIsRefused) {
  write_data(path("w.bin"));  // 88 bytes
  write_model("w.bin", "1000", "");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "offset 1000 is past the end", "88 bytes"});
  write_model("w.bin", "9223372036854775", "72");  // near 2^63 / 1000: no overflow in offset + length
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "past the end"});
}

TEST_F(OnnxExternalDataTest, LengthOtherThanTheShapeIsRefused) {
  write_data(path("w.bin"));
  write_model("w.bin", "16", "68");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "length 68 bytes, expected 72"});
  write_model("w.bin", "0", "");  // the whole file: 88 bytes
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "length 88 bytes, expected 72"});
}

TEST_F(OnnxExternalDataTest, FifoAndFolderAreRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo(path("pipe.bin").c_str(), 0600), 0);
  write_model("pipe.bin", "0", "72");  // opening a FIFO to read would block until a writer comes
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "not a regular file"});
  fs::create_directories(path("weights"));
  write_model("weights", "0", "72");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "not a regular file"});
  write_data(path("w.bin"));
  write_model("w.bin/x", "0", "72");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "'w.bin' is not a folder"});
}

TEST_F(OnnxExternalDataTest, BackslashAndEmptyLocationsAreRefused) {
  write_data(path("w.bin"));
  write_model("..\\w.bin", "16", "72");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "backslash"});
  write_model("./", "16", "72");
  expect_bad(path("m.onnx"), {"tensor 'conv.weight'", "names no file"});
}

// ---- graph structure ---------------------------------------------------------------------------

class OnnxHostileTest : public OnnxTempDirTest {};

TEST_F(OnnxHostileTest, GraphWithACycleIsRefused) {
  ModelBuilder b({4});
  b.node("Relu", "a", {"from_b"}, "from_a");  // uses b's output, which b computes from a's
  b.node("Relu", "b", {"from_a"}, "from_b");
  b.output("from_b");
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"node 'a' (Relu)", "'from_b' is not produced by any earlier node"});
}

TEST_F(OnnxHostileTest, NodeThatFeedsItselfIsRefused) {
  ModelBuilder b({4});
  b.node("Relu", "r", {"x"}, "r1");
  b.node("Add", "loop", {"r1", "y"}, "y");
  b.output("y");
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"node 'loop' (Add)", "'y' is not produced by any earlier node"});
}

TEST_F(OnnxHostileTest, DanglingInputIsRefused) {
  {
    ModelBuilder b({4});
    b.node("Add", "add", {"x", "ghost"}, "y");  // an activation input nothing produces
    b.output("y");
    b.save(path("m.onnx"));
    expect_bad(path("m.onnx"), {"node 'add' (Add)", "'ghost' is not produced"});
  }
  {
    ModelBuilder b({1, 4, 4});
    b.node("Conv", "conv", {"x", "ghost_weight"}, "y");  // a weight that is no initializer
    b.output("y");
    b.save(path("m.onnx"));
    expect_bad(path("m.onnx"), {"node 'conv' (Conv)", "'ghost_weight' must be a constant"});
  }
  {
    ModelBuilder b({4});
    b.node("Relu", "r", {"x"}, "y");
    b.output("nowhere");  // a graph output nothing produces
    b.save(path("m.onnx"));
    expect_bad(path("m.onnx"), {"graph output 'nowhere' is not produced"});
  }
}

TEST_F(OnnxHostileTest, ControlBytesInNamesGiveAOneLineMessage) {
  // Found by fuzz/onnx_import_fuzzer: a flipped bit turned a name's byte into a newline.
  ModelBuilder b({1, 4, 4});
  b.init("w", {2, 1, 3, 3}, iota(18));
  b.node("Conv", "conv\nsecond line", {"x", "w", "bias\n\r\x1b[2J"}, "y");
  b.output("y");
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"node 'conv?second line' (Conv)", "bias '"});
}

TEST_F(OnnxHostileTest, NodeWithoutOutputIsRefused) {
  // Found by fuzz/onnx_import_fuzzer: an Add of a bias after a MatMul with its output list cut
  // made the importer read output(0) of an empty list, which protobuf answers by aborting.
  ModelBuilder b({6});
  b.init("w", {6, 3}, iota(18));
  b.init("bias", {3}, {1.f, 2.f, 3.f});
  b.node("MatMul", "mm", {"x", "w"}, "m");
  b.node("Add", "add", {"m", "bias"}, "y")->clear_output();
  b.output("y");
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"node 'add' (Add)", "has no output"});
  b.g->mutable_node(1)->add_output("");  // an empty name is no output either
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"node 'add' (Add)", "has no output"});
}

// ---- dimensions --------------------------------------------------------------------------------

/// A Conv whose weight initializer has `dims` and `values` floats of raw data.
void write_conv_with_weight_dims(const std::string& file, const std::vector<int64_t>& dims, size_t values) {
  ModelBuilder b({1, 4, 4});
  auto* w = b.g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) w->add_dims(d);
  w->set_raw_data(std::string(values * 4, '\0'));
  b.node("Conv", "conv", {"x", "w"}, "y");
  b.output("y");
  b.save(file);
}

TEST_F(OnnxHostileTest, ZeroDimInitializerIsRefused) {
  // Empty tensors are legal ONNX; a Conv with one is refused by shape inference.
  write_conv_with_weight_dims(path("m.onnx"), {0, 1, 3, 3}, 0);
  expect_bad(path("m.onnx"), {"node 'conv' (Conv2d)", "out_channels is 0"});
  write_conv_with_weight_dims(path("m.onnx"), {2, 0, 3, 3}, 0);
  expect_bad(path("m.onnx"), {"node 'conv' (Conv2d)", "expected 0"});
}

TEST_F(OnnxHostileTest, NegativeDimInitializerIsRefused) {
  write_conv_with_weight_dims(path("m.onnx"), {-2, 1, 3, 3}, 18);
  expect_bad(path("m.onnx"), {"tensor 'w'", "negative dimension -2"});
  write_conv_with_weight_dims(path("m.onnx"), {-2, -1, 3, 3}, 18);  // product positive
  expect_bad(path("m.onnx"), {"tensor 'w'", "negative dimension -2"});
}

TEST_F(OnnxHostileTest, HugeDimProductsAreRefusedBeforeAllocating) {
  const int64_t big = int64_t{1} << 31;
  const int64_t max = std::numeric_limits<int64_t>::max();
  for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{
           {big, big, 1, 1},                          // 2^62: past 2^32
           {int64_t{1} << 32, int64_t{1} << 32, 2, 2}, // past 2^64 (wraps to 0 in int64)
           {max, 1, 1, 1}, {max, max, 3, 3}, {2147483647, 1, 3, 3}}) {
    SCOPED_TRACE(shape_str(dims));
    write_conv_with_weight_dims(path("m.onnx"), dims, 18);
    expect_bad(path("m.onnx"), {"tensor 'w'"});
  }
}

TEST_F(OnnxHostileTest, BadGraphInputDimsAreRefused) {
  for (int64_t d : {int64_t{0}, int64_t{-3}}) {
    ModelBuilder b({1, d, 4});
    b.node("Relu", "r", {"x"}, "y");
    b.output("y");
    b.save(path("m.onnx"));
    expect_bad(path("m.onnx"), {"graph input 'x'", "not a fixed positive size"});
  }
  for (const Shape& s : std::vector<Shape>{{int64_t{1} << 32, int64_t{1} << 32},
                                           {std::numeric_limits<int64_t>::max(), 2},
                                           {int64_t{1} << 21, int64_t{1} << 21, int64_t{1} << 21}}) {
    SCOPED_TRACE(shape_str(s));
    ModelBuilder b(s);
    b.node("Relu", "r", {"x"}, "y");
    b.output("y");
    b.save(path("m.onnx"));
    expect_bad(path("m.onnx"), {"graph input 'x'", "more than 2^31 - 1 values per sample"});
  }
}

TEST_F(OnnxHostileTest, HugeWindowAttributesAreRefused) {
  // Pads and strides near 2^62 would overflow the output-size arithmetic.
  const int64_t huge = int64_t{1} << 62;
  for (const char* attr : {"pads", "strides", "kernel_shape"}) {
    SCOPED_TRACE(attr);
    ModelBuilder b({1, 4, 4});
    auto* pool = b.node("MaxPool", "pool", {"x"}, "y");
    if (std::string(attr) == "pads") ModelBuilder::ints(pool, attr, {huge, huge, huge, huge});
    else ModelBuilder::ints(pool, attr, {huge, huge});
    if (std::string(attr) != "kernel_shape") ModelBuilder::ints(pool, "kernel_shape", {2, 2});
    b.output("y");
    b.save(path("m.onnx"));
    expect_bad(path("m.onnx"), {"pool", "2^31 - 1"});
  }
  ModelBuilder b({1, 4, 4});
  b.init("w", {2, 1, 3, 3}, iota(18));
  ModelBuilder::ints(b.node("Conv", "conv", {"x", "w"}, "y"), "dilations", {huge, huge});
  b.output("y");
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"node 'conv' (Conv2d)", "2^31 - 1"});
}

// ---- damaged files -----------------------------------------------------------------------------

/// A real small model (Conv, BatchNorm, Relu, MaxPool, Flatten, Gemm; raw and float_data weights).
std::string real_model_bytes() {
  ModelBuilder b({1, 6, 6});
  b.init("w", {4, 1, 3, 3}, iota(36, 0.05f, -0.9f), /*raw=*/false);
  b.init("bias", {4}, {0.1f, -0.2f, 0.3f, -0.4f});
  auto* conv = b.node("Conv", "/features/conv/Conv", {"x", "w", "bias"}, "c");
  ModelBuilder::ints(conv, "kernel_shape", {3, 3});
  ModelBuilder::ints(conv, "pads", {1, 1, 1, 1});
  b.init("g", {4}, {1.f, 1.5f, 0.5f, 2.f});
  b.init("beta", {4}, {0.f, 0.1f, 0.2f, 0.3f});
  b.init("mean", {4}, {0.f, 0.1f, -0.1f, 0.f});
  b.init("var", {4}, {1.f, 2.f, 0.5f, 1.f});
  b.node("BatchNormalization", "bn", {"c", "g", "beta", "mean", "var"}, "n");
  b.node("Relu", "relu", {"n"}, "r");
  auto* pool = b.node("MaxPool", "pool", {"r"}, "p");
  ModelBuilder::ints(pool, "kernel_shape", {2, 2});
  ModelBuilder::ints(pool, "strides", {2, 2});
  b.node("Flatten", "flat", {"p"}, "f");
  b.init("fc_w", {3, 36}, iota(108, 0.01f, -0.5f));
  b.init("fc_b", {3}, {0.f, 1.f, 2.f});
  auto* fc = b.node("Gemm", "fc", {"f", "fc_w", "fc_b"}, "y");
  ModelBuilder::int1(fc, "transB", 1);
  b.output("y");
  std::string bytes;
  EXPECT_TRUE(b.m.SerializeToString(&bytes));
  return bytes;
}

/// Imports `bytes` from `file`: true when it imports, false on a one-line BadInput; anything else
/// (another error kind, a crash) fails the test.
bool imports(const std::string& file, const std::string& bytes, const std::string& what) {
  write_file_atomic(file, bytes);
  try {
    Graph g = import_onnx(file);
    EXPECT_FALSE(g.nodes.empty()) << what;
    return true;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadInput) << what << ": " << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << what << ": " << e.what();
    EXPECT_EQ(std::string(e.what()).rfind(file + ": ", 0), 0u) << what << ": " << e.what();
    return false;
  }
}

TEST_F(OnnxHostileTest, TruncationsAtRandomOffsetsAreBadInput) {
  const std::string good = real_model_bytes();
  ASSERT_TRUE(imports(path("m.onnx"), good, "intact"));
  std::mt19937_64 rng(9);
  for (int i = 0; i < 200; ++i) {
    const size_t cut = i < 8 ? static_cast<size_t>(i) : static_cast<size_t>(rng() % good.size());
    EXPECT_FALSE(imports(path("m.onnx"), good.substr(0, cut), "cut to " + std::to_string(cut)))
        << "cut to " << cut << " of " << good.size() << " bytes was accepted";
  }
}

TEST_F(OnnxHostileTest, BitFlipsAtRandomOffsetsGiveBadInputOrAValidGraph) {
  // A flip inside a weight's bytes or a name's letters leaves a valid model, so acceptance is
  // allowed; what is not allowed is any other outcome (a crash, a sanitizer report under
  // make test-asan, a non-BadInput error, a multi-line message).
  const std::string good = real_model_bytes();
  std::mt19937_64 rng(2026);
  int refused = 0;
  for (int i = 0; i < 400; ++i) {
    std::string b = good;
    std::string what = "bits flipped at";
    for (int k = 1 + static_cast<int>(rng() % 4); k > 0; --k) {
      const size_t at = static_cast<size_t>(rng() % b.size());
      b[at] = static_cast<char>(b[at] ^ (1 << (rng() % 8)));
      what += " " + std::to_string(at);
    }
    refused += !imports(path("m.onnx"), b, what);
  }
  // Most flips hit structure (tags, lengths, names that link nodes, attributes, dims).
  EXPECT_GT(refused, 100) << refused << " of 400 refused";
}

}  // namespace
}  // namespace shrink::ir
