// Sparse convolution with CSR weights (rows = out_c, columns = (in_c / groups) * kh * kw in the
// dense weight order): a direct reference, and im2col tiles times the sparse rows (SpMM, the
// inner loop runs over a tile of output pixels). fp32 and integer.
#include <algorithm>

#include "kernels/internal.h"

namespace shrink::rt::kernels {

namespace {

constexpr size_t kTileBytes = 128 * 1024;

struct CsrPlan {
  int cin_g, cout_g, K, P, NT;
};

CsrPlan csr_plan(const Conv2dParams& p, size_t elem) {
  CsrPlan pl{};
  pl.cin_g = p.in_c / p.groups;
  pl.cout_g = p.out_c / p.groups;
  pl.K = pl.cin_g * p.kernel_h * p.kernel_w;
  pl.P = p.out_h * p.out_w;
  const int nt = static_cast<int>(kTileBytes / (static_cast<size_t>(std::max(pl.K, 1)) * elem));
  pl.NT = std::max(8, std::min(nt, pl.P));
  return pl;
}

/// The offset in the group's input (xg) of tap k = (ic * kh + i) * kw + j under output pixel
/// (oh, ow), or -1 in the padding.
ptrdiff_t tap_offset(const Conv2dParams& p, uint32_t k, int oh, int ow) {
  const int kk = p.kernel_h * p.kernel_w;
  const int ic = static_cast<int>(k) / kk, i = (static_cast<int>(k) / p.kernel_w) % p.kernel_h,
            j = static_cast<int>(k) % p.kernel_w;
  const int ih = oh * p.stride_h - p.pad_top + i * p.dilation_h, iw = ow * p.stride_w - p.pad_left + j * p.dilation_w;
  if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) return -1;
  return (static_cast<ptrdiff_t>(ic) * p.in_h + ih) * p.in_w + iw;
}

/// The direct reference: one code path for every storage mix (int8 / int16 read per element),
/// as it is only an oracle (conv2d_csr_q always runs the SpMM below).
void csr_conv_ref(const Conv2dParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq, const QOut& y) {
  const bool xs = storage_is_s16(x.bits), vs = storage_is_s16(wq.bits), ys = storage_is_s16(y.bits);
  const int cin_g = p.in_c / p.groups, cout_g = p.out_c / p.groups;
  const OutClamp oc = out_clamp(y.bits, y.fl, p.act);
  for (int n = 0; n < p.n; ++n)
    for (int c = 0; c < p.out_c; ++c) {
      const size_t xg = (static_cast<size_t>(n) * p.in_c + static_cast<size_t>(c / cout_g) * cin_g) * p.in_h * p.in_w;
      const int shift = channel_shift(wq, x.fl, y.fl, c);
      const size_t yc = (static_cast<size_t>(n) * p.out_c + c) * p.out_h * p.out_w;
      for (int oh = 0; oh < p.out_h; ++oh)
        for (int ow = 0; ow < p.out_w; ++ow) {
          int64_t acc = wq.bias ? wq.bias[c] : 0;  // int64: exact whatever acc32 says
          for (uint32_t j = row_ptr_at(w, c), j_end = row_ptr_at(w, c + 1); j < j_end; ++j) {
            const ptrdiff_t o = tap_offset(p, load_index(w.col_idx, w.idx_type, j), oh, ow);
            if (o >= 0) acc += int64_t{load_q(x.data, xs, xg + static_cast<size_t>(o))} * load_q(w.values, vs, j);
          }
          store_q(y.data, ys, yc + static_cast<size_t>(oh) * p.out_w + ow, requant_clamp(acc, shift, y.bits, oc));
        }
    }
}

/// acc[t] = sum over the row's nonzeros of value * col[k][t]; Acc = uint32_t (int32 wrap-around
/// arithmetic, exact when proven safe) or int64_t.
template <typename Acc>
void spmm_row(const CsrMatrix& w, bool vs16, int row, const int16_t* col, int nt, Acc* acc) {
  for (int t = 0; t < nt; ++t) acc[t] = 0;
  for (uint32_t j = row_ptr_at(w, row), j_end = row_ptr_at(w, row + 1); j < j_end; ++j) {
    const Acc v = static_cast<Acc>(load_q(w.values, vs16, j));
    const int16_t* cr = col + static_cast<size_t>(load_index(w.col_idx, w.idx_type, j)) * nt;
    for (int t = 0; t < nt; ++t) acc[t] += v * static_cast<Acc>(cr[t]);
  }
}

void csr_conv(const Conv2dParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq, const QOut& y,
              void* scratch) {
  const int bits_y = y.bits, fl_y = y.fl, fl_x = x.fl;
  const bool ys = storage_is_s16(bits_y), xs16 = storage_is_s16(x.bits), vs16 = storage_is_s16(wq.bits);
  const CsrPlan pl = csr_plan(p, sizeof(int16_t));
  auto* cur = static_cast<unsigned char*>(scratch);
  auto* col = static_cast<int16_t*>(carve(cur, static_cast<size_t>(pl.K) * pl.NT * sizeof(int16_t)));
  auto* acc = static_cast<int64_t*>(carve(cur, static_cast<size_t>(pl.NT) * sizeof(int64_t)));
  auto* acc32 = reinterpret_cast<uint32_t*>(acc);
  const OutClamp oc = out_clamp(bits_y, fl_y, p.act);
  for (int n = 0; n < p.n; ++n)
    for (int g = 0; g < p.groups; ++g) {
      const size_t x0 = (static_cast<size_t>(n) * p.in_c + static_cast<size_t>(g) * pl.cin_g) * p.in_h * p.in_w;
      for (int p0 = 0; p0 < pl.P; p0 += pl.NT) {
        const int nt = std::min(pl.NT, pl.P - p0);
        for (int k = 0; k < pl.K; ++k) {
          int16_t* row = col + static_cast<size_t>(k) * nt;
          if (xs16) im2col_row(p, static_cast<const int16_t*>(x.data) + x0, k, p0, nt, row);
          else im2col_row(p, static_cast<const int8_t*>(x.data) + x0, k, p0, nt, row);
        }
        for (int m = 0; m < pl.cout_g; ++m) {
          const int c = g * pl.cout_g + m;
          const int64_t nnz = static_cast<int64_t>(row_ptr_at(w, c + 1)) - row_ptr_at(w, c);
          const bool narrow = wq.acc32 || int32_terms_safe(x.bits, wq.bits, nnz);
          if (narrow) spmm_row(w, vs16, c, col, nt, acc32);
          else spmm_row(w, vs16, c, col, nt, acc);
          const int shift = channel_shift(wq, fl_x, fl_y, c);
          const int64_t b = wq.bias ? wq.bias[c] : 0;
          const size_t yc = (static_cast<size_t>(n) * p.out_c + c) * pl.P + p0;
          for (int t = 0; t < nt; ++t)
            store_q(y.data, ys, yc + t,
                    requant_clamp_small((narrow ? int64_t{static_cast<int32_t>(acc32[t])} : acc[t]) + b, shift, oc));
        }
      }
    }
}

}  // namespace

