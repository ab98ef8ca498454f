// The interpreter on a second hand-built model covering the ops LeNet-5 does not have:
//   input f32 [2,2,2] -> Quantize (i8 fl 4) -> ReLU6 -> Add(relu6, quantized input; fl 3, fused
//   ReLU) -> Concat(add, quantized input; axis 0, fl 2) -> GlobalAvgPool -> LeakyReLU (table,
//   fl 5) -> Dequantize
// Expected integers are computed here with DESIGN.md's rules.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "shr_format.h"
#include "shrink_rt.h"
#include "tests/runtime/tiny_shr.h"

namespace {

namespace shr = shrink::shr;

/// Assembles a .shr file from records (no Normalization / Labels sections).
struct Builder {
  std::string strings, data;
  std::vector<shr::TensorRecord> tensors;
  std::vector<shr::OpRecord> ops;
  std::vector<uint32_t> op_inputs;

  shr::StrRef str(const std::string& s) {
    shr::StrRef r{static_cast<uint32_t>(strings.size()), static_cast<uint32_t>(s.size())};
    strings += s;
    strings += '\0';
    return r;
  }
  uint32_t tensor(const char* name, shr::DType t, std::vector<uint32_t> dims, int bits, int fl,
                  const void* values = nullptr, size_t bytes = 0) {
    shr::TensorRecord r{};
    r.name = str(name);
    r.dtype = static_cast<uint8_t>(t);
    r.rank = static_cast<uint8_t>(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) r.dims[i] = dims[i];
    r.bits = static_cast<uint8_t>(bits);
    r.fl = static_cast<int8_t>(fl);
    if (values) {
      r.flags = shr::kTensorConstant;
      data.resize(shr::align_up(data.size(), 16), '\0');
      r.parts[0] = {data.size(), bytes};
      data.append(static_cast<const char*>(values), bytes);
    }
    tensors.push_back(r);
    return static_cast<uint32_t>(tensors.size() - 1);
  }
  shr::OpRecord& op(const char* name, shr::OpCode code, std::vector<uint32_t> in, uint32_t out) {
    ops.push_back(shrink::test::op_record(str(name), code, op_inputs, in, out));
    return ops.back();
  }
  std::vector<uint8_t> build(uint32_t input, uint32_t output) {
    shr::MetaRecord meta{};
    meta.name = str("ops");
    meta.producer = str("tests/runtime/interpreter_ops_test.cc");
    meta.input_count = meta.output_count = 1;
    const uint32_t io[2] = {input, output};
    auto raw = [](const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); };
    const std::vector<std::pair<shr::SectionType, std::string>> secs = {
        {shr::SectionType::Strings, strings},
        {shr::SectionType::Meta, raw(&meta, sizeof meta)},
        {shr::SectionType::GraphIO, raw(io, sizeof io)},
        {shr::SectionType::Tensors, raw(tensors.data(), tensors.size() * sizeof(tensors[0]))},
        {shr::SectionType::Ops, raw(ops.data(), ops.size() * sizeof(ops[0]))},
        {shr::SectionType::OpInputs, raw(op_inputs.data(), op_inputs.size() * 4)},
        {shr::SectionType::Data, data},
    };
    std::vector<uint8_t> out = shrink::test::layout_sections(secs);
    shr::FileHeader h{};
    std::memcpy(h.magic, shr::kMagic, 8);
    h.version = shr::kVersion;
    h.flags = shr::kFlagInteger;
    h.section_count = static_cast<uint32_t>(secs.size());
    shrink::test::write_header(out, h, secs.size());
    return out;
  }
};

int64_t sat8(int64_t v) { return v < -128 ? -128 : v > 127 ? 127 : v; }
int64_t rq(int64_t v, int s) { return s > 0 ? (v + (int64_t{1} << (s - 1))) >> s : v * (int64_t{1} << -s); }

