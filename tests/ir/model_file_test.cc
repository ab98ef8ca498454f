// Model file (.h5): exact round trip of everything, and one-line BadInput for broken files.
#include "compress/ir/model_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

// The test edits files with the HDF5 C API directly (shrink_ir links HDF5; Debian keeps the
// header under hdf5/serial).
#if __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#else
#include <hdf5.h>
#endif

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "tests/ir/file_limit.h"
#include "tests/ir/test_graphs.h"

namespace shrink::ir {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "shrink_model_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Expects load_model(p) to throw a one-line BadInput containing every part.
  static void expect_load_fails(const std::string& p, std::initializer_list<std::string> parts) {
    try {
      load_model(p);
      ADD_FAILURE() << "load_model(" << p << ") did not throw";
    } catch (const BadInput& e) {
      const std::string msg = e.what();
      for (const std::string& part : parts)
        EXPECT_NE(msg.find(part), std::string::npos) << "message '" << msg << "' lacks '" << part << "'";
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }

  // Replaces a root attribute of an existing file (HDF5 directly).
  static void set_int_attr(const std::string& p, const char* name, int32_t v) {
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    H5Adelete(f, name);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(H5Awrite(a, H5T_NATIVE_INT32, &v), 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Fclose(f);
  }
  static void set_string_attr(const std::string& p, const char* name, const std::string& v) {
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    H5Adelete(f, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);  // variable-length, as h5py writes strings
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    const char* c = v.c_str();
    ASSERT_GE(H5Awrite(a, t, &c), 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    H5Fclose(f);
  }
  static std::string get_graph_attr(const std::string& p) {
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "graph", H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    std::string buf(H5Tget_size(t), '\0');
    H5Aread(a, t, buf.data());
    H5Tclose(t);
    H5Aclose(a);
    H5Fclose(f);
    return buf.substr(0, buf.find('\0'));
  }

  fs::path dir_;
};

bool same_bits(const Tensor& a, const Tensor& b) {
  // An empty tensor's data() may be null, which memcmp must not get (UBSan), even with size 0.
  return a.shape == b.shape && a.data.size() == b.data.size() &&
         (a.data.empty() || std::memcmp(a.data.data(), b.data.data(), a.data.size() * sizeof(float)) == 0);
}

void expect_same_graph(const Graph& a, const Graph& b) {
  EXPECT_EQ(a.meta.name, b.meta.name);
  EXPECT_EQ(a.meta.input_shape, b.meta.input_shape);
  EXPECT_EQ(a.meta.mean, b.meta.mean);
  EXPECT_EQ(a.meta.std, b.meta.std);
  EXPECT_EQ(a.meta.labels, b.meta.labels);
  EXPECT_EQ(a.meta.producer, b.meta.producer);
  EXPECT_EQ(a.outputs, b.outputs);
  EXPECT_EQ(a.state, b.state);
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const Node& x = a.nodes[i];
    const Node& y = b.nodes[i];
    SCOPED_TRACE(x.name);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.op, y.op);
    EXPECT_EQ(x.inputs, y.inputs);
    EXPECT_EQ(x.out_channels, y.out_channels);
    EXPECT_EQ(x.in_channels, y.in_channels);
    EXPECT_EQ(x.groups, y.groups);
    EXPECT_EQ(x.has_bias, y.has_bias);
    EXPECT_EQ(x.kernel, y.kernel);
    EXPECT_EQ(x.stride, y.stride);
    EXPECT_EQ(x.dilation, y.dilation);
    EXPECT_EQ(x.pads, y.pads);
    EXPECT_EQ(x.ceil_mode, y.ceil_mode);
    EXPECT_EQ(x.count_include_pad, y.count_include_pad);
    EXPECT_EQ(std::memcmp(&x.alpha, &y.alpha, sizeof(float)), 0) << x.alpha << " vs " << y.alpha;
    EXPECT_EQ(std::memcmp(&x.eps, &y.eps, sizeof(float)), 0) << x.eps << " vs " << y.eps;
    EXPECT_EQ(x.axis, y.axis);
    EXPECT_EQ(x.target_shape, y.target_shape);
    EXPECT_EQ(x.state, y.state);
    EXPECT_EQ(x.shape, y.shape);
    ASSERT_EQ(x.tensors.size(), y.tensors.size());
    for (const auto& [key, t] : x.tensors) {
      ASSERT_TRUE(y.tensors.count(key)) << key;
      EXPECT_TRUE(same_bits(t, y.tensors.at(key))) << key;
    }
  }
}

// Every attribute off its default, awkward names, awkward floats, state JSON.
Graph make_rich_graph() {
  test::TestRng rng(31);
  Graph g = test::make_test_resblock(5);
  g.meta.mean = {0.485f, 0.456f, 0.406f};
  g.meta.std = {0.229f, 0.224f, 0.225f};
  g.meta.labels = {"cat", "dog", "Ünïcödé ☃", "", "a \"quoted\" label"};
  g.meta.producer = "shrink 0.1.0 (test)";
  Node& c = g.at("conv2");
  c.dilation = {1, 1};
  c.state = {{"qformat", {{"bits", 8}, {"fl", 5}}},
             {"per_channel_fl", {3, 4, 5, -2}},
             {"scale", 0.1f},
             {"note", "x/y"},
             {"nested", {{"a", {1.5, nullptr, true}}}}};
  c.tensors["weight_mask"] = test::random_tensor({8, 8, 3, 3}, rng, 0.0f, 1.0f);
  for (float& v : c.tensors["weight_mask"].data) v = v < 0.5f ? 0.0f : 1.0f;
  Tensor& w = g.at("conv1").tensors["weight"];
  w.at(0) = std::numeric_limits<float>::denorm_min();
  w.at(1) = -0.0f;
  w.at(2) = std::numeric_limits<float>::max();
  w.at(3) = std::nextafter(1.0f, 2.0f);
  w.at(4) = std::numeric_limits<float>::quiet_NaN();
  w.at(5) = -std::numeric_limits<float>::infinity();
  g.at("bn1").eps = 1.1e-3f;
  g.at("cat").axis = -3;  // channels, counted from the end
  // gap {16,1,1} -> reshape {-1, 4} -> flatten: exercise Reshape and LeakyReLU attributes
  Node r = test::test_node("/block.0/reshape", Op::Reshape, {"gap"});
  r.target_shape = {-1, 4};
  g.add(r);
  Node lr = test::test_node(".leaky%", Op::LeakyReLU, {"/block.0/reshape"});
  lr.alpha = 0.1f;
  g.add(lr);
  g.at("flatten").inputs = {".leaky%"};
  Node pool = test::test_pool("avg", Op::AvgPool, "relu2", 3, 2, 1, true);
  pool.count_include_pad = true;
  pool.pads = {1, 0, 1, 1};
  g.add(pool);
  g.at("fc").state = {{"codebook", {{"index_bits", 5}}}};
  g.at("fc").tensors["scalar"] = Tensor({}, {2.5f});
  g.at("fc").tensors["empty"] = Tensor({0, 3});
  g.outputs = {"softmax", "avg"};
  g.state = {{"input_format", {{"bits", 8}, {"fl", 7}}}};
  g.infer_shapes();
  return g;
}

TEST_F(ModelFileTest, RoundTripIsExact) {
  const Graph g = make_rich_graph();
  ASSERT_EQ(g.at("/block.0/reshape").shape, (Shape{4, 4}));
  const std::string p = path("rich.h5");
  save_model(g, p);
  const Graph back = load_model(p);
  expect_same_graph(g, back);
  EXPECT_EQ(graph_to_json(back), graph_to_json(g));
  // and again: a loaded file saves to the same content
  save_model(back, path("again.h5"));
  expect_same_graph(g, load_model(path("again.h5")));
}

TEST_F(ModelFileTest, LeNetRoundTripAndNoTempLeft) {
  const Graph g = test::make_test_lenet5(7);
  const std::string p = path("lenet5.h5");
  save_model(g, p);
  save_model(g, p);  // overwrite in place
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"lenet5.h5"});
  const Graph back = load_model(p);
  expect_same_graph(g, back);
  EXPECT_EQ(back.param_count(), g.param_count());
}

