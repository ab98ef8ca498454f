// Sparse codebook (CsrCodebook) kernels: the encoder of shr_format.h (padding bridges for gaps
// above 255), and dense_csr_codebook_q / conv2d_csr_codebook_q against dense_q_ref /
// conv2d_q_ref on the expanded weights, bit for bit, over random shapes, index widths, int8 /
// int16 inputs and centroids, per-channel FLs, all-zero rows and long runs of zeros.
#include <gtest/gtest.h>

#include <vector>

#include "kernels_testing.h"

namespace {

using namespace kt;
namespace shr = shrink::shr;

/// A rows x cols weight of codebook indices (index 0 = the reserved zero) in the CsrCodebook
/// form, with its expanded dense copy for the reference kernels.
struct SparseCodebook {
  shr::CsrCodebookEncoder enc;
  std::vector<uint8_t> structure, packed;
  QBuf centroids, dense;
  k::CsrCodebookMatrix m;
  size_t padding = 0;  ///< entries of index 0 (bridges of gaps above 255)

  SparseCodebook(const std::vector<uint32_t>& idx, int rows, int cols, const QBuf& c, int index_bits)
      : enc(static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), [&](uint64_t i) { return idx[i]; }),
        centroids(c),
        dense(c.bits, 0, idx.size()) {
    for (size_t i = 0; i < idx.size(); ++i) dense.set(i, c.get(idx[i]));
    const shr::DType t = enc.row_ptr_type();
    structure = enc.structure(t);
    packed = shr::pack_indices(enc.indices.data(), enc.indices.size(), index_bits);
    packed.push_back(0);  // never read: codebook_index reads a second byte only when the index spans it
    for (uint32_t k : enc.indices) padding += k == 0;
    m.rows = rows;
    m.cols = cols;
    m.ptr_type = t == shr::DType::U8 ? k::IndexType::kU8 : t == shr::DType::U16 ? k::IndexType::kU16 : k::IndexType::kU32;
    m.row_ptr = structure.data();
    m.gaps = structure.data() + enc.row_ptr.size() * shr::dtype_size(t);
    m.indices = packed.data();
    m.index_bits = index_bits;
    m.centroids = centroids.data();
  }
};

/// Random centroids of `bits` bits, centroid 0 = 0 (zero reserved).
QBuf random_centroids(Rng& rng, int bits, int count) {
  QBuf c = random_q(rng, bits, static_cast<size_t>(count), uniform(rng, 0, 1) ? Fill::kUniform : Fill::kExtremes);
  c.set(0, 0);
  return c;
}

/// Random per-layer or per-channel FLs and a bias (or none) for `out` channels; acc32 when the
/// loader's rule allows it for the expanded weights.
struct RandomQWeights {
  std::vector<int8_t> fls;
  std::vector<int32_t> bias;
  k::QWeights wq;
  RandomQWeights(Rng& rng, int out, int cols, const SparseCodebook& w, int x_bits)
      : fls(uniform(rng, 0, 1) ? static_cast<size_t>(out) : 1), bias(static_cast<size_t>(out)) {
    for (auto& f : fls) f = static_cast<int8_t>(uniform(rng, -4, 12));
    for (auto& b : bias) b = static_cast<int32_t>(uniform64(rng, -100000, 100000));
    wq.bits = w.centroids.bits;
    wq.fl = fls.data();
    wq.fl_count = static_cast<int>(fls.size());
    wq.bias = uniform(rng, 0, 3) ? bias.data() : nullptr;
    wq.acc32 = acc32_ok(w.dense, out, cols, wq.bias ? bias : std::vector<int32_t>{}, x_bits);
  }
};

/// Random indices: a density 0..1 of nonzero indices, some rows all zero, and now and then a
/// long run of zeros.
std::vector<uint32_t> random_indices(Rng& rng, int rows, int cols, int count, double density) {
  std::vector<uint32_t> idx(static_cast<size_t>(rows) * cols, 0);
  std::bernoulli_distribution keep(density);
  for (int r = 0; r < rows; ++r) {
    if (uniform(rng, 0, 4) == 0) continue;  // an all-zero row
    for (int c = 0; c < cols; ++c)
      if (keep(rng)) idx[static_cast<size_t>(r) * cols + c] = static_cast<uint32_t>(uniform(rng, 1, count - 1));
  }
  return idx;
}

