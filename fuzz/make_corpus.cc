// Writes the seed corpus of the .shr loader fuzzer: small valid models that together use every
// op, every storage (dense, CSR with u8 / u16 indices, codebook with and without a reserved
// zero), every dtype (f32, i8, i16, i32 biases), per-layer and per-channel FLs, every fused
// activation and every op flag. Each seed is checked to load and run before it is written.
// With --mutations it also writes every truncation of one seed and a set of single-bit flips
// (the CI smoke replays them).
//
//   make_corpus CORPUS_DIR [--mutations DIR] [--flips N]
//
// Built from runtime/format/shr_format.h alone (plus tests/runtime/tiny_shr.h), independently
// of the exporter, so it needs no LibTorch.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "shr_format.h"
#include "shrink_rt.h"
#include "tests/runtime/tiny_shr.h"

namespace {

namespace shr = shrink::shr;
using D = shr::DType;
using O = shr::OpCode;
using A = shr::Activation;

/// Assembles a .shr file from records, with every optional section.
struct Builder {
  std::string strings, data;
  std::vector<shr::TensorRecord> tensors;
  std::vector<shr::OpRecord> ops;
  std::vector<uint32_t> op_inputs, inputs, outputs;
  std::vector<float> mean, stdev;
  std::vector<std::string> labels;

  shr::StrRef str(const std::string& s) {
    shr::StrRef r{static_cast<uint32_t>(strings.size()), static_cast<uint32_t>(s.size())};
    strings += s;
    strings += '\0';
    return r;
  }
  shr::Part part(const std::string& bytes) {
    data.resize(shr::align_up(data.size(), shr::kPartAlign), '\0');
    shr::Part p{data.size(), bytes.size()};
    data += bytes;
    return p;
  }
  static shr::TensorRecord record(const std::string& name, D t, const std::vector<uint32_t>& dims, int bits, int fl) {
    shr::TensorRecord r{};
    r.dtype = static_cast<uint8_t>(t);
    r.rank = static_cast<uint8_t>(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) r.dims[i] = dims[i];
    r.bits = static_cast<uint8_t>(bits);
    r.fl = static_cast<int8_t>(fl);
    return r;
  }
  uint32_t add(shr::TensorRecord r, const std::string& name) {
    r.name = str(name);
    tensors.push_back(r);
    return static_cast<uint32_t>(tensors.size() - 1);
  }
  const shr::TensorRecord& t(uint32_t id) const { return tensors[id]; }

  shr::OpRecord& op(const std::string& name, O code, std::vector<uint32_t> in, uint32_t out) {
    ops.push_back(shrink::test::op_record(str(name), code, op_inputs, in, out));
    return ops.back();
  }

  std::vector<uint8_t> build(bool integer) {
    shr::MetaRecord meta{};
    meta.name = str("seed");
    meta.producer = str("fuzz/make_corpus.cc");
    meta.input_count = static_cast<uint32_t>(inputs.size());
    meta.output_count = static_cast<uint32_t>(outputs.size());
    meta.mean_count = static_cast<uint32_t>(mean.size());
    meta.std_count = static_cast<uint32_t>(stdev.size());
    std::vector<shr::StrRef> label_refs;
    for (const std::string& l : labels) label_refs.push_back(str(l));
    std::vector<uint32_t> io = inputs;
    io.insert(io.end(), outputs.begin(), outputs.end());
    std::vector<float> norm = mean;
    norm.insert(norm.end(), stdev.begin(), stdev.end());
    auto raw = [](const auto& v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(v[0])); };
    std::vector<std::pair<shr::SectionType, std::string>> secs = {
        {shr::SectionType::Strings, strings},
        {shr::SectionType::Meta, std::string(reinterpret_cast<const char*>(&meta), sizeof meta)},
        {shr::SectionType::GraphIO, raw(io)}};
    if (!norm.empty()) secs.push_back({shr::SectionType::Normalization, raw(norm)});
    if (!label_refs.empty()) secs.push_back({shr::SectionType::Labels, raw(label_refs)});
    secs.push_back({shr::SectionType::Tensors, raw(tensors)});
    secs.push_back({shr::SectionType::Ops, raw(ops)});
    secs.push_back({shr::SectionType::OpInputs, raw(op_inputs)});
    secs.push_back({shr::SectionType::Data, data});
    std::vector<uint8_t> out = shrink::test::layout_sections(secs);
    shr::FileHeader h{};
    std::memcpy(h.magic, shr::kMagic, 8);
    h.version = shr::kVersion;
    h.flags = integer ? shr::kFlagInteger : 0;
    h.section_count = static_cast<uint32_t>(secs.size());
    shrink::test::write_header(out, h, secs.size());
    return out;
  }
};