// The disk fills during save_model (RLIMIT_FSIZE, SIGXFSZ ignored, in a child process) at every
// stage of the file (its first bytes, the graph attribute, the tensors, the last bytes). Each is
// a one-line BadInput naming the file and a normal exit; the previous file is intact and loads;
// no temporary remains.
TEST_F(ModelFileTest, DiskFullDuringSaveKeepsThePreviousFile) {
  const std::string p = path("m.h5");
  const Graph previous = test::make_test_lenet5(3);
  save_model(previous, p);
  const std::string before = read_file(p);
  const Graph next = test::make_test_lenet5(4);
  const rlim_t full = static_cast<rlim_t>(before.size());  // both graphs have the same size on disk
  for (rlim_t limit : {rlim_t{0}, rlim_t{1}, rlim_t{512}, rlim_t{4096}, full / 4, full / 2, full - 4096, full - 1}) {
    SCOPED_TRACE("RLIMIT_FSIZE " + std::to_string(limit) + " of " + std::to_string(full));
    EXPECT_EQ(test::write_under_file_limit(limit, [&] { save_model(next, p); }, {p}), "");
    EXPECT_EQ(read_file(p), before);
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    EXPECT_EQ(names, std::vector<std::string>{"m.h5"});
  }
  expect_same_graph(previous, load_model(p));
  save_model(next, p);  // without the limit the same save succeeds
  expect_same_graph(next, load_model(p));
}

