// Pooling kernels: max / average / global average on hand-computed cases (ties, negative sums,
// count_include_pad, ceil_mode) and against a naive version written here.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "kernels_testing.h"

namespace {

using namespace kt;

k::Pool2dParams pool(int h, int w, int k, int s, int pad, bool ceil_mode = false, bool include_pad = false) {
  k::Pool2dParams p;
  p.c = 1, p.in_h = h, p.in_w = w, p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = s;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.ceil_mode = ceil_mode, p.count_include_pad = include_pad;
  k::pool2d_fill_out_dims(p);
  return p;
}

TEST(KernelsPool, OutputSizes) {
  k::Pool2dParams p = pool(6, 5, 3, 2, 0, true);  // ceil: 3 windows over 6, 2 over 5
  EXPECT_EQ(p.out_h, 3);
  EXPECT_EQ(p.out_w, 2);
  p = pool(5, 5, 2, 2, 1, true);  // a 4th window would start in the end padding: dropped
  EXPECT_EQ(p.out_h, 3);
  k::Conv2dParams c;
  c.in_h = 7, c.in_w = 28, c.kernel_h = 3, c.kernel_w = 5, c.stride_h = 2, c.pad_bottom = 1;
  k::conv2d_fill_out_dims(c);
  EXPECT_EQ(c.out_h, 3);  // floor((7 + 1 - 3) / 2) + 1
  EXPECT_EQ(c.out_w, 24);
}

TEST(KernelsPool, MaxPoolIgnoresPaddingAndKeepsFormat) {
  // 4x4 of negatives, 3x3 stride 2 pad 1: zeros in the padding must never win.
  QBuf x = from({-9, -8, -7, -6, -5, -4, -3, -2, -12, -11, -10, -13, -20, -30, -40, -50}, 8, 3);
  const k::Pool2dParams p = pool(4, 4, 3, 2, 1);
  QBuf y(8, 3, 4);
  k::maxpool_q(p, x.in(), y.out());
  EXPECT_EQ(values(y), (std::vector<int64_t>{-4, -2, -4, -2}));
  // int16 storage, 2x2 stride 2
  QBuf x16 = from({-32768, 32767, 5, 6, 1, 2, 3, 4, 0, 0, -1, -2, 0, -5, -3, -4}, 16, 0);
  QBuf y16(16, 0, 4);
  k::maxpool_q_ref(pool(4, 4, 2, 2, 0), x16.in(), y16.out());
  EXPECT_EQ(values(y16), (std::vector<int64_t>{32767, 6, 0, -1}));
  // dilation 2: a 3x3 window over a 5x5 input picks the even cells
  k::Pool2dParams d = pool(5, 5, 3, 1, 0);
  d.dilation_h = d.dilation_w = 2;
  k::pool2d_fill_out_dims(d);
  ASSERT_EQ(d.out_h * d.out_w, 1);
  std::vector<int64_t> v(25, 100);
  v[1] = 120;  // odd column: outside the dilated window
  v[12] = 110;
  QBuf y1(8, 0, 1);
  k::maxpool_q(d, from(v, 8, 0).in(), y1.out());
  EXPECT_EQ(y1.get(0), 110);
  std::vector<float> xf = {1, -2, 3, 4}, yf(1);
  k::maxpool_f32(pool(2, 2, 2, 2, 0), xf.data(), yf.data());
  EXPECT_EQ(yf[0], 4.0f);
}

// maxpool_q's path for windows inside the input (2x2 stride 2 and the general loop) equals the
// reference, over sizes, odd widths, kernels, strides, extreme values and both storages; padded,
// dilated and ceil-mode windows keep taking the reference.
TEST(KernelsPool, MaxPoolFastPathEqualsReference) {
  uint32_t seed = 12345;
  auto rnd = [&] { return seed = seed * 1664525u + 1013904223u; };
  int cases = 0;
  for (int bits : {8, 16, 5})
    for (int h : {1, 2, 5, 8, 24})
      for (int w : {1, 2, 3, 7, 24, 33})
        for (int kk : {1, 2, 3})
          for (int st : {1, 2, 3})
            for (int pad : {0, 1})
              for (bool ceil_mode : {false, true}) {
                if (kk > h + 2 * pad || kk > w + 2 * pad || pad * 2 > kk) continue;
                k::Pool2dParams p = pool(h, w, kk, st, pad, ceil_mode);
                if (p.out_h < 1 || p.out_w < 1) continue;
                p.c = 3;
                p.n = 2;
                const size_t n_in = static_cast<size_t>(p.n * p.c * h * w), n_out = static_cast<size_t>(p.n * p.c) * p.out_h * p.out_w;
                QBuf x(bits, 2, n_in), a(bits, 2, n_out), b(bits, 2, n_out);
                const int64_t lo = bits > 8 ? -32768 : -128, span = bits > 8 ? 65536 : 256;
                for (size_t i = 0; i < n_in; ++i) x.set(i, lo + static_cast<int64_t>(rnd() % span));
                k::maxpool_q(p, x.in(), a.out());
                k::maxpool_q_ref(p, x.in(), b.out());
                ASSERT_EQ(values(a), values(b)) << "bits " << bits << " " << h << "x" << w << " k" << kk << " s" << st
                                                << " pad " << pad << " ceil " << ceil_mode;
                ++cases;
              }
  EXPECT_GT(cases, 500);
}

TEST(KernelsPool, AveragePoolRoundsHalfUpWithFloorDivision) {
  // 2x2 windows over a 2x4 input: sums 10, -10 -> 2.5 -> 3, -2.5 -> -2
  QBuf x = from({1, 2, -1, -2, 3, 4, -3, -4}, 8, 0);
  k::Pool2dParams p = pool(2, 4, 2, 2, 0);
  QBuf y(8, 0, 2);
  k::avgpool_q(p, x.in(), y.out());
  EXPECT_EQ(values(y), (std::vector<int64_t>{3, -2}));
  // sums -11 -> -2.75 -> -3, 9 -> 2.25 -> 2
  x = from({-1, 2, 1, 2, -5, -7, 3, 3}, 8, 0);
  k::avgpool_q_ref(p, x.in(), y.out());
  EXPECT_EQ(values(y), (std::vector<int64_t>{-3, 2}));
  // output FL one higher: the averages -3 and 2 requantized to FL 1 are -6 and 4
  QBuf y1(8, 1, 2);
  k::avgpool_q_ref(p, x.in(), y1.out());
  EXPECT_EQ(values(y1), (std::vector<int64_t>{-6, 4}));
  // FL one lower and 4-bit output: -3 -> floor(-1.5 + .5) = -1, 2 -> 1
  QBuf y2(4, -1, 2);
  k::avgpool_q_ref(p, x.in(), y2.out());
  EXPECT_EQ(values(y2), (std::vector<int64_t>{-1, 1}));
}

TEST(KernelsPool, CountIncludePadAndCeilMode) {
  // 3x3 of 9s, 3x3 window, stride 2, pad 1: corner windows hold 4 cells (sum 36).
  QBuf x = from(std::vector<int64_t>(9, 9), 8, 0);
  QBuf y(8, 0, 4);
  k::avgpool_q(pool(3, 3, 3, 2, 1, false, false), x.in(), y.out());
  EXPECT_EQ(values(y), (std::vector<int64_t>{9, 9, 9, 9}));
  k::avgpool_q(pool(3, 3, 3, 2, 1, false, true), x.in(), y.out());
  EXPECT_EQ(values(y), (std::vector<int64_t>{4, 4, 4, 4}));  // 36 / 9
  // ceil_mode: 5 wide, k 2, s 2, no padding -> 3 windows, the last one holds one cell. With
  // count_include_pad the overhang beyond the input (no padding there) is not counted either.
  QBuf r = from({4, 6, 8, 10, 7}, 8, 0);
  k::Pool2dParams c = pool(1, 5, 1, 1, 0);
  c.kernel_w = 2, c.stride_w = 2, c.ceil_mode = true;
  k::pool2d_fill_out_dims(c);
  ASSERT_EQ(c.out_w, 3);
  QBuf yc(8, 0, 3);
  k::avgpool_q(c, r.in(), yc.out());
  EXPECT_EQ(values(yc), (std::vector<int64_t>{5, 9, 7}));
  c.count_include_pad = true;
  k::avgpool_q(c, r.in(), yc.out());
  EXPECT_EQ(values(yc), (std::vector<int64_t>{5, 9, 7}));
  std::vector<float> rf = {4, 6, 8, 10, 7}, yf(3);
  k::avgpool_f32(c, rf.data(), yf.data());
  EXPECT_EQ(yf, (std::vector<float>{5, 9, 7}));
}

/// Average pooling from the definition, for random cases.
QBuf naive_avgpool(const k::Pool2dParams& p, const QBuf& x, int bits_y, int fl_y) {
  QBuf y(bits_y, fl_y, static_cast<size_t>(p.n) * p.c * p.out_h * p.out_w);
  size_t o = 0;
  for (int nc = 0; nc < p.n * p.c; ++nc)
    for (int oh = 0; oh < p.out_h; ++oh)
      for (int ow = 0; ow < p.out_w; ++ow, ++o) {
        int64_t sum = 0, n = 0;
        for (int i = 0; i < p.kernel_h; ++i)
          for (int j = 0; j < p.kernel_w; ++j) {
            const int h = oh * p.stride_h - p.pad_top + i, w = ow * p.stride_w - p.pad_left + j;
            const bool inside = h >= 0 && h < p.in_h && w >= 0 && w < p.in_w;
            const bool in_pad = h >= -p.pad_top && h < p.in_h + p.pad_bottom && w >= -p.pad_left && w < p.in_w + p.pad_right;
            if (inside) sum += x.get((static_cast<size_t>(nc) * p.in_h + h) * p.in_w + w);
            if (p.count_include_pad ? in_pad : inside) ++n;
          }
        // round(sum / n) half up = floor((2 sum + n) / (2 n))
        const int64_t num = 2 * sum + n, den = 2 * n;
        const int64_t a = n == 0 ? 0 : (num >= 0 ? num / den : -((-num + den - 1) / den));
        y.set(o, naive_requant(a, x.fl - fl_y, bits_y, qmin(bits_y), qmax(bits_y)));
      }
  return y;
}

TEST(KernelsPool, AveragePoolMatchesNaive) {
  Rng rng(61);
  for (int iter = 0; iter < 200; ++iter) {
    k::Pool2dParams p;
    p.n = uniform(rng, 1, 2), p.c = uniform(rng, 1, 3);
    p.in_h = uniform(rng, 1, 9), p.in_w = uniform(rng, 1, 9);
    p.kernel_h = uniform(rng, 1, 4), p.kernel_w = uniform(rng, 1, 4);
    p.stride_h = uniform(rng, 1, 3), p.stride_w = uniform(rng, 1, 3);
    p.pad_top = uniform(rng, 0, p.kernel_h / 2), p.pad_left = uniform(rng, 0, p.kernel_w / 2);
    p.pad_bottom = uniform(rng, 0, p.kernel_h / 2), p.pad_right = uniform(rng, 0, p.kernel_w / 2);
    p.ceil_mode = uniform(rng, 0, 1), p.count_include_pad = uniform(rng, 0, 1);
    k::pool2d_fill_out_dims(p);
    if (p.out_h < 1 || p.out_w < 1) continue;
    const int bx = uniform(rng, 2, 16), by = uniform(rng, 2, 16);
    QBuf x = random_q(rng, bx, static_cast<size_t>(p.n) * p.c * p.in_h * p.in_w, random_fill(rng), uniform(rng, -4, 8));
    const int fl_y = x.fl + uniform(rng, -3, 3);
    QBuf y(by, fl_y, static_cast<size_t>(p.n) * p.c * p.out_h * p.out_w);
    k::avgpool_q(p, x.in(), y.out());
    EXPECT_SAME_Q(y, naive_avgpool(p, x, by, fl_y), "case " + std::to_string(iter));
  }
}

TEST(KernelsPool, GlobalAveragePool) {
  // two channels of 2 cells: sums 7 -> 3.5 -> 4, -7 -> -3.5 -> -3
  QBuf x = from({3, 4, -3, -4}, 8, 2);
  QBuf y(8, 2, 2);
  k::global_avgpool_q(1, 2, 2, x.in(), y.out());
  EXPECT_EQ(values(y), (std::vector<int64_t>{4, -3}));
  QBuf y1(8, 0, 2);  // FL 2 -> 0: 4 -> 1, -3 -> floor(-0.75 + 0.5) = -1
  k::global_avgpool_q(1, 2, 2, x.in(), y1.out());
  EXPECT_EQ(values(y1), (std::vector<int64_t>{1, -1}));
  QBuf big = from(std::vector<int64_t>(49, 32767), 16, 0);
  QBuf yb(8, 0, 1);  // 16-bit in, 8-bit out: saturates
  k::global_avgpool_q(1, 1, 49, big.in(), yb.out());
  EXPECT_EQ(yb.get(0), 127);
  std::vector<float> xf = {1, 2, 3, 6}, yf(2);
  k::global_avgpool_f32(1, 2, 2, xf.data(), yf.data());
  EXPECT_EQ(yf, (std::vector<float>{1.5f, 4.5f}));
}

}  // namespace