/// Values of `dtype` as little-endian bytes (integers are rounded and stored as they are).
std::string encode(D dtype, const std::vector<double>& v) {
  std::string s;
  for (double x : v) {
    if (dtype == D::F32) {
      const float f = static_cast<float>(x);
      s.append(reinterpret_cast<const char*>(&f), 4);
    } else if (dtype == D::I8 || dtype == D::U8) {
      s += static_cast<char>(static_cast<int8_t>(std::lround(x)));
    } else if (dtype == D::I16 || dtype == D::U16) {
      const int16_t q = static_cast<int16_t>(std::lround(x));
      s.append(reinterpret_cast<const char*>(&q), 2);
    } else {
      const int32_t q = static_cast<int32_t>(std::lround(x));
      s.append(reinterpret_cast<const char*>(&q), 4);
    }
  }
  return s;
}

/// Deterministic small weights: floats in [-0.5, 0.5) or integers within +-range, about
/// `zeros` of them zero (the CSR seeds are sparse).
std::vector<double> weights(size_t n, bool integer, int range, double zeros, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<double> v(n);
  for (double& x : v) {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const double r = std::uniform_real_distribution<double>(-1, 1)(rng);
    x = u < zeros ? 0 : integer ? std::round(r * range) : 0.5 * r;
  }
  return v;
}

/// How a constant is stored.
enum class Store { Dense, Csr, CsrWide, Codebook, CodebookZero, CsrCodebook };

