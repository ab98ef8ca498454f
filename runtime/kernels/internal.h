// Internal helpers of runtime/kernels: the scalar requantization every kernel uses, typed
// access to int8 / int16 storage, and the table of fast paths (AVX2) chosen at run time.
// Not part of the public API (tests include it to call a fast path directly).
//
//   OutClamp oc = out_clamp(/*bits=*/8, /*fl=*/4, Act::kRelu6);     // [0, 96]
//   int64_t q = requant_clamp(acc, /*shift=*/3, 8, oc);
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"
#include "shrink_fixed_point.h"

namespace shrink::rt::kernels {

/// The integer range of an output: saturation to B_y bits intersected with the fused clamp.
struct OutClamp {
  int64_t lo, hi;
};
inline OutClamp out_clamp(int bits, int fl, Act act) {
  OutClamp c{fx::qmin(bits), fx::qmax(bits)};
  if (act != Act::kNone) c.lo = 0;
  if (act == Act::kRelu6) c.hi = fx::relu6_max(bits, fl);  // already saturated to B_y, >= 0
  return c;
}

/// fx::requantize (round half up, saturating left shift, s >= 63 -> 0), saturated to B_y,
/// then the fused clamp. The clamp ranges nest (0 and relu6_max lie inside the B_y range), so
/// one clamp does both.
inline int64_t requant_clamp(int64_t acc, int shift, int bits, const OutClamp& c) {
  const int64_t y = fx::requantize(acc, shift, bits);
  return y < c.lo ? c.lo : (y > c.hi ? c.hi : y);
}

/// The fused clamp on a float value (NaN passes through, as in PyTorch).
inline float act_f32(float v, Act act) {
  if (act == Act::kNone) return v;
  if (v < 0.0f) v = 0.0f;
  return act == Act::kRelu6 && v > 6.0f ? 6.0f : v;
}

/// requant_clamp for accumulators with |acc| < 2^62 (every kernel's bound): the common
/// rounding right shift in plain int64, anything else through fx::requantize.
inline int64_t requant_clamp_small(int64_t acc, int shift, const OutClamp& c) {
  const int64_t y = shift > 0 && shift < 63 ? (acc + (int64_t{1} << (shift - 1))) >> shift  // arithmetic shift: floor
                                            : fx::requantize(acc, shift, 63);
  return y < c.lo ? c.lo : (y > c.hi ? c.hi : y);
}

/// Reads element i of an int8 / int16 integer tensor.
inline int32_t load_q(const void* data, bool s16, size_t i) {
  return s16 ? static_cast<const int16_t*>(data)[i] : static_cast<const int8_t*>(data)[i];
}
/// Writes element i (the value is already in range of the storage type).
inline void store_q(void* data, bool s16, size_t i, int64_t v) {
  if (s16) static_cast<int16_t*>(data)[i] = static_cast<int16_t>(v);
  else static_cast<int8_t*>(data)[i] = static_cast<int8_t>(v);
}

/// Calls f with the typed pointer (const int8_t* or const int16_t*) of a B-bit tensor.
template <typename F>
inline void visit_q(const void* data, int bits, F&& f) {
  if (storage_is_s16(bits)) f(static_cast<const int16_t*>(data));
  else f(static_cast<const int8_t*>(data));
}
/// Calls f(ta, tb) with the typed pointers of two int8 / int16 tensors (e.g. input and weights).
template <typename F>
inline void visit_q2(const void* a, int a_bits, const void* b, int b_bits, F&& f) {
  visit_q(a, a_bits, [&](auto* ta) { visit_q(b, b_bits, [&](auto* tb) { f(ta, tb); }); });
}

/// Calls f(i, j, ih, iw) for every kernel tap (i, j) of output pixel (oh, ow) that falls
/// inside the in_h x in_w input (conv and pooling geometry: stride, dilation, top / left pads).
template <typename P, typename F>
inline void for_each_tap(const P& p, int oh, int ow, F&& f) {
  for (int i = 0; i < p.kernel_h; ++i) {
    const int ih = oh * p.stride_h - p.pad_top + i * p.dilation_h;
    if (ih < 0 || ih >= p.in_h) continue;
    for (int j = 0; j < p.kernel_w; ++j) {
      const int iw = ow * p.stride_w - p.pad_left + j * p.dilation_w;
      if (iw >= 0 && iw < p.in_w) f(i, j, ih, iw);
    }
  }
}

/// Exact accumulation of integer products: int64, or int32 (wrapping, no undefined behaviour)
/// when the acc32 promise allows it.
template <bool kAcc32>
struct Accum {
  int64_t v = 0;
  void add(int64_t p) { v += p; }
  int64_t get() const { return v; }
};
template <>
struct Accum<true> {
  uint32_t v = 0;
  void add(int64_t p) { v += static_cast<uint32_t>(p); }
  int64_t get() const { return static_cast<int32_t>(v); }
};

/// Reads a CSR column index.
inline uint32_t load_index(const void* idx, IndexType t, size_t j) {
  switch (t) {
    case IndexType::kU8: return static_cast<const uint8_t*>(idx)[j];
    case IndexType::kU16: return static_cast<const uint16_t*>(idx)[j];
    default: return static_cast<const uint32_t*>(idx)[j];
  }
}

/// Row pointer r of a CSR matrix (entries row_ptr_at(r) .. row_ptr_at(r + 1) - 1 form row r).
inline uint32_t row_ptr_at(const CsrMatrix& m, int r) { return load_index(m.row_ptr, m.ptr_type, static_cast<size_t>(r)); }

/// Calls f(column, index) for the entries of row r of a sparse codebook matrix, in order
/// (padding entries included: their index is 0).
template <typename F>
inline void for_each_codebook_entry(const CsrCodebookMatrix& w, int r, F&& f) {
  const IndexType t = w.ptr_type;
  uint32_t col = 0;
  for (uint32_t j = load_index(w.row_ptr, t, static_cast<size_t>(r)), e = load_index(w.row_ptr, t, static_cast<size_t>(r) + 1);
       j < e; ++j) {
    col += w.gaps[j];
    f(col, codebook_index(w.indices, j, w.index_bits));
  }
}

/// True when any partial sum of `terms` products of an x and a w storage value cannot leave
/// int32: |product| <= 2^sx * 2^sw with sx, sw = 7 (int8 storage) or 15 (int16).
inline bool int32_terms_safe(int x_bits, int w_bits, int64_t terms) {
  const int sx = storage_is_s16(x_bits) ? 15 : 7, sw = storage_is_s16(w_bits) ? 15 : 7;
  return terms <= ((int64_t{1} << 31) - 1) >> (sx + sw);
}

/// Carves a `bytes` block aligned to 64 bytes out of scratch; advances the cursor.
inline void* carve(unsigned char*& cursor, size_t bytes) {
  auto p = reinterpret_cast<uintptr_t>(cursor);
  p = (p + 63) & ~static_cast<uintptr_t>(63);
  cursor = reinterpret_cast<unsigned char*>(p + bytes);
  return reinterpret_cast<void*>(p);
}
/// The scratch size that carve() needs for a block (worst-case alignment slack included).
constexpr size_t carve_size(size_t bytes) { return bytes + 64; }

/// Fast variants of the hot kernels. Each returns false when it does not handle a case
/// (types, sizes), and the caller then runs the reference. Scratch sizes are in bytes.
struct FastPaths {
  const char* name;  ///< "avx2"
  // Convolution through im2col + GEMM (any groups), int8 / int16 inputs and weights.
  size_t (*conv2d_q_scratch)(const Conv2dParams& p, int x_bits, int w_bits);
  bool (*conv2d_q)(const Conv2dParams& p, const QIn& x, const void* w, const QWeights& wq,
                   const QOut& y, void* scratch);
  // Depthwise convolution (in_c / groups == 1), int8 input and weights.
  size_t (*dwconv_q_scratch)(const Conv2dParams& p, int x_bits, int w_bits);
  bool (*dwconv_q)(const Conv2dParams& p, const QIn& x, const void* w, const QWeights& wq,
                   const QOut& y, void* scratch);
  // Dense layer, int8 / int16 inputs and weights.
  size_t (*dense_q_scratch)(const DenseParams& p, int x_bits, int w_bits);
  bool (*dense_q)(const DenseParams& p, const QIn& x, const void* w, const QWeights& wq,
                  const QOut& y, void* scratch);
  // CSR dense layer, int8 input and values.
  size_t (*dense_csr_q_scratch)(const DenseParams& p, int x_bits, int w_bits);
  bool (*dense_csr_q)(const DenseParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq,
                      const QOut& y, void* scratch);
};

/// The fast paths this CPU can run (nullptr: none). Defined by dispatch_x86.cc on x86-64
/// (CPU detection), by dispatch_generic.cc elsewhere.
const FastPaths* cpu_fast_paths();
/// The fast paths in use now (nullptr when forced to scalar or none exist).
const FastPaths* fast_paths();

/// Scratch bytes of conv2d_q / dense_q / dense_csr_q when they run with the fast paths `f`
/// (nullptr: the scalar kernels, which need none). The public *_scratch_size functions pass
/// cpu_fast_paths(); the planner passes nullptr to size a scalar-only target's arena.
size_t conv2d_q_scratch_for(const FastPaths* f, const Conv2dParams& p, int x_bits, int w_bits);
size_t dense_q_scratch_for(const FastPaths* f, const DenseParams& p, int x_bits, int w_bits);
size_t dense_csr_q_scratch_for(const FastPaths* f, const DenseParams& p, int x_bits, int w_bits);

/// One im2col row: the input under tap k = (ic * kh + i) * kw + j for the output pixels
/// p0 .. p0 + nt - 1 (row-major over out_h x out_w) of one group (xg: its first input channel);
/// 0 in the padding and beyond the last pixel.
template <typename TX, typename TD>
void im2col_row(const Conv2dParams& p, const TX* xg, int k, int p0, int nt, TD* dst) {
  const int P = p.out_h * p.out_w;
  const int kk = p.kernel_h * p.kernel_w;
  const int ic = k / kk, i = (k / p.kernel_w) % p.kernel_h, j = k % p.kernel_w;
  const TX* plane = xg + static_cast<size_t>(ic) * p.in_h * p.in_w;
  const int col_off = j * p.dilation_w - p.pad_left;
  // Output columns whose input column lies inside [0, in_w).
  const int ow_lo = col_off >= 0 ? 0 : (-col_off + p.stride_w - 1) / p.stride_w;
  const int ow_hi = (p.in_w - 1 - col_off) < 0 ? 0 : std::min(p.out_w, (p.in_w - 1 - col_off) / p.stride_w + 1);
  int q = p0, t = 0;
  const int end = std::min(p0 + nt, P);
  while (q < end) {
    const int oh = q / p.out_w, ow0 = q % p.out_w;
    const int seg = std::min(p.out_w - ow0, end - q);
    const int ih = oh * p.stride_h - p.pad_top + i * p.dilation_h;
    if (ih < 0 || ih >= p.in_h) {
      for (int u = 0; u < seg; ++u) dst[t + u] = 0;
    } else {
      const TX* row = plane + static_cast<size_t>(ih) * p.in_w;
      const int a = std::clamp(ow_lo, ow0, ow0 + seg), b = std::clamp(ow_hi, a, ow0 + seg);
      for (int ow = ow0; ow < a; ++ow) dst[t + ow - ow0] = 0;
      if (p.stride_w == 1) {
        for (int ow = a; ow < b; ++ow) dst[t + ow - ow0] = row[ow + col_off];
      } else {
        for (int ow = a; ow < b; ++ow) dst[t + ow - ow0] = row[ow * p.stride_w + col_off];
      }
      for (int ow = b; ow < ow0 + seg; ++ow) dst[t + ow - ow0] = 0;
    }
    q += seg;
    t += seg;
  }
  for (; t < nt; ++t) dst[t] = 0;
}

/// True for a depthwise convolution (one input channel per group).
inline bool is_depthwise(const Conv2dParams& p) { return p.groups == p.in_c && p.groups > 0; }

}  // namespace shrink::rt::kernels