TEST(InterpreterOps, AddConcatGlobalPoolReLU6AndTable) {
  std::vector<int8_t> table(256);
  for (int i = 0; i < 256; ++i) table[static_cast<size_t>(i)] = static_cast<int8_t>((i * 37) % 256 - 128);
  Builder b;
  using D = shr::DType;
  using O = shr::OpCode;
  const uint32_t x = b.tensor("input", D::F32, {2, 2, 2}, 0, 0);
  const uint32_t q = b.tensor("q", D::I8, {2, 2, 2}, 8, 4);
  const uint32_t r6 = b.tensor("relu6", D::I8, {2, 2, 2}, 8, 4);
  const uint32_t add = b.tensor("add", D::I8, {2, 2, 2}, 8, 3);
  const uint32_t cat = b.tensor("cat", D::I8, {4, 2, 2}, 8, 2);
  const uint32_t gap = b.tensor("gap", D::I8, {4, 1, 1}, 8, 2);
  const uint32_t lut = b.tensor("leaky.table", D::I8, {256}, 8, 5, table.data(), table.size());
  const uint32_t lk = b.tensor("leaky", D::I8, {4, 1, 1}, 8, 5);
  const uint32_t y = b.tensor("out", D::F32, {4, 1, 1}, 0, 0);
  b.op("quantize", O::Quantize, {x}, q);
  shr::OpRecord& o6 = b.op("relu6", O::ReLU6, {q}, r6);
  o6.activation = static_cast<uint8_t>(shr::Activation::ReLU6);
  o6.clamp_lo = 0;
  o6.clamp_hi = 96;  // 6 * 2^4
  shr::OpRecord& oa = b.op("add", O::Add, {r6, q}, add);
  oa.activation = static_cast<uint8_t>(shr::Activation::ReLU);
  oa.clamp_lo = 0;
  oa.clamp_hi = 127;
  b.op("cat", O::Concat, {add, q}, cat);
  b.op("gap", O::GlobalAvgPool, {cat}, gap);
  b.op("leaky", O::LeakyReLU, {gap}, lk).lut = lut;
  b.op("dequantize", O::Dequantize, {lk}, y);
  std::vector<uint8_t> bytes = b.build(x, y);

  char err[256] = "";
  shrink_rt_model* m = nullptr;
  ASSERT_EQ(shrink_rt_load(bytes.data(), bytes.size(), &m, err, sizeof err), SHRINK_RT_OK) << err;
  std::vector<uint8_t> arena(shrink_rt_arena_size(m));
  for (int seed = 0; seed < 20; ++seed) {
    float in[8];
    for (int i = 0; i < 8; ++i) in[i] = 9.0f * std::sin(static_cast<float>(seed * 8 + i) * 1.7f);  // saturates too
    ASSERT_EQ(shrink_rt_set_input_f32(m, arena.data(), arena.size(), 0, in, 8), SHRINK_RT_OK);
    ASSERT_EQ(shrink_rt_run(m, arena.data(), arena.size()), SHRINK_RT_OK);
    float out[4];
    ASSERT_EQ(shrink_rt_get_output_f32(m, arena.data(), 0, out, 4), SHRINK_RT_OK);
    int64_t qv[8], addv[8], catv[16];
    for (int i = 0; i < 8; ++i) qv[i] = sat8(static_cast<int64_t>(std::floor(static_cast<double>(in[i]) * 16.0 + 0.5)));
    for (int i = 0; i < 8; ++i) {
      const int64_t r = qv[i] < 0 ? 0 : qv[i] > 96 ? 96 : qv[i];
      const int64_t s = sat8(rq(r, 1) + rq(qv[i], 1));
      addv[i] = s < 0 ? 0 : s;
    }
    for (int i = 0; i < 8; ++i) catv[i] = sat8(rq(addv[i], 1));
    for (int i = 0; i < 8; ++i) catv[8 + i] = sat8(rq(qv[i], 2));
    for (int c = 0; c < 4; ++c) {
      int64_t sum = 0;
      for (int k = 0; k < 4; ++k) sum += catv[c * 4 + k];
      // floor((2 S + n) / (2 n)) with floor division for negative sums, n = 4.
      const int64_t num = 2 * sum + 4, den = 8;
      const int64_t avg = num >= 0 ? num / den : -((-num + den - 1) / den);
      const int64_t want = table[static_cast<size_t>(avg + 128)];
      EXPECT_EQ(out[c], static_cast<float>(want) / 32.0f) << "seed " << seed << " channel " << c;
    }
  }
  shrink_rt_free(m);
}

}  // namespace