/// The graph of one seed: every op once or more, in float (F32) or fixed point (I8 / I16). The
/// two convolutions are stored as `conv_store`, the depthwise one and the Linear as `lin_store`.
///   x [2,6,6] -(Quantize)-> Conv 4@3x3 pad 1 (fused ReLU) -> grouped Conv 4@3x3 groups 2 dilation 2
///   -> MaxPool 2x2 s2 ceil -> AvgPool 2x2 s1 pad 1 (count_include_pad) -> depthwise Conv 8@3x3 s2 pad 1
///   (fused ReLU6) -> ReLU, ReLU6, LeakyReLU, Sigmoid, Tanh -> Add(3) -> Concat axis 0 ->
///   GlobalAvgPool -> Flatten -> Linear 16->5 -> Reshape [1,5] -(Dequantize)-> Softmax axis 1
/// Graph outputs: the softmax and the global pool.
/// Integer seeds: activations of `bits` bits, weights of type `wdt` (mixed precision when it
/// differs from dt).
std::vector<uint8_t> graph_seed(D dt, Store conv_store, Store lin_store, bool per_channel, D wdt, int bits) {
  Builder b;
  const bool integer = dt != D::F32;
  const int wbits = wdt == D::I8 ? 8 : wdt == D::I16 ? 12 : 0;
  const int range = wdt == D::I8 ? 40 : wdt == D::I16 ? 300 : 0;
  uint32_t seed = 1;
  int fl_cycle = 0;
  // Activations: integer FLs cycle through 3..5 so that requantization shifts both ways.
  auto act = [&](const std::string& name, std::vector<uint32_t> dims, int fl = -100) {
    const int f = !integer ? 0 : fl != -100 ? fl : 3 + (fl_cycle++ % 3);
    return b.add(Builder::record(name, dt, dims, bits, f), name);
  };
  auto clamp = [&](shr::OpRecord& o, A a) {
    o.activation = static_cast<uint8_t>(a);
    if (!integer) return;
    const shr::TensorRecord& y = b.t(o.output);
    const int64_t qmax = (int64_t{1} << (y.bits - 1)) - 1;
    o.clamp_lo = a == A::None ? static_cast<int32_t>(-qmax - 1) : 0;
    o.clamp_hi = static_cast<int32_t>(qmax);
    if (a == A::ReLU6) o.clamp_hi = static_cast<int32_t>(std::min<double>(qmax, std::floor(std::ldexp(6.0, y.fl) + 0.5)));
  };
  // A constant weight in `store`, with per-channel FLs when asked; returns its id and the FL of
  // each output channel (for the bias).
  auto weight = [&](const std::string& name, std::vector<uint32_t> dims, Store store, std::vector<int>& fls) {
    size_t numel = 1;
    for (uint32_t d : dims) numel *= d;
    const uint32_t rows = dims[0];
    const size_t cols = numel / rows;
    shr::TensorRecord r = Builder::record(name, integer ? wdt : D::F32, dims, wbits, integer ? 6 : 0);
    r.flags = shr::kTensorConstant;
    fls.assign(rows, r.fl);
    if (integer && per_channel) {
      std::string f;
      for (uint32_t c = 0; c < rows; ++c) f += static_cast<char>(fls[c] = 5 + static_cast<int>(c % 3));
      r.fl = 0;
      r.channel_fl_count = rows;
      r.parts[3] = b.part(f);
    }
    if (store == Store::Dense) {
      r.parts[0] = b.part(encode(integer ? wdt : D::F32, weights(numel, integer, range, 0.1, seed++)));
    } else if (store == Store::Csr || store == Store::CsrWide) {
      const std::vector<double> w = weights(numel, integer, range, 0.6, seed++);
      std::vector<double> values, row_ptr{0}, cols_idx;
      for (uint32_t row = 0; row < rows; ++row) {
        for (size_t c = 0; c < cols; ++c)
          if (w[row * cols + c] != 0) {
            values.push_back(w[row * cols + c]);
            cols_idx.push_back(static_cast<double>(c));
          }
        row_ptr.push_back(static_cast<double>(values.size()));
      }
      r.storage = static_cast<uint8_t>(shr::Storage::Csr);
      r.nnz = static_cast<uint32_t>(values.size());
      const D rp = store == Store::CsrWide ? D::U16 : shr::index_type_for(values.size());
      const D ct = store == Store::CsrWide ? D::U16 : shr::index_type_for(cols - 1);
      r.row_ptr_type = static_cast<uint8_t>(rp);
      r.col_type = static_cast<uint8_t>(ct);
      r.parts[0] = b.part(encode(integer ? wdt : D::F32, values));
      r.parts[1] = b.part(encode(rp, row_ptr));
      r.parts[2] = b.part(encode(ct, cols_idx));
    } else if (store == Store::CsrCodebook) {  // 3-bit indices, 6 centroids, about 60% pruned (index 0)
      std::vector<double> centroids{0, -3, 5, 11, -19, 23};
      for (double& c : centroids) c *= wdt == D::I16 ? 10 : 1;
      const shr::CsrCodebookEncoder e(rows, cols, [](uint64_t i) {
        return (i * 7 + i / 5) % 10 < 6 ? 0u : static_cast<uint32_t>(1 + i % 5);
      });
      const std::vector<uint8_t> packed = shr::pack_indices(e.indices.data(), e.indices.size(), 3);
      const std::vector<uint8_t> structure = e.structure(e.row_ptr_type());
      r.storage = static_cast<uint8_t>(shr::Storage::CsrCodebook);
      r.flags |= shr::kTensorZeroReserved;
      r.index_bits = 3;
      r.centroid_count = static_cast<uint32_t>(centroids.size());
      r.nnz = static_cast<uint32_t>(e.nnz());
      r.row_ptr_type = static_cast<uint8_t>(e.row_ptr_type());
      r.col_type = static_cast<uint8_t>(D::U8);
      r.parts[0] = b.part(encode(wdt, centroids));
      r.parts[1] = b.part(std::string(packed.begin(), packed.end()));
      r.parts[2] = b.part(std::string(structure.begin(), structure.end()));
    } else {  // codebook: 3-bit indices, 6 centroids (centroid 0 = 0 when reserved)
      const bool zero = store == Store::CodebookZero;
      std::vector<double> centroids{zero ? 0.0 : -7, -3, 5, 11, -19, 23};
      for (double& c : centroids) c *= wdt == D::I16 ? 10 : 1;
      r.storage = static_cast<uint8_t>(shr::Storage::Codebook);
      r.flags |= zero ? shr::kTensorZeroReserved : 0;
      r.index_bits = 3;
      r.centroid_count = static_cast<uint32_t>(centroids.size());
      std::string packed(shr::packed_index_bytes(numel, 3), '\0');
      for (size_t i = 0; i < numel; ++i) {
        const uint32_t idx = static_cast<uint32_t>((i * 5 + i / 7) % centroids.size());
        for (int k = 0; k < 3; ++k)
          if (idx >> k & 1u) packed[(i * 3 + k) / 8] = static_cast<char>(packed[(i * 3 + k) / 8] | (1 << ((i * 3 + k) % 8)));
      }
      r.parts[0] = b.part(encode(wdt, centroids));
      r.parts[1] = b.part(packed);
    }
    return b.add(r, name);
  };
  auto bias = [&](const std::string& name, const std::vector<int>& w_fls, int x_fl) {
    const uint32_t n = static_cast<uint32_t>(w_fls.size());
    shr::TensorRecord r = Builder::record(name, integer ? D::I32 : D::F32, {n}, integer ? 32 : 0, 0);
    r.flags = shr::kTensorConstant;
    if (integer) {
      bool same = true;
      for (int f : w_fls) same = same && f == w_fls[0];
      if (same) {
        r.fl = static_cast<int8_t>(x_fl + w_fls[0]);
      } else {
        std::string f;
        for (int wf : w_fls) f += static_cast<char>(x_fl + wf);
        r.channel_fl_count = n;
        r.parts[3] = b.part(f);
      }
    }
    r.parts[0] = b.part(encode(r.dtype == 0 ? D::F32 : D::I32, weights(n, integer, 500, 0, seed++)));
    return b.add(r, name);
  };
  auto conv = [&](const std::string& name, uint32_t x, uint32_t y, uint32_t out_c, uint32_t groups, uint32_t k,
                  uint32_t stride, uint32_t dil, uint32_t pad, Store store, A a) {
    std::vector<int> fls;
    const uint32_t w = weight(name + ".weight", {out_c, b.t(x).dims[0] / groups, k, k}, store, fls);
    const uint32_t bi = bias(name + ".bias", fls, b.t(x).fl);
    shr::OpRecord& o = b.op(name, O::Conv2d, {x}, y);
    o.weight = w;
    o.bias = bi;
    o.groups = groups;
    o.kernel[0] = o.kernel[1] = k;
    o.stride[0] = o.stride[1] = stride;
    o.dilation[0] = o.dilation[1] = dil;
    for (uint32_t& p : o.pads) p = pad;
    o.flags = dt == D::I8 ? shr::kOpAcc32 : 0;  // small weights, <= 8-bit inputs: the int32 claim holds
    clamp(o, a);
  };
  auto table_op = [&](const std::string& name, O code, uint32_t x, uint32_t y) {
    shr::OpRecord& o = b.op(name, code, {x}, y);
    if (code == O::LeakyReLU && !integer) o.alpha = 0.125f;
    if (!integer) return;
    const shr::TensorRecord &tx = b.t(x), &ty = b.t(y);
    const int64_t n = int64_t{1} << tx.bits, qmax = (int64_t{1} << (ty.bits - 1)) - 1;
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const double xv = std::ldexp(static_cast<double>(i - n / 2), -tx.fl);
      const double f = code == O::Sigmoid ? 1 / (1 + std::exp(-xv)) : code == O::Tanh ? std::tanh(xv) : xv < 0 ? xv / 8 : xv;
      v[static_cast<size_t>(i)] = std::max<double>(-qmax - 1, std::min<double>(qmax, std::floor(std::ldexp(f, ty.fl) + 0.5)));
    }
    shr::TensorRecord r = Builder::record(name + ".table", dt, {static_cast<uint32_t>(n)}, ty.bits, ty.fl);
    r.flags = shr::kTensorConstant;
    r.parts[0] = b.part(encode(dt, v));
    o.lut = b.add(r, name + ".table");  // add() appends a tensor, not an op: `o` stays valid
  };

  const uint32_t x = b.add(Builder::record("input", D::F32, {2, 6, 6}, 0, 0), "input");
  b.inputs = {x};
  b.mean = {0.25f, -0.5f};
  b.stdev = {0.5f};
  b.labels = {"a", "b", "c", "d", "e"};
  uint32_t cur = x;
  if (integer) {
    cur = act("input:q", {2, 6, 6}, 4);
    b.op("quantize", O::Quantize, {x}, cur);
  }
  const uint32_t c1 = act("conv1", {4, 6, 6});
  conv("conv1", cur, c1, 4, 1, 3, 1, 1, 1, conv_store, A::ReLU);
  const uint32_t c2 = act("conv2", {4, 6, 6});
  conv("conv2", c1, c2, 4, 2, 3, 1, 2, 2, conv_store, A::None);
  const uint32_t mp = act("maxpool", {4, 3, 3}, b.t(c2).fl);
  shr::OpRecord& omp = b.op("maxpool", O::MaxPool, {c2}, mp);
  omp.kernel[0] = omp.kernel[1] = 2;
  omp.stride[0] = omp.stride[1] = 2;
  omp.dilation[0] = omp.dilation[1] = 1;
  omp.flags = shr::kOpCeilMode;
  const uint32_t ap = act("avgpool", {4, 4, 4});
  shr::OpRecord& oap = b.op("avgpool", O::AvgPool, {mp}, ap);
  oap.kernel[0] = oap.kernel[1] = 2;
  oap.stride[0] = oap.stride[1] = 1;
  oap.dilation[0] = oap.dilation[1] = 1;
  for (uint32_t& p : oap.pads) p = 1;
  oap.flags = shr::kOpCountIncludePad;
  const uint32_t dw = act("dw", {8, 2, 2});
  conv("dw", ap, dw, 8, 4, 3, 2, 1, 1, lin_store, A::ReLU6);  // channel multiplier 2
  const uint32_t relu = act("relu", {8, 2, 2}, b.t(dw).fl);
  clamp(b.op("relu", O::ReLU, {dw}, relu), A::ReLU);
  const uint32_t relu6 = act("relu6", {8, 2, 2}, b.t(relu).fl);
  clamp(b.op("relu6", O::ReLU6, {relu}, relu6), A::ReLU6);
  const uint32_t leaky = act("leaky", {8, 2, 2});
  table_op("leaky", O::LeakyReLU, dw, leaky);
  const uint32_t sig = act("sigmoid", {8, 2, 2});
  table_op("sigmoid", O::Sigmoid, leaky, sig);
  const uint32_t th = act("tanh", {8, 2, 2});
  table_op("tanh", O::Tanh, dw, th);
  const uint32_t sum = act("add", {8, 2, 2});
  clamp(b.op("add", O::Add, {sig, th, relu6}, sum), integer ? A::None : A::ReLU);
  const uint32_t cat = act("concat", {16, 2, 2});
  b.op("concat", O::Concat, {sum, th}, cat);
  const uint32_t gap = act("gap", {16, 1, 1});
  b.op("gap", O::GlobalAvgPool, {cat}, gap);
  const uint32_t flat = act("flatten", {16}, b.t(gap).fl);
  b.op("flatten", O::Flatten, {gap}, flat);
  std::vector<int> fls;
  const uint32_t lw = weight("fc.weight", {5, 16}, lin_store, fls);
  const uint32_t lb = bias("fc.bias", fls, b.t(flat).fl);
  const uint32_t fc = act("fc", {5});
  shr::OpRecord& ofc = b.op("fc", O::Linear, {flat}, fc);
  ofc.weight = lw;
  ofc.bias = lb;
  ofc.flags = dt == D::I8 ? shr::kOpAcc32 : 0;
  clamp(ofc, A::None);
  const uint32_t rs = act("reshape", {1, 5}, b.t(fc).fl);
  b.op("reshape", O::Reshape, {fc}, rs);
  cur = rs;
  if (integer) {
    cur = b.add(Builder::record("fc:f32", D::F32, {1, 5}, 0, 0), "fc:f32");
    b.op("dequantize", O::Dequantize, {rs}, cur);
  }
  const uint32_t sm = b.add(Builder::record("softmax", D::F32, {1, 5}, 0, 0), "softmax");
  b.op("softmax", O::Softmax, {cur}, sm).axis = 1;
  b.outputs = {sm, gap};
  return b.build(integer);
}