TEST(KernelsCsrCodebook, EncoderBridgesLongGapsWithPadding) {
  // Row 0: nonzeros at columns 0, 600 and 601; row 1: none; row 2: column 255.
  const int cols = 700;
  std::vector<uint32_t> idx(3 * cols, 0);
  idx[0] = 3, idx[600] = 1, idx[601] = 2, idx[2 * cols + 255] = 1;
  shr::CsrCodebookEncoder e(3, cols, [&](uint64_t i) { return idx[i]; });
  // 600 = 0 + 255 + 255 + 90: two padding entries before column 600.
  EXPECT_EQ(e.row_ptr, (std::vector<uint32_t>{0, 5, 5, 6}));
  EXPECT_EQ(e.gaps, (std::vector<uint8_t>{0, 255, 255, 90, 1, 255}));
  EXPECT_EQ(e.indices, (std::vector<uint32_t>{3, 0, 0, 1, 2, 1}));
  EXPECT_EQ(e.row_ptr_type(), shr::DType::U8);
  EXPECT_EQ(e.structure(shr::DType::U8), (std::vector<uint8_t>{0, 5, 5, 6, 0, 255, 255, 90, 1, 255}));
  // 4-bit indices: 6 entries in 3 bytes, + 4 row pointers + 6 gaps.
  EXPECT_EQ(e.bytes(4), 3u + 4u + 6u);
}

TEST(KernelsCsrCodebook, DenseMatchesTheDenseReferenceOnExpandedWeights) {
  Rng rng(81);
  size_t padding = 0, empty_rows = 0;
  for (int iter = 0; iter < 300; ++iter) {
    const int in = iter % 10 == 0 ? uniform(rng, 256, 1500) : uniform(rng, 1, 300);
    const int out = uniform(rng, 1, 12);
    const int index_bits = uniform(rng, 1, 8), count = uniform(rng, 2, 1 << index_bits);
    const int x_bits = uniform(rng, 0, 1) ? uniform(rng, 2, 8) : uniform(rng, 9, 16);
    const int w_bits = uniform(rng, 0, 1) ? uniform(rng, 2, 8) : uniform(rng, 9, 16);
    const int y_bits = uniform(rng, 0, 1) ? 8 : 16;
    const double density = iter % 10 == 0 ? 0.004 : uniform(rng, 0, 100) / 100.0;
    const QBuf c = random_centroids(rng, w_bits, count);
    const std::vector<uint32_t> idx = random_indices(rng, out, in, count, density);
    const SparseCodebook w(idx, out, in, c, index_bits);
    padding += w.padding;
    for (int r = 0; r < out; ++r) empty_rows += w.enc.row_ptr[static_cast<size_t>(r)] == w.enc.row_ptr[static_cast<size_t>(r) + 1];
    const QBuf x = random_q(rng, x_bits, static_cast<size_t>(in), random_fill(rng), uniform(rng, -2, 10));
    const RandomQWeights rq(rng, out, in, w, x_bits);
    const k::QWeights& wq = rq.wq;
    k::DenseParams p;
    p.in = in, p.out = out, p.act = static_cast<k::Act>(uniform(rng, 0, 2));
    QBuf want(y_bits, uniform(rng, -2, 8), static_cast<size_t>(out)), got = want;
    k::dense_q_ref(p, x.in(), w.dense.data(), wq, want.out());
    k::dense_csr_codebook_q(p, x.in(), w.m, wq, got.out());
    EXPECT_SAME_Q(got, want, "iter " + std::to_string(iter) + " in " + std::to_string(in) + " out " + std::to_string(out));
  }
  EXPECT_GT(padding, 0u) << "no gap above 255 was exercised";
  EXPECT_GT(empty_rows, 0u) << "no all-zero row was exercised";
}

