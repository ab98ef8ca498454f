// Sparse (CSR) kernels: a CSR matrix must give exactly the integers of the dense kernels on the
// same (densified) weights; the AVX2 sparse dense path against dense_csr_q_ref bit for bit;
// the sparse convolutions (im2col + SpMM and direct) against conv2d_q_ref; fp32 versions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "kernels/internal.h"
#include "kernels_testing.h"

namespace {

using namespace kt;

constexpr float kF32Tol = 1e-5f;

k::IndexType narrowest_for(uint32_t max_value) {
  return max_value <= 255 ? k::IndexType::kU8 : (max_value <= 65535 ? k::IndexType::kU16 : k::IndexType::kU32);
}

/// A CSR copy of a dense rows x cols matrix (zeros dropped), columns shuffled inside each row
/// (order is free) and stored with the requested index width.
struct Csr {
  std::vector<uint32_t> row_ptr{0};
  std::vector<uint8_t> rp8;
  std::vector<uint16_t> rp16;
  std::vector<uint8_t> i8;
  std::vector<uint16_t> i16;
  std::vector<uint32_t> i32;
  QBuf vals;
  std::vector<float> fvals;
  k::CsrMatrix m;

  Csr(Rng& rng, int rows, int cols, const std::function<double(size_t)>& get, int bits, k::IndexType t, bool f32) {
    std::vector<uint32_t> idx;
    std::vector<double> v;
    for (int r = 0; r < rows; ++r) {
      std::vector<uint32_t> cs;
      for (int c = 0; c < cols; ++c)
        if (get(static_cast<size_t>(r) * cols + c) != 0) cs.push_back(static_cast<uint32_t>(c));
      std::shuffle(cs.begin(), cs.end(), rng);
      for (uint32_t c : cs) {
        idx.push_back(c);
        v.push_back(get(static_cast<size_t>(r) * cols + c));
      }
      row_ptr.push_back(static_cast<uint32_t>(idx.size()));
    }
    vals = QBuf(bits, 0, v.size());
    for (size_t j = 0; j < v.size(); ++j) {
      if (f32) fvals.push_back(static_cast<float>(v[j]));
      else vals.set(j, static_cast<int64_t>(v[j]));
    }
    for (uint32_t c : idx) {
      i8.push_back(static_cast<uint8_t>(c));
      i16.push_back(static_cast<uint16_t>(c));
      i32.push_back(c);
    }
    m.rows = rows;
    m.cols = cols;
    // Row pointers in the narrowest type that holds nnz, as the .shr writer stores them.
    for (uint32_t r : row_ptr) {
      rp8.push_back(static_cast<uint8_t>(r));
      rp16.push_back(static_cast<uint16_t>(r));
    }
    m.ptr_type = narrowest_for(row_ptr.back());
    m.row_ptr = m.ptr_type == k::IndexType::kU8 ? static_cast<const void*>(rp8.data())
                                                : (m.ptr_type == k::IndexType::kU16 ? static_cast<const void*>(rp16.data()) : row_ptr.data());
    m.idx_type = t;
    m.col_idx = t == k::IndexType::kU8 ? static_cast<const void*>(i8.data())
                                       : (t == k::IndexType::kU16 ? static_cast<const void*>(i16.data()) : i32.data());
    m.values = f32 ? static_cast<const void*>(fvals.data()) : vals.data();
  }
};

k::IndexType narrowest(int cols) { return narrowest_for(static_cast<uint32_t>(cols - 1)); }

/// Zeroes a fraction of the weights (pruning).
void prune(Rng& rng, QBuf& w, double sparsity) {
  std::uniform_real_distribution<double> u(0, 1);
  for (size_t i = 0; i < w.size(); ++i)
    if (u(rng) < sparsity) w.set(i, 0);
}

struct Formats {
  int fl_x, fl_y;
  std::vector<int8_t> fl_w;
  std::vector<int32_t> bias;
  k::Act act;
};

Formats random_formats(Rng& rng, int out, int x_bits, int w_bits, int y_bits, int terms) {
  Formats f;
  f.fl_x = uniform(rng, -8, 24);
  const int fl_w = uniform(rng, -8, 24);
  if (uniform(rng, 0, 1)) f.fl_w.assign(1, static_cast<int8_t>(fl_w));
  else
    for (int i = 0; i < out; ++i) f.fl_w.push_back(static_cast<int8_t>(fl_w + uniform(rng, -2, 2)));
  const int s = static_cast<int>(std::log2(std::sqrt(terms) + 1)) + (x_bits - 2) + (w_bits - 2) - (y_bits - 2) + uniform(rng, -2, 2);
  f.fl_y = f.fl_x + fl_w - s;
  for (int i = 0; uniform(rng, 0, 2) > 0 && i < out; ++i) f.bias.push_back(uniform(rng, -3000, 3000));
  if (!f.bias.empty()) f.bias.resize(static_cast<size_t>(out), 7);
  f.act = static_cast<k::Act>(uniform(rng, 0, 2));
  return f;
}

k::QWeights wq_of(const Formats& f, int w_bits, bool acc32) {
  return {w_bits, f.fl_w.data(), static_cast<int>(f.fl_w.size()), f.bias.empty() ? nullptr : f.bias.data(), acc32};
}

TEST(KernelsSparse, HandComputedCsr) {
  // 2 x 4 matrix [[0, 3, 0, -2], [5, 0, 0, 0]], x = [1, 2, 3, 4], s = 1.
  const uint8_t rp[] = {0, 2, 3};
  const uint8_t ci[] = {3, 1, 0};
  const int8_t v[] = {-2, 3, 5};
  k::CsrMatrix m;
  m.rows = 2, m.cols = 4, m.row_ptr = rp, m.ptr_type = k::IndexType::kU8, m.col_idx = ci, m.idx_type = k::IndexType::kU8, m.values = v;
  const int8_t x[] = {1, 2, 3, 4};
  const int8_t fl = 1;
  int8_t y[2];
  k::dense_csr_q_ref({1, 4, 2, k::Act::kNone}, {x, 8, 0}, m, {8, &fl, 1, nullptr, false}, {y, 8, 0});
  EXPECT_EQ(y[0], -1);  // 6 - 8 = -2 -> -1
  EXPECT_EQ(y[1], 3);   // 5 -> 2.5 -> 3
}

TEST(KernelsSparse, CsrDenseEqualsDenseKernelAndAvx2EqualsReference) {
  Rng rng(41);
  const k::FastPaths* f = k::cpu_fast_paths();
  int fast_checked = 0;
  for (int iter = 0; iter < 240; ++iter) {
    const bool big = iter % 8 == 0;
    const int in = big ? uniform(rng, 200, 70000) : uniform(rng, 1, 67), out = big ? uniform(rng, 1, 6) : uniform(rng, 1, 40);
    const int n = uniform(rng, 1, 2);
    const int x_bits = iter % 5 == 4 ? uniform(rng, 9, 16) : uniform(rng, 2, 8);
    const int w_bits = iter % 7 == 6 ? uniform(rng, 9, 16) : uniform(rng, 2, 8);
    const int y_bits = uniform(rng, 2, 16);
    QBuf x = random_q(rng, x_bits, static_cast<size_t>(n) * in, random_fill(rng));
    QBuf w = random_q(rng, w_bits, static_cast<size_t>(in) * out, random_fill(rng));
    prune(rng, w, std::uniform_real_distribution<double>(0.0, 0.99)(rng));
    Formats fm = random_formats(rng, out, x_bits, w_bits, y_bits, in / 4 + 1);
    x.fl = fm.fl_x;
    const bool acc32 = uniform(rng, 0, 1) && acc32_ok(w, out, in, fm.bias, x_bits);
    const k::DenseParams p{n, in, out, fm.act};
    const k::IndexType t = iter % 3 == 0 ? k::IndexType::kU32 : narrowest(in);
    Csr csr(rng, out, in, [&](size_t i) { return static_cast<double>(w.get(i)); }, w_bits, t, false);
    QBuf want(y_bits, fm.fl_y, static_cast<size_t>(n) * out), got = want;
    k::dense_q_ref(p, x.in(), w.data(), wq_of(fm, w_bits, acc32), want.out());
    k::dense_csr_q_ref(p, x.in(), csr.m, wq_of(fm, w_bits, acc32), got.out());
    EXPECT_SAME_Q(got, want, "csr ref vs dense, case " + std::to_string(iter));
    if (f) {
      QBuf fast = want;
      std::vector<uint8_t> scratch(f->dense_csr_q_scratch(p, x_bits, w_bits) + 1);
      const bool ran = f->dense_csr_q(p, x.in(), csr.m, wq_of(fm, w_bits, acc32), fast.out(), scratch.data() + 1);
      EXPECT_EQ(ran, w_bits <= 8);
      if (ran) {
        ++fast_checked;
        EXPECT_SAME_Q(fast, want, "csr avx2 vs ref, case " + std::to_string(iter) + " in " + std::to_string(in));
      }
    }
  }
  if (f) {
    EXPECT_GT(fast_checked, 100);
  }
}

TEST(KernelsSparse, Avx2ExactWithSaturatingValuesEverywhere) {
  if (!k::cpu_fast_paths()) GTEST_SKIP() << "this CPU has no AVX2";
  Rng rng(42);
  for (int in : {8, 9, 15, 16, 17, 255, 256, 300, 2200000}) {
    const int out = in > 1000 ? 1 : 5;  // 2.2M products of 2^14 in one row: int32 lanes must be flushed
    QBuf x = random_q(rng, 8, static_cast<size_t>(in), Fill::kMin, 0);
    QBuf w = random_q(rng, 8, static_cast<size_t>(in) * out, in > 1000 ? Fill::kMin : Fill::kExtremes);
    const std::vector<int8_t> fl{0};
    const k::DenseParams p{1, in, out, k::Act::kNone};
    Csr csr(rng, out, in, [&](size_t i) { return static_cast<double>(w.get(i)); }, 8, narrowest(in), false);
    QBuf want(16, in > 1000 ? -21 : -6, static_cast<size_t>(out)), got = want;
    k::dense_csr_q_ref(p, x.in(), csr.m, {8, fl.data(), 1, nullptr, false}, want.out());
    if (in > 1000) {
      EXPECT_EQ(want.get(0), (int64_t{2200000} * 16384 + (1 << 20)) >> 21);
    }
    std::vector<uint8_t> scratch(k::dense_csr_q_scratch_size(p, 8, 8));
    IsaScope s(k::Isa::kAvx2);
    k::dense_csr_q(p, x.in(), csr.m, {8, fl.data(), 1, nullptr, false}, got.out(), scratch.data());
    EXPECT_SAME_Q(got, want, "in " + std::to_string(in));
  }
}

TEST(KernelsSparse, Avx2EveryRowLengthEveryIndexWidthInt8AndInt16Input) {
  // Row lengths 0..40 (every tail of the 16-wide blocks, empty rows), ascending (the last
  // block of the matrix is partial: copied) and descending (partial blocks read into the next
  // rows: masked); u8 / u16 / u32 indices; int8, 4-bit and int16 inputs; batch 2.
  const k::FastPaths* f = k::cpu_fast_paths();
  if (!f) GTEST_SKIP() << "this CPU has no AVX2";
  Rng rng(45);
  int checked = 0;
  for (const k::IndexType t : {k::IndexType::kU8, k::IndexType::kU16, k::IndexType::kU32})
    for (const int x_bits : {8, 4, 12, 16})
      for (const bool descending : {false, true}) {
        const int rows = 41, cols = t == k::IndexType::kU8 ? 256 : (t == k::IndexType::kU16 ? 1000 : 70000);
        const int w_bits = x_bits == 12 ? 3 : 8;
        QBuf w(w_bits, 0, static_cast<size_t>(rows) * cols);
        const QBuf vals = random_q(rng, w_bits, static_cast<size_t>(rows) * 40, x_bits == 4 ? Fill::kUniform : Fill::kExtremes);
        for (int r = 0; r < rows; ++r) {
          const int len = (descending ? rows - 1 - r : r) % 7 == 3 ? 0 : (descending ? rows - 1 - r : r);
          std::vector<int> cs(static_cast<size_t>(cols));
          for (int c = 0; c < cols; ++c) cs[static_cast<size_t>(c)] = c;
          std::shuffle(cs.begin(), cs.end(), rng);
          for (int i = 0; i < len; ++i) {
            const int64_t v = vals.get(static_cast<size_t>(r) * 40 + i);
            w.set(static_cast<size_t>(r) * cols + cs[static_cast<size_t>(i)], v == 0 ? 1 : v);
          }
        }
        QBuf x = random_q(rng, x_bits, static_cast<size_t>(2) * cols, random_fill(rng));
        Formats fm = random_formats(rng, rows, x_bits, w_bits, 16, 20);
        x.fl = fm.fl_x;
        const k::DenseParams p{2, cols, rows, fm.act};
        Csr csr(rng, rows, cols, [&](size_t i) { return static_cast<double>(w.get(i)); }, w_bits, t, false);
        QBuf want(16, fm.fl_y, static_cast<size_t>(2) * rows), fast = want;
        k::dense_csr_q_ref(p, x.in(), csr.m, wq_of(fm, w_bits, false), want.out());
        std::vector<uint8_t> scratch(f->dense_csr_q_scratch(p, x_bits, w_bits) + 3);
        ASSERT_TRUE(f->dense_csr_q(p, x.in(), csr.m, wq_of(fm, w_bits, false), fast.out(), scratch.data() + 3));
        EXPECT_SAME_Q(fast, want, "index type " + std::to_string(static_cast<int>(t)) + ", x bits " + std::to_string(x_bits) +
                                      (descending ? ", descending" : ", ascending"));
        ++checked;
      }
  EXPECT_EQ(checked, 24);
}

TEST(KernelsSparse, Avx2Int16InputSaturatingRowNeedsInt64) {
  // One row of 5000 products (-32768) * (-128) = 2^22: 313 blocks of 16, while an int32 lane
  // holds at most 255 pair sums of 2^23. The row sum 5000 * 2^22 must come out exactly.
  const k::FastPaths* f = k::cpu_fast_paths();
  if (!f) GTEST_SKIP() << "this CPU has no AVX2";
  Rng rng(46);
  const int in = 5000;
  QBuf x = random_q(rng, 16, static_cast<size_t>(in), Fill::kMin, 0);
  QBuf w = random_q(rng, 8, static_cast<size_t>(in), Fill::kMin);
  Csr csr(rng, 1, in, [&](size_t i) { return static_cast<double>(w.get(i)); }, 8, k::IndexType::kU16, false);
  const std::vector<int8_t> fl{20};
  const k::DenseParams p{1, in, 1, k::Act::kNone};
  QBuf want(16, 0, 1), fast = want;
  k::dense_csr_q_ref(p, x.in(), csr.m, {8, fl.data(), 1, nullptr, false}, want.out());
  EXPECT_EQ(want.get(0), 20000);  // 5000 * 2^22 / 2^20
  std::vector<uint8_t> scratch(f->dense_csr_q_scratch(p, 16, 8));
  ASSERT_TRUE(f->dense_csr_q(p, x.in(), csr.m, {8, fl.data(), 1, nullptr, false}, fast.out(), scratch.data()));
  EXPECT_EQ(fast.get(0), 20000);
}

TEST(KernelsSparse, SparseConvEqualsDenseConv) {
  Rng rng(43);
  for (int iter = 0; iter < 120; ++iter) {
    k::Conv2dParams p;
    p.n = uniform(rng, 1, 2);
    p.groups = uniform(rng, 0, 3) == 0 ? uniform(rng, 2, 3) : 1;
    p.in_c = p.groups * uniform(rng, 1, 5), p.out_c = p.groups * uniform(rng, 1, 5);
    if (iter % 6 == 0) p.in_c = p.out_c = p.groups = uniform(rng, 1, 6);  // depthwise
    p.kernel_h = uniform(rng, 1, 3), p.kernel_w = uniform(rng, 1, 3);
    random_window(rng, p, 9, 11, 2, 2);
    if (!has_output(p)) continue;
    k::conv2d_fill_out_dims(p);
    const int K = p.in_c / p.groups * p.kernel_h * p.kernel_w;
    const int x_bits = uniform(rng, 2, 16), w_bits = uniform(rng, 2, 16), y_bits = uniform(rng, 2, 16);
    QBuf x = random_q(rng, x_bits, static_cast<size_t>(p.n) * p.in_c * p.in_h * p.in_w, random_fill(rng));
    QBuf w = random_q(rng, w_bits, static_cast<size_t>(p.out_c) * K, random_fill(rng));
    prune(rng, w, 0.7);
    Formats fm = random_formats(rng, p.out_c, x_bits, w_bits, y_bits, K / 3 + 1);
    x.fl = fm.fl_x;
    p.act = fm.act;
    const bool acc32 = uniform(rng, 0, 1) && acc32_ok(w, p.out_c, K, fm.bias, x_bits);
    Csr csr(rng, p.out_c, K, [&](size_t i) { return static_cast<double>(w.get(i)); }, w_bits, narrowest(K), false);
    const size_t count = static_cast<size_t>(p.n) * p.out_c * p.out_h * p.out_w;
    QBuf want(y_bits, fm.fl_y, count), direct = want, spmm = want;
    k::conv2d_q_ref(p, x.in(), w.data(), wq_of(fm, w_bits, acc32), want.out());
    k::conv2d_csr_q_ref(p, x.in(), csr.m, wq_of(fm, w_bits, acc32), direct.out());
    std::vector<uint8_t> scratch(k::conv2d_csr_q_scratch_size(p, x_bits, w_bits));
    k::conv2d_csr_q(p, x.in(), csr.m, wq_of(fm, w_bits, acc32), spmm.out(), scratch.data());
    EXPECT_SAME_Q(direct, want, "direct sparse conv, case " + std::to_string(iter));
    EXPECT_SAME_Q(spmm, want, "im2col + SpMM, case " + std::to_string(iter));
  }
}

TEST(KernelsSparse, Float32SparseEqualsDense) {
  Rng rng(44);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  // dense layer
  for (int iter = 0; iter < 30; ++iter) {
    const k::DenseParams p{uniform(rng, 1, 2), uniform(rng, 1, 300), uniform(rng, 1, 20), static_cast<k::Act>(iter % 3)};
    std::vector<float> x(static_cast<size_t>(p.n) * p.in), w(static_cast<size_t>(p.in) * p.out), b(static_cast<size_t>(p.out));
    for (auto* v : {&x, &w, &b})
      for (auto& e : *v) e = u(rng);
    for (auto& e : w)
      if (u(rng) < 0.6f) e = 0.0f;
    Csr csr(rng, p.out, p.in, [&](size_t i) { return static_cast<double>(w[i]); }, 8, narrowest(p.in), true);
    std::vector<float> want(static_cast<size_t>(p.n) * p.out), a(want.size()), c(want.size());
    k::dense_f32_ref(p, x.data(), w.data(), b.data(), want.data());
    k::dense_csr_f32_ref(p, x.data(), csr.m, b.data(), a.data());
    k::dense_csr_f32(p, x.data(), csr.m, b.data(), c.data());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_NEAR(a[i], want[i], kF32Tol * p.in);
      EXPECT_NEAR(c[i], want[i], kF32Tol * p.in);
    }
  }
  // convolution
  for (int iter = 0; iter < 30; ++iter) {
    k::Conv2dParams p;
    p.groups = uniform(rng, 1, 2);
    p.in_c = p.groups * uniform(rng, 1, 4), p.out_c = p.groups * uniform(rng, 1, 4);
    p.in_h = uniform(rng, 2, 8), p.in_w = uniform(rng, 2, 8), p.kernel_h = p.kernel_w = uniform(rng, 1, 3);
    p.stride_w = uniform(rng, 1, 2), p.pad_left = p.pad_top = uniform(rng, 0, 1), p.act = static_cast<k::Act>(iter % 3);
    k::conv2d_fill_out_dims(p);
    if (p.out_h < 1 || p.out_w < 1) continue;
    const int K = p.in_c / p.groups * p.kernel_h * p.kernel_w;
    std::vector<float> x(static_cast<size_t>(p.in_c) * p.in_h * p.in_w), w(static_cast<size_t>(p.out_c) * K), b(static_cast<size_t>(p.out_c));
    for (auto* v : {&x, &w, &b})
      for (auto& e : *v) e = u(rng);
    for (auto& e : w)
      if (u(rng) < 0.5f) e = 0.0f;
    Csr csr(rng, p.out_c, K, [&](size_t i) { return static_cast<double>(w[i]); }, 8, narrowest(K), true);
    const size_t count = static_cast<size_t>(p.out_c) * p.out_h * p.out_w;
    std::vector<float> want(count), a(count), c(count);
    std::vector<uint8_t> scratch(k::conv2d_csr_f32_scratch_size(p));
    k::conv2d_f32_ref(p, x.data(), w.data(), b.data(), want.data());
    k::conv2d_csr_f32_ref(p, x.data(), csr.m, b.data(), a.data());
    k::conv2d_csr_f32(p, x.data(), csr.m, b.data(), c.data(), scratch.data());
    for (size_t i = 0; i < count; ++i) {
      EXPECT_NEAR(a[i], want[i], kF32Tol * K);
      EXPECT_NEAR(c[i], want[i], kF32Tol * K);
    }
  }
}

}  // namespace