/// Loads and runs a seed; exits when it does not (a seed that fails to load is useless).
void check_seed(const std::string& name, const std::vector<uint8_t>& bytes) {
  void* buf = std::aligned_alloc(64, shr::align_up(bytes.size(), 64));
  std::memcpy(buf, bytes.data(), bytes.size());
  shrink_rt_model* m = nullptr;
  char err[256] = "";
  if (shrink_rt_load(buf, bytes.size(), &m, err, sizeof err) != SHRINK_RT_OK) {
    std::fprintf(stderr, "make_corpus: seed %s does not load: %s\n", name.c_str(), err);
    std::exit(1);
  }
  std::vector<uint8_t> arena(shrink_rt_arena_size(m));
  shrink_rt_tensor_info t;
  shrink_rt_tensor_info_get(m, shrink_rt_input_tensor(m, 0), &t);
  std::vector<float> x(static_cast<size_t>(t.numel), 0.75f);
  if (shrink_rt_set_input_f32(m, arena.data(), arena.size(), 0, x.data(), x.size()) != SHRINK_RT_OK ||
      shrink_rt_run(m, arena.data(), arena.size()) != SHRINK_RT_OK) {
    std::fprintf(stderr, "make_corpus: seed %s does not run\n", name.c_str());
    std::exit(1);
  }
  shrink_rt_free(m);
  std::free(buf);
}