void conv2d_csr_q_ref(const Conv2dParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq, const QOut& y) {
  csr_conv_ref(p, x, w, wq, y);
}

size_t conv2d_csr_q_scratch_size(const Conv2dParams& p, int x_bits, int w_bits) {
  const CsrPlan pl = csr_plan(p, sizeof(int16_t));
  return carve_size(static_cast<size_t>(pl.K) * pl.NT * sizeof(int16_t)) + carve_size(static_cast<size_t>(pl.NT) * sizeof(int64_t));
}

void conv2d_csr_q(const Conv2dParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq, const QOut& y,
                  void* scratch) {
  csr_conv(p, x, w, wq, y, scratch);
}

void conv2d_csr_f32_ref(const Conv2dParams& p, const float* x, const CsrMatrix& w, const float* bias, float* y) {
  const int cin_g = p.in_c / p.groups, cout_g = p.out_c / p.groups;
  const auto* val = static_cast<const float*>(w.values);
  for (int n = 0; n < p.n; ++n)
    for (int c = 0; c < p.out_c; ++c) {
      const float* xg = x + (static_cast<size_t>(n) * p.in_c + static_cast<size_t>(c / cout_g) * cin_g) * p.in_h * p.in_w;
      float* yc = y + (static_cast<size_t>(n) * p.out_c + c) * p.out_h * p.out_w;
      for (int oh = 0; oh < p.out_h; ++oh)
        for (int ow = 0; ow < p.out_w; ++ow) {
          float acc = bias ? bias[c] : 0.0f;
          for (uint32_t j = row_ptr_at(w, c), j_end = row_ptr_at(w, c + 1); j < j_end; ++j) {
            const ptrdiff_t o = tap_offset(p, load_index(w.col_idx, w.idx_type, j), oh, ow);
            if (o >= 0) acc += xg[o] * val[j];
          }
          yc[static_cast<size_t>(oh) * p.out_w + ow] = act_f32(acc, p.act);
        }
    }
}

size_t conv2d_csr_f32_scratch_size(const Conv2dParams& p) {
  const CsrPlan pl = csr_plan(p, sizeof(float));
  return carve_size(static_cast<size_t>(pl.K) * pl.NT * sizeof(float)) + carve_size(static_cast<size_t>(pl.NT) * sizeof(float));
}

void conv2d_csr_f32(const Conv2dParams& p, const float* x, const CsrMatrix& w, const float* bias, float* y,
                    void* scratch) {
  const CsrPlan pl = csr_plan(p, sizeof(float));
  auto* cur = static_cast<unsigned char*>(scratch);
  auto* col = static_cast<float*>(carve(cur, static_cast<size_t>(pl.K) * pl.NT * sizeof(float)));
  auto* acc = static_cast<float*>(carve(cur, static_cast<size_t>(pl.NT) * sizeof(float)));
  const auto* val = static_cast<const float*>(w.values);
  for (int n = 0; n < p.n; ++n)
    for (int g = 0; g < p.groups; ++g) {
      const float* xg = x + (static_cast<size_t>(n) * p.in_c + static_cast<size_t>(g) * pl.cin_g) * p.in_h * p.in_w;
      for (int p0 = 0; p0 < pl.P; p0 += pl.NT) {
        const int nt = std::min(pl.NT, pl.P - p0);
        for (int k = 0; k < pl.K; ++k) im2col_row(p, xg, k, p0, nt, col + static_cast<size_t>(k) * nt);
        for (int m = 0; m < pl.cout_g; ++m) {
          const int c = g * pl.cout_g + m;
          const float b = bias ? bias[c] : 0.0f;
          for (int t = 0; t < nt; ++t) acc[t] = b;
          for (uint32_t j = row_ptr_at(w, c), j_end = row_ptr_at(w, c + 1); j < j_end; ++j) {
            const float v = val[j];
            const float* cr = col + static_cast<size_t>(load_index(w.col_idx, w.idx_type, j)) * nt;
            for (int t = 0; t < nt; ++t) acc[t] += v * cr[t];
          }
          float* yc = y + (static_cast<size_t>(n) * p.out_c + c) * pl.P + p0;
          for (int t = 0; t < nt; ++t) yc[t] = act_f32(acc[t], p.act);
        }
      }
    }
}

}  // namespace shrink::rt::kernels