// Pruning masks ("*_mask") are stored as uint8 and read back as the same 0 / 1 floats.
TEST_F(ModelFileTest, MasksAreStoredAsUint8) {
  Graph g = test::make_test_lenet5(7);
  Tensor& w = *g.at("fc1").tensor("weight");
  Tensor mask(w.shape);
  for (int64_t i = 0; i < mask.numel(); ++i) mask.at(i) = i % 3 ? 1.0f : 0.0f;
  g.at("fc1").tensors["weight_mask"] = mask;
  const std::string plain = path("plain.h5"), masked = path("masked.h5");
  save_model(test::make_test_lenet5(7), plain);
  save_model(g, masked);
  const Graph back = load_model(masked);
  EXPECT_EQ(back.at("fc1").tensor("weight_mask")->data, mask.data);
  // One byte per mask value, not four.
  const auto extra = static_cast<int64_t>(fs::file_size(masked)) - static_cast<int64_t>(fs::file_size(plain));
  EXPECT_GE(extra, mask.numel());
  EXPECT_LT(extra, mask.numel() * 2);
  hid_t f = H5Fopen(masked.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t ds = H5Dopen2(f, "/tensors/fc1/weight_mask", H5P_DEFAULT);
  ASSERT_GE(ds, 0);
  hid_t type = H5Dget_type(ds);
  EXPECT_EQ(H5Tget_class(type), H5T_INTEGER);
  EXPECT_EQ(H5Tget_size(type), 1u);
  H5Tclose(type);
  H5Dclose(ds);
  H5Fclose(f);
}

TEST_F(ModelFileTest, LargeGraphAttribute) {
  Graph g = test::make_test_lenet5();
  json big = json::array();
  for (int i = 0; i < 30000; ++i) big.push_back(i * 0.5);
  g.at("fc1").state["table"] = big;  // graph JSON well over 64 KiB
  save_model(g, path("big.h5"));
  EXPECT_EQ(load_model(path("big.h5")).at("fc1").state, g.at("fc1").state);
}

TEST_F(ModelFileTest, TruncatedFileNamesPath) {
  const std::string p = path("full.h5");
  save_model(test::make_test_lenet5(), p);
  const std::string bytes = read_file(p);
  ASSERT_GT(bytes.size(), 100000u);
  const std::string half = path("half.h5");
  write_file_atomic(half, bytes.substr(0, bytes.size() / 2));
  expect_load_fails(half, {half});
  const std::string head = path("head.h5");
  write_file_atomic(head, bytes.substr(0, 1000));
  expect_load_fails(head, {head});
}

TEST_F(ModelFileTest, MissingAndForeignFiles) {
  expect_load_fails(path("missing.h5"), {path("missing.h5")});
  const std::string text = path("text.h5");
  write_file_atomic(text, "this is not an HDF5 file\n");
  expect_load_fails(text, {text, "HDF5"});
  expect_load_fails(dir_.string(), {dir_.string()});
  // an HDF5 file that is not ours
  const std::string other = path("other.h5");
  hid_t f = H5Fcreate(other.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  H5Fclose(f);
  expect_load_fails(other, {other, "format"});
  const std::string wrong = path("wrong.h5");
  save_model(test::make_test_lenet5(), wrong);
  set_string_attr(wrong, "format", "keras-model");
  expect_load_fails(wrong, {wrong, "keras-model", "shrink-model"});
}

TEST_F(ModelFileTest, NewerFormatVersionRefused) {
  const std::string p = path("future.h5");
  save_model(test::make_test_lenet5(), p);
  set_int_attr(p, "format_version", 99);
  expect_load_fails(p, {p, "99", std::to_string(kModelFormatVersion)});
  set_int_attr(p, "format_version", kModelFormatVersion);
  EXPECT_NO_THROW(load_model(p));
}

TEST_F(ModelFileTest, VariableLengthGraphStringAndBadTensorShape) {
  const std::string p = path("vlen.h5");
  const Graph g = test::make_test_lenet5();
  save_model(g, p);
  json j = json::parse(get_graph_attr(p));
  set_string_attr(p, "graph", j.dump());  // variable-length string, as other writers store it
  expect_same_graph(g, load_model(p));
  j["nodes"][0]["tensors"]["weight"] = {20, 1, 25};
  set_string_attr(p, "graph", j.dump());
  expect_load_fails(p, {p, "conv1/weight", "[20, 1, 5, 5]", "[20, 1, 25]"});
  j["nodes"][0]["tensors"]["weight_mask"] = {20, 1, 5, 5};
  j["nodes"][0]["tensors"]["weight"] = {20, 1, 5, 5};
  set_string_attr(p, "graph", j.dump());
  expect_load_fails(p, {p, "conv1/weight_mask", "missing"});
  set_string_attr(p, "graph", "{not json");
  expect_load_fails(p, {p, "graph", "JSON"});
}

// Found while writing fuzz/h5_model_fuzzer.cc (docs/fuzzing.md), reproduced through it: a
// dataset that HDF5 created with a huge shape but never wrote (a small file) made the reader
// allocate the whole shape (4 GB here; up to 2^62 floats) before reading. Now the dataset's
// stored bytes are checked first.
TEST_F(ModelFileTest, UnwrittenDatasetIsRefusedBeforeAllocating) {
  const std::string p = path("huge.h5");
  save_model(test::make_test_lenet5(), p);
  const json good = json::parse(get_graph_attr(p));
  // Replaces /tensors/fc2/bias by an unwritten float32 dataset of `n` values, and the graph's
  // shape of it by {n}.
  auto replace_bias = [&](hsize_t n) {
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Ldelete(f, "/tensors/fc2/bias", H5P_DEFAULT), 0);
    hid_t s = H5Screate_simple(1, &n, nullptr);
    hid_t d = H5Dcreate2(f, "/tensors/fc2/bias", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(d, 0);
    H5Dclose(d);
    H5Sclose(s);
    H5Fclose(f);
    json j = good;
    j["nodes"][7]["tensors"]["bias"] = {n};
    set_string_attr(p, "graph", j.dump());
  };
  replace_bias(hsize_t{1} << 30);
  expect_load_fails(p, {p, "fc2/bias", "0 bytes of data", "[1073741824]", "needs 4294967296"});
  replace_bias(hsize_t{1} << 61);  // 2^63 bytes
  expect_load_fails(p, {p, "fc2/bias", "needs 9223372036854775808"});
  replace_bias(10);  // the right shape, never written
  expect_load_fails(p, {p, "fc2/bias", "0 bytes of data", "needs 40"});
}

// Found with the .h5 fuzzer's write-back check: 1e300 in a float field became inf, which loaded,
// but the writer cannot store it (JSON has no inf), so the model did not save and load again.
TEST_F(ModelFileTest, NonFiniteFloatsAreRefused) {
  const std::string p = path("inf.h5");
  save_model(test::make_test_lenet5(), p);
  const json good = json::parse(get_graph_attr(p));
  json j = good;
  j["nodes"][0]["eps"] = 1e300;
  set_string_attr(p, "graph", j.dump());
  expect_load_fails(p, {p, "'conv1'", "'eps'", "finite"});
  j = good;
  j["metadata"]["std"] = {-1e39};
  set_string_attr(p, "graph", j.dump());
  expect_load_fails(p, {p, "metadata", "'std'", "finite"});
  j = good;
  j["nodes"][0]["alpha"] = 3.4e38;  // the largest floats stay legal
  set_string_attr(p, "graph", j.dump());
  EXPECT_FLOAT_EQ(load_model(p).at("conv1").alpha, 3.4e38f);
}

// Found with the .h5 fuzzer: a node state nested 60,000 levels deep overflowed the stack when
// the reader copied it (nlohmann::json copies recursively). Nesting is capped at 128 levels.
TEST_F(ModelFileTest, DeeplyNestedGraphJsonIsRefused) {
  const std::string p = path("deep.h5");
  save_model(test::make_test_lenet5(), p);
  const json good = json::parse(get_graph_attr(p));
  auto with_state = [&](int depth) {
    std::string nested = std::string(depth, '[') + "\"]]\"" + std::string(depth, ']');
    std::string text = good.dump();
    const std::string key = "\"state\":{}";
    const size_t at = text.find(key);
    EXPECT_NE(at, std::string::npos);
    text.replace(at, key.size(), "\"state\":{\"x\":" + nested + "}");
    set_string_attr(p, "graph", text);
  };
  with_state(60000);
  expect_load_fails(p, {p, "'graph'", "deeper than 128"});
  with_state(100);  // brackets inside strings do not count
  EXPECT_EQ(load_model(p).nodes[0].state["x"].dump().size(), 204u);
}

TEST(ModelJson, MissingOrIllTypedFieldsNameNodeAndField) {
  const Graph g = test::make_test_lenet5();
  const json good = graph_to_json(g);
  EXPECT_NO_THROW(graph_from_json(good));
  auto expect_fails = [](const json& j, std::initializer_list<std::string> parts) {
    try {
      graph_from_json(j);
      ADD_FAILURE() << "no throw for " << j.dump().substr(0, 200);
    } catch (const BadInput& e) {
      for (const std::string& part : parts)
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what() << " lacks " << part;
    }
  };
  json j = good;
  j["nodes"][2].erase("kernel");
  expect_fails(j, {"'conv2'", "'kernel'", "missing"});
  j = good;
  j["nodes"][0]["groups"] = "two";
  expect_fails(j, {"'conv1'", "'groups'", "integer", "\"two\""});
  j = good;
  j["nodes"][1]["stride"] = {2, 2, 2};
  expect_fails(j, {"'pool1'", "'stride'"});
  j = good;
  j["nodes"][5]["op"] = "Dense";
  expect_fails(j, {"'fc1'", "'op'", "Dense"});
  j = good;
  j["nodes"][5]["eps"] = "small";
  expect_fails(j, {"'fc1'", "'eps'", "number"});
  j = good;
  j["nodes"][3]["state"] = 5;
  expect_fails(j, {"'pool2'", "'state'"});
  j = good;
  j["metadata"]["input_shape"] = {1, "28", 28};
  expect_fails(j, {"metadata", "'input_shape'"});
  j = good;
  j.erase("outputs");
  expect_fails(j, {"'outputs'"});
  j = good;
  j["nodes"][4]["tensors"] = {{"weight", {-1, 3}}};
  expect_fails(j, {"'flatten'", "tensors.weight"});
  // graph_from_json keeps tensor shapes (zero data), so shapes infer
  Graph h = graph_from_json(good);
  EXPECT_EQ(h.at("fc1").tensors.at("weight").shape, (Shape{500, 800}));
  h.infer_shapes();
  EXPECT_EQ(h.at("fc2").shape, (Shape{10}));
}

TEST_F(ModelFileTest, SaveRefusesBadGraphAndBadFolder) {
  Graph g = test::make_test_lenet5();
  EXPECT_THROW(save_model(g, path("no_dir/m.h5")), BadInput);
  g.at("fc2").inputs = {"ghost"};
  EXPECT_THROW(save_model(g, path("bad.h5")), BadInput);
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace shrink::ir
