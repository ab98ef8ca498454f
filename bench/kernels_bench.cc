// Micro-benchmark of the hot integer kernels: scalar reference path vs AVX2 path, batch 1, one
// thread. Prints one JSON document: median microseconds per call and the ratios.
//
//   build/bin/shrink_kernels_bench            # all cases, ~10 s
//   build/bin/shrink_kernels_bench --quick    # fewer repetitions
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace k = shrink::rt::kernels;

namespace {

int g_samples = 15;

struct Timing {
  double median = 0, min = 0;
};

/// Median and minimum over g_samples of the mean time of a batch of calls sized to take ~10 ms
/// (the minimum is the better estimate on a shared, busy machine).
Timing time_us(const std::function<void()>& f) {
  using clock = std::chrono::steady_clock;
  f();  // warm up
  int reps = 1;
  for (;;) {
    const auto t0 = clock::now();
    for (int i = 0; i < reps; ++i) f();
    const double us = std::chrono::duration<double, std::micro>(clock::now() - t0).count();
    if (us > 10000.0 || reps > (1 << 20)) break;
    reps *= 2;
  }
  std::vector<double> s;
  for (int i = 0; i < g_samples; ++i) {
    const auto t0 = clock::now();
    for (int r = 0; r < reps; ++r) f();
    s.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count() / reps);
  }
  std::sort(s.begin(), s.end());
  return {s[s.size() / 2], s.front()};
}

/// Median over g_samples of time(f) / time(g), the two timed alternately (batches of ~10 ms
/// each), so that load from other jobs on a shared machine hits both alike.
double paired_ratio(const std::function<void()>& f, const std::function<void()>& g) {
  using clock = std::chrono::steady_clock;
  auto batch = [](const std::function<void()>& h, int reps) {
    const auto t0 = clock::now();
    for (int i = 0; i < reps; ++i) h();
    return std::chrono::duration<double, std::micro>(clock::now() - t0).count() / reps;
  };
  auto reps_for = [&](const std::function<void()>& h) {
    int reps = 1;
    while (batch(h, reps) * reps < 10000.0 && reps < (1 << 20)) reps *= 2;
    return reps;
  };
  const int rf = reps_for(f), rg = reps_for(g);
  std::vector<double> r;
  for (int i = 0; i < 2 * g_samples; ++i) r.push_back(batch(f, rf) / batch(g, rg));
  std::sort(r.begin(), r.end());
  return r[r.size() / 2];
}

/// Runs f on the scalar path and on the AVX2 path (when the CPU has it).
struct Pair {
  Timing scalar, avx2;
};
Pair both(const std::function<void()>& f) {
  Pair p;
  k::set_isa(k::Isa::kScalar);
  p.scalar = time_us(f);
  if (k::set_isa(k::Isa::kAvx2) == k::Isa::kAvx2) p.avx2 = time_us(f);
  k::set_isa(k::detected_isa());
  return p;
}

