// Integer dense (Linear) layer on sparse codebook weights (kernels.h, "Sparse codebook
// weights"): each row's entries are decoded in order and multiply the input at their column.
#include "kernels/internal.h"

namespace shrink::rt::kernels {

void dense_csr_codebook_q(const DenseParams& p, const QIn& x, const CsrCodebookMatrix& w, const QWeights& wq,
                          const QOut& y) {
  // One code path for int8 / int16 inputs (a branch per load): decoding the index dominates,
  // and the runtime's code size is budgeted. int64 accumulation: exact, and one
  // multiply-accumulate (SMLAL) on a Cortex-M4.
  const bool xs = storage_is_s16(x.bits), ys = storage_is_s16(y.bits), c16 = storage_is_s16(wq.bits);
  const OutClamp oc = out_clamp(y.bits, y.fl, p.act);
  for (int n = 0; n < p.n; ++n) {
    const size_t xn = static_cast<size_t>(n) * p.in;
    for (int r = 0; r < w.rows; ++r) {
      int64_t acc = wq.bias ? wq.bias[r] : 0;
      for_each_codebook_entry(w, r, [&](uint32_t col, uint32_t k) {
        acc += int64_t{load_q(x.data, xs, xn + col)} * load_q(w.centroids, c16, k);
      });
      store_q(y.data, ys, static_cast<size_t>(n) * p.out + r, requant_clamp(acc, channel_shift(wq, x.fl, y.fl, r), y.bits, oc));
    }
  }
}

}  // namespace shrink::rt::kernels
