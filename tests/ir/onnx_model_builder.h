// ONNX models built with the protobuf API for the importer's tests, and a fixture with a
// private temporary folder (tests/ir/onnx_io_test.cc, tests/ir/onnx_hostile_test.cc).
//
//   ModelBuilder b({1, 5, 5});                      // input x: {batch, 1, 5, 5}
//   b.init("w", {2, 1, 3, 3}, iota(18));
//   b.node("Conv", "conv", {"x", "w"}, "y");
//   b.output("y");
//   b.save(path("m.onnx"));
//   expect_bad(path("m.onnx"), {"node 'conv'"});   // BadInput, one line, holding each part
#pragma once
#ifndef ONNX_NAMESPACE
#define ONNX_NAMESPACE onnx
#endif
#ifndef ONNX_ML
#define ONNX_ML 1
#endif
#include <stdlib.h>

#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "compress/ir/graph.h"
#include "compress/ir/onnx_io.h"

namespace shrink::ir {

/// Builds a ModelProto with one float input {N, dims...} (N symbolic unless fixed_batch > 0).
class ModelBuilder {
 public:
  explicit ModelBuilder(Shape dims, int64_t opset = 13, int64_t fixed_batch = 0) {
    m.set_ir_version(7);
    m.set_producer_name("builder");
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    g = m.mutable_graph();
    g->set_name("built");
    auto* in = g->add_input();
    in->set_name("x");
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    auto* b = tt->mutable_shape()->add_dim();
    if (fixed_batch > 0) b->set_dim_value(fixed_batch);
    else b->set_dim_param("batch");
    for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
  /// float32 initializer; raw_data when `raw`, float_data otherwise.
  onnx::TensorProto* init(const std::string& name, const Shape& shape, const std::vector<float>& v,
                          bool raw = true) {
    auto* t = g->add_initializer();
    fill(t, name, shape, v, raw);
    return t;
  }
  static void fill(onnx::TensorProto* t, const std::string& name, const Shape& shape,
                   const std::vector<float>& v, bool raw) {
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) t->add_dims(d);
    if (raw) t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
    else for (float f : v) t->add_float_data(f);
  }
  void init_i64(const std::string& name, const std::vector<int64_t>& v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (int64_t x : v) t->add_int64_data(x);
  }
  onnx::NodeProto* node(const std::string& op, const std::string& name, std::vector<std::string> ins,
                        const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
  }
  /// A Constant node producing a float tensor.
  void constant(const std::string& out, const Shape& shape, const std::vector<float>& v) {
    auto* n = node("Constant", out + "_const", {}, out);
    auto* a = n->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    fill(a->mutable_t(), out, shape, v, true);
  }
  static void ints(onnx::NodeProto* n, const char* name, std::vector<int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void int1(onnx::NodeProto* n, const char* name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void float1(onnx::NodeProto* n, const char* name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void str(onnx::NodeProto* n, const char* name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  void output(const std::string& name) {
    auto* o = g->add_output();
    o->set_name(name);
    o->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  }
  void save(const std::string& path) const {
    std::string bytes;
    ASSERT_TRUE(m.SerializeToString(&bytes));
    write_file_atomic(path, bytes);
  }

  onnx::ModelProto m;
  onnx::GraphProto* g;
};

inline std::vector<float> iota(int64_t n, float scale = 0.1f, float offset = 0.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = offset + scale * static_cast<float>(i);
  return v;
}

/// A fixture with a private folder under /tmp, removed after each test.
class OnnxTempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shrink_onnx_io_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::string path(const std::string& name) const { return dir + "/" + name; }

  /// Expects import_onnx(file) to throw BadInput whose one-line message holds every part.
  void expect_bad(const std::string& file, std::initializer_list<const char*> parts) {
    try {
      (void)import_onnx(file);
      ADD_FAILURE() << "import_onnx(" << file << ") did not throw";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::BadInput) << e.what();
      const std::string msg = e.what();
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      for (const char* p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
    }
  }


  std::string dir;
};

}  // namespace shrink::ir
