// Sparse (CSR) dense layer, fp32 and integer: the scalar references and the entry points.
#include "kernels/internal.h"

namespace shrink::rt::kernels {

namespace {

template <typename TX, typename TV>
void csr_ref(const DenseParams& p, const TX* x, int fl_x, const CsrMatrix& w, const TV* val, const QWeights& wq,
             const QOut& y) {
  const int bits_y = y.bits, fl_y = y.fl;
  const bool ys = storage_is_s16(bits_y);
  const OutClamp oc = out_clamp(bits_y, fl_y, p.act);
  for (int n = 0; n < p.n; ++n) {
    const TX* xn = x + static_cast<size_t>(n) * p.in;
    for (int r = 0; r < w.rows; ++r) {
      int64_t acc = wq.bias ? wq.bias[r] : 0;  // int64: exact whatever acc32 says
      for (uint32_t j = row_ptr_at(w, r), j_end = row_ptr_at(w, r + 1); j < j_end; ++j)
        acc += int64_t{xn[load_index(w.col_idx, w.idx_type, j)]} * val[j];
      store_q(y.data, ys, static_cast<size_t>(n) * p.out + r, requant_clamp(acc, channel_shift(wq, fl_x, fl_y, r), bits_y, oc));
    }
  }
}

}  // namespace

void dense_csr_q_ref(const DenseParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq, const QOut& y) {
  visit_q2(x.data, x.bits, w.values, wq.bits, [&](auto* xs, auto* vs) { csr_ref(p, xs, x.fl, w, vs, wq, y); });
}

size_t dense_csr_q_scratch_size(const DenseParams& p, int x_bits, int w_bits) {
  return dense_csr_q_scratch_for(cpu_fast_paths(), p, x_bits, w_bits);
}

size_t dense_csr_q_scratch_for(const FastPaths* f, const DenseParams& p, int x_bits, int w_bits) {
  return f ? f->dense_csr_q_scratch(p, x_bits, w_bits) : 0;
}

void dense_csr_q(const DenseParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq, const QOut& y,
                 void* scratch) {
  if (const FastPaths* f = fast_paths())
    if (f->dense_csr_q(p, x, w, wq, y, scratch)) return;
  dense_csr_q_ref(p, x, w, wq, y);
}

void dense_csr_f32_ref(const DenseParams& p, const float* x, const CsrMatrix& w, const float* bias, float* y) {
  const auto* val = static_cast<const float*>(w.values);
  for (int n = 0; n < p.n; ++n) {
    const float* xn = x + static_cast<size_t>(n) * p.in;
    for (int r = 0; r < w.rows; ++r) {
      float acc = bias ? bias[r] : 0.0f;
      for (uint32_t j = row_ptr_at(w, r), j_end = row_ptr_at(w, r + 1); j < j_end; ++j) acc += val[j] * xn[load_index(w.col_idx, w.idx_type, j)];
      y[static_cast<size_t>(n) * p.out + r] = act_f32(acc, p.act);
    }
  }
}

void dense_csr_f32(const DenseParams& p, const float* x, const CsrMatrix& w, const float* bias, float* y) {
  // Row-wise CSR with float accumulation is already the fast form for batch 1.
  dense_csr_f32_ref(p, x, w, bias, y);
}

}  // namespace shrink::rt::kernels