std::vector<int8_t> random_s8(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

std::string fmt(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

std::string entry(const char* name, const Pair& p) {
  return std::string("    \"") + name + "\": {\"scalar_median_us\": " + fmt(p.scalar.median) +
         ", \"avx2_median_us\": " + fmt(p.avx2.median) + ", \"scalar_min_us\": " + fmt(p.scalar.min) +
         ", \"avx2_min_us\": " + fmt(p.avx2.min) + ", \"speedup_median\": " + fmt(ratio(p.scalar.median, p.avx2.median)) +
         ", \"speedup_min\": " + fmt(ratio(p.scalar.min, p.avx2.min)) + "}";
}

std::string sparse_entry(const char* name, double nnz, const Pair& dense, const Pair& sparse, double paired, bool last) {
  return std::string("    \"") + name + "\": {\"nnz_fraction\": " + fmt(nnz) +
         ", \"dense_avx2_over_sparse_avx2_paired_median\": " + fmt(paired) +
         ", \"dense_avx2_over_sparse_avx2_median\": " + fmt(ratio(dense.avx2.median, sparse.avx2.median)) +
         ", \"dense_avx2_over_sparse_avx2_min\": " + fmt(ratio(dense.avx2.min, sparse.avx2.min)) +
         ", \"dense_scalar_over_sparse_scalar_median\": " + fmt(ratio(dense.scalar.median, sparse.scalar.median)) +
         ", \"dense_scalar_over_sparse_avx2_median\": " + fmt(ratio(dense.scalar.median, sparse.avx2.median)) + "}" +
         (last ? "\n" : ",\n");
}

Pair bench_conv(const k::Conv2dParams& p, std::mt19937& rng) {
  const int cin_g = p.in_c / p.groups;
  auto x = random_s8(static_cast<size_t>(p.in_c) * p.in_h * p.in_w, rng);
  auto w = random_s8(static_cast<size_t>(p.out_c) * cin_g * p.kernel_h * p.kernel_w, rng);
  std::vector<int32_t> bias(static_cast<size_t>(p.out_c), 1000);
  std::vector<int8_t> y(static_cast<size_t>(p.out_c) * p.out_h * p.out_w);
  std::vector<uint8_t> scratch(k::conv2d_q_scratch_size(p, 8, 8));
  const int8_t fl = 6;
  const k::QWeights wq{8, &fl, 1, bias.data(), false};
  return both([&] { k::conv2d_q(p, {x.data(), 8, 4}, w.data(), wq, {y.data(), 8, 3}, scratch.data()); });
}

struct DenseCase {
  Pair dense, sparse;
  double nnz_fraction;
  double paired = 0;  ///< AVX2 path: dense time / sparse time, timed alternately
};

DenseCase bench_dense(int in, int out, double sparsity, std::mt19937& rng) {
  const k::DenseParams p{1, in, out, k::Act::kRelu};
  auto x = random_s8(static_cast<size_t>(in), rng);
  auto w = random_s8(static_cast<size_t>(in) * out, rng);
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& v : w)
    if (u(rng) < sparsity || v == 0) v = 0;
  std::vector<int32_t> bias(static_cast<size_t>(out), -500);
  std::vector<int8_t> y(static_cast<size_t>(out));
  const int8_t fl = 7;
  const k::QWeights wq{8, &fl, 1, bias.data(), false};
  // CSR of the same matrix.
  std::vector<uint32_t> rp{0};
  std::vector<uint16_t> ci;
  std::vector<int8_t> vals;
  for (int r = 0; r < out; ++r) {
    for (int c = 0; c < in; ++c)
      if (w[static_cast<size_t>(r) * in + c] != 0) {
        ci.push_back(static_cast<uint16_t>(c));
        vals.push_back(w[static_cast<size_t>(r) * in + c]);
      }
    rp.push_back(static_cast<uint32_t>(ci.size()));
  }
  k::CsrMatrix m;
  m.rows = out;
  m.cols = in;
  m.row_ptr = rp.data();
  m.col_idx = ci.data();
  m.idx_type = k::IndexType::kU16;
  m.values = vals.data();
  std::vector<uint8_t> s1(k::dense_q_scratch_size(p, 8, 8)), s2(k::dense_csr_q_scratch_size(p, 8, 8));
  DenseCase dc;
  dc.dense = both([&] { k::dense_q(p, {x.data(), 8, 5}, w.data(), wq, {y.data(), 8, 4}, s1.data()); });
  dc.sparse = both([&] { k::dense_csr_q(p, {x.data(), 8, 5}, m, wq, {y.data(), 8, 4}, s2.data()); });
  dc.nnz_fraction = static_cast<double>(vals.size()) / (static_cast<double>(in) * out);
  if (k::set_isa(k::Isa::kAvx2) == k::Isa::kAvx2)
    dc.paired = paired_ratio([&] { k::dense_q(p, {x.data(), 8, 5}, w.data(), wq, {y.data(), 8, 4}, s1.data()); },
                             [&] { k::dense_csr_q(p, {x.data(), 8, 5}, m, wq, {y.data(), 8, 4}, s2.data()); });
  k::set_isa(k::detected_isa());
  return dc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--quick") == 0) g_samples = 5;
  std::mt19937 rng(42);

  k::Conv2dParams c3;
  c3.in_c = 16; c3.in_h = c3.in_w = 28; c3.out_c = 32; c3.kernel_h = c3.kernel_w = 3;
  c3.pad_top = c3.pad_left = c3.pad_bottom = c3.pad_right = 1; c3.act = k::Act::kRelu;
  k::conv2d_fill_out_dims(c3);
  const Pair conv3 = bench_conv(c3, rng);

  k::Conv2dParams c1;
  c1.in_c = 32; c1.in_h = c1.in_w = 28; c1.out_c = 64;
  k::conv2d_fill_out_dims(c1);
  const Pair conv1 = bench_conv(c1, rng);

  k::Conv2dParams dw;
  dw.in_c = dw.out_c = dw.groups = 64; dw.in_h = dw.in_w = 28; dw.kernel_h = dw.kernel_w = 3;
  dw.pad_top = dw.pad_left = dw.pad_bottom = dw.pad_right = 1; dw.act = k::Act::kRelu6;
  k::conv2d_fill_out_dims(dw);
  const Pair dw1 = bench_conv(dw, rng);
  dw.stride_h = dw.stride_w = 2;
  k::conv2d_fill_out_dims(dw);
  const Pair dw2 = bench_conv(dw, rng);

  const DenseCase d800 = bench_dense(800, 500, 0.9, rng);
  const DenseCase d784 = bench_dense(784, 300, 0.9, rng);
  const DenseCase d300 = bench_dense(300, 100, 0.9, rng);  // LeNet-300-100's second layer

  std::printf("{\n  \"isa_detected\": \"%s\",\n  \"kernels\": {\n", k::detected_isa() == k::Isa::kAvx2 ? "avx2" : "scalar");
  std::printf("%s,\n", entry("conv3x3_s8_16to32_28x28", conv3).c_str());
  std::printf("%s,\n", entry("conv1x1_s8_32to64_28x28", conv1).c_str());
  std::printf("%s,\n", entry("dwconv3x3_s8_64ch_28x28_s1", dw1).c_str());
  std::printf("%s,\n", entry("dwconv3x3_s8_64ch_28x28_s2", dw2).c_str());
  std::printf("%s,\n", entry("dense_s8_800to500", d800.dense).c_str());
  std::printf("%s,\n", entry("dense_csr_s8_800to500_sparse90", d800.sparse).c_str());
  std::printf("%s,\n", entry("dense_s8_784to300", d784.dense).c_str());
  std::printf("%s,\n", entry("dense_csr_s8_784to300_sparse90", d784.sparse).c_str());
  std::printf("%s,\n", entry("dense_s8_300to100", d300.dense).c_str());
  std::printf("%s\n  },\n", entry("dense_csr_s8_300to100_sparse90", d300.sparse).c_str());
  std::printf("  \"sparse_vs_dense\": {\n");
  std::printf("%s", sparse_entry("800to500", d800.nnz_fraction, d800.dense, d800.sparse, d800.paired, false).c_str());
  std::printf("%s", sparse_entry("784to300", d784.nnz_fraction, d784.dense, d784.sparse, d784.paired, false).c_str());
  std::printf("%s", sparse_entry("300to100", d300.nnz_fraction, d300.dense, d300.sparse, d300.paired, true).c_str());
  std::printf("  }\n}\n");
  return 0;
}