void write(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::fprintf(stderr, "make_corpus: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_corpus CORPUS_DIR [--mutations DIR] [--flips N]\n");
    return 2;
  }
  const std::string dir = argv[1];
  std::string mutations;
  int flips = 3000;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--mutations") == 0) mutations = argv[i + 1];
    else if (std::strcmp(argv[i], "--flips") == 0) flips = std::atoi(argv[i + 1]);
  }
  std::vector<std::pair<std::string, std::vector<uint8_t>>> seeds;
  shrink::test::TinyShr tiny;
  seeds.push_back({"tiny_csr_conv", tiny.build()});
  tiny.conv_codebook = true;
  seeds.push_back({"tiny_codebook_conv", tiny.build()});
  seeds.push_back({"f32_dense", graph_seed(D::F32, Store::Dense, Store::Dense, false, D::F32, 0)});
  seeds.push_back({"f32_csr", graph_seed(D::F32, Store::Csr, Store::CsrWide, false, D::F32, 0)});
  seeds.push_back({"i8_dense_per_channel", graph_seed(D::I8, Store::Dense, Store::Dense, true, D::I8, 8)});
  seeds.push_back({"i8_csr", graph_seed(D::I8, Store::Csr, Store::Csr, false, D::I8, 8)});
  seeds.push_back({"i8_codebook", graph_seed(D::I8, Store::Codebook, Store::CodebookZero, false, D::I8, 8)});
  seeds.push_back({"i16_csr", graph_seed(D::I16, Store::CsrWide, Store::Dense, true, D::I16, 10)});
  seeds.push_back({"i16_codebook", graph_seed(D::I16, Store::CodebookZero, Store::Codebook, false, D::I16, 10)});
  seeds.push_back({"mixed_i8x6_w16", graph_seed(D::I8, Store::Dense, Store::Csr, true, D::I16, 6)});
  seeds.push_back({"mixed_i16x11_w8", graph_seed(D::I16, Store::Csr, Store::Dense, false, D::I8, 11)});
  seeds.push_back({"i8_csr_codebook", graph_seed(D::I8, Store::CsrCodebook, Store::CsrCodebook, true, D::I8, 8)});
  seeds.push_back({"i16_csr_codebook", graph_seed(D::I16, Store::CsrCodebook, Store::Dense, false, D::I16, 10)});
  tiny = shrink::test::TinyShr();
  tiny.conv_csr_codebook = true;
  seeds.push_back({"tiny_csr_codebook_conv", tiny.build()});
  tiny.huffman = true;  // encoding 1: fc.weight's indices, conv.weight's indices and gaps
  seeds.push_back({"tiny_huffman", tiny.build()});
  for (const auto& [name, bytes] : seeds) {
    check_seed(name, bytes);
    write(dir + "/" + name + ".shr", bytes);
  }
  if (!mutations.empty()) {
    // Every truncation of the int8 seed, and single-bit flips: every bit of the header and the
    // section table, then random bits anywhere.
    const std::vector<uint8_t>& s = seeds[4].second;
    if (seeds[4].first != "i8_dense_per_channel") return 1;  // the seed with all 9 sections
    for (size_t n = 0; n < s.size(); ++n) write(mutations + "/trunc_" + std::to_string(n), {s.begin(), s.begin() + n});
    std::mt19937_64 rng(12345);
    const size_t head_bits = (64 + 32 * 9) * 8;
    for (int i = 0; i < flips; ++i) {
      std::vector<uint8_t> f = s;
      const size_t bit = static_cast<size_t>(i) < head_bits ? static_cast<size_t>(i) : rng() % (s.size() * 8);
      f[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      write(mutations + "/flip_" + std::to_string(bit), f);
    }
  }
  std::printf("make_corpus: %zu seeds in %s%s\n", seeds.size(), dir.c_str(),
              mutations.empty() ? "" : (", truncations and bit flips in " + mutations).c_str());
  return 0;
}