TEST(KernelsCsrCodebook, ConvMatchesTheDenseReferenceOnExpandedWeights) {
  Rng rng(82);
  size_t padding = 0;
  for (int iter = 0; iter < 300; ++iter) {
    k::Conv2dParams p;
    const bool wide = iter % 8 == 0;  // K above 255: gaps above 255 possible
    random_window(rng, p, 9, 9, 2, 2);
    p.kernel_h = uniform(rng, 1, 3), p.kernel_w = uniform(rng, 1, 3);
    if (!has_output(p)) continue;
    p.groups = wide ? 1 : uniform(rng, 1, 3);
    p.in_c = p.groups * (wide ? uniform(rng, 30, 70) : uniform(rng, 1, 4));
    p.out_c = p.groups * uniform(rng, 1, 4);
    if (wide) p.kernel_h = p.kernel_w = 3;
    k::conv2d_fill_out_dims(p);
    if (p.out_h < 1 || p.out_w < 1) continue;
    p.act = static_cast<k::Act>(uniform(rng, 0, 2));
    const int K = p.in_c / p.groups * p.kernel_h * p.kernel_w;
    const int index_bits = uniform(rng, 1, 8), count = uniform(rng, 2, 1 << index_bits);
    const int x_bits = uniform(rng, 0, 1) ? uniform(rng, 2, 8) : uniform(rng, 9, 16);
    const int w_bits = uniform(rng, 0, 1) ? uniform(rng, 2, 8) : uniform(rng, 9, 16);
    const int y_bits = uniform(rng, 0, 1) ? 8 : 16;
    const QBuf c = random_centroids(rng, w_bits, count);
    const std::vector<uint32_t> idx = random_indices(rng, p.out_c, K, count, wide ? 0.005 : uniform(rng, 0, 100) / 100.0);
    const SparseCodebook w(idx, p.out_c, K, c, index_bits);
    padding += w.padding;
    const QBuf x = random_q(rng, x_bits, static_cast<size_t>(p.in_c) * p.in_h * p.in_w, random_fill(rng), uniform(rng, -2, 10));
    const RandomQWeights rq(rng, p.out_c, K, w, x_bits);
    const k::QWeights& wq = rq.wq;
    const size_t ny = static_cast<size_t>(p.out_c) * p.out_h * p.out_w;
    QBuf want(y_bits, uniform(rng, -2, 8), ny), got = want;
    k::conv2d_q_ref(p, x.in(), w.dense.data(), wq, want.out());
    std::vector<uint8_t> scratch(k::conv2d_csr_codebook_q_scratch_size(p));
    k::conv2d_csr_codebook_q(p, x.in(), w.m, wq, got.out(), scratch.data());
    EXPECT_SAME_Q(got, want, "iter " + std::to_string(iter));
  }
  EXPECT_GT(padding, 0u) << "no gap above 255 was exercised";
}

TEST(KernelsCsrCodebook, SaturatingInt16ProductsUseAWideAccumulator) {
  // 16-bit extremes over a long row: the partial sums leave int32, so the int64 path must run.
  const int in = 1000;
  std::vector<uint32_t> idx(static_cast<size_t>(in), 1);
  const QBuf c = from({0, qmin(16)}, 16, 0);
  const SparseCodebook w(idx, 1, in, c, 1);
  const QBuf x = from(std::vector<int64_t>(static_cast<size_t>(in), qmin(16)), 16, 0);
  const int8_t fl = 0;
  k::QWeights wq;
  wq.bits = 16, wq.fl = &fl;
  k::DenseParams p;
  p.in = in, p.out = 1;
  QBuf want(16, 0, 1), got = want;
  // 1000 * 2^30 > 2^31, saturated to qmax(16) at FL 0 - and exactly what the dense reference says.
  k::dense_q_ref(p, x.in(), w.dense.data(), wq, want.out());
  k::dense_csr_codebook_q(p, x.in(), w.m, wq, got.out());
  EXPECT_EQ(want.get(0), qmax(16));
  EXPECT_EQ(got.get(0), want.get(0));
}

}  // namespace
