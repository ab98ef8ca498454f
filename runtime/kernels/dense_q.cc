// Integer dense (Linear) layer: the scalar reference and the entry point that picks a fast path.
#include "kernels/internal.h"

namespace shrink::rt::kernels {

namespace {

template <bool kAcc32, typename TX, typename TW>
void dense_ref(const DenseParams& p, const TX* x, int fl_x, const TW* w, const QWeights& wq, const QOut& y) {
  const int bits_y = y.bits, fl_y = y.fl;
  const bool ys = storage_is_s16(bits_y);
  const OutClamp oc = out_clamp(bits_y, fl_y, p.act);
  for (int n = 0; n < p.n; ++n) {
    const TX* xn = x + static_cast<size_t>(n) * p.in;
    for (int o = 0; o < p.out; ++o) {
      const TW* wo = w + static_cast<size_t>(o) * p.in;
      Accum<kAcc32> acc;
      if (wq.bias) acc.add(wq.bias[o]);
      for (int k = 0; k < p.in; ++k) acc.add(int64_t{xn[k]} * wo[k]);
      store_q(y.data, ys, static_cast<size_t>(n) * p.out + o, requant_clamp(acc.get(), channel_shift(wq, fl_x, fl_y, o), bits_y, oc));
    }
  }
}

}  // namespace

void dense_q_ref(const DenseParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y) {
  visit_q2(x.data, x.bits, w, wq.bits, [&](auto* xs, auto* ws) {
    if (wq.acc32) dense_ref<true>(p, xs, x.fl, ws, wq, y);
    else dense_ref<false>(p, xs, x.fl, ws, wq, y);
  });
}

size_t dense_q_scratch_size(const DenseParams& p, int x_bits, int w_bits) {
  return dense_q_scratch_for(cpu_fast_paths(), p, x_bits, w_bits);
}

size_t dense_q_scratch_for(const FastPaths* f, const DenseParams& p, int x_bits, int w_bits) {
  return f ? f->dense_q_scratch(p, x_bits, w_bits) : 0;
}

void dense_q(const DenseParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y, void* scratch) {
  if (const FastPaths* f = fast_paths())
    if (f->dense_q(p, x, w, wq, y, scratch)) return;
  dense_q_ref(p, x, w, wq, y);
}

}  // namespace shrink::rt::kernels
