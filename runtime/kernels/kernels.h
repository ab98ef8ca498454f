// The runtime's compute kernels (namespace shrink::rt::kernels): convolution, dense, sparse
// (CSR), codebook and sparse codebook weights, pooling, add, concat, requantization, table and float
// activations, softmax, quantize / dequantize. C++17, standard library only.
//
//   namespace k = shrink::rt::kernels;
//   k::Conv2dParams p;  p.in_c = 16; p.in_h = p.in_w = 28; p.out_c = 32; p.kernel_h = p.kernel_w = 3;
//   p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;  k::conv2d_fill_out_dims(p);
//   std::vector<uint8_t> scratch(k::conv2d_q_scratch_size(p, /*x_bits=*/8, /*w_bits=*/8));
//   k::conv2d_q(p, {x, 8, 4}, w, {8, &fl_w, 1, bias, false}, {y, 8, 3}, scratch.data());
//
// Contracts shared by every kernel (docs/runtime-kernels.md has the full list):
// - Layout: activations NCHW (batch first), conv weights [out_c][in_c / groups][kh][kw], dense
//   weights [out][in], all C order. Shapes are validated by the caller (loader / interpreter)
//   once; kernels run unchecked.
// - Integer tensors: B-bit two's-complement values (B = 2..16) stored as int8_t when B <= 8,
//   else int16_t (storage_is_s16). An int8 buffer may hold 4-bit values: kernels saturate to
//   the format's B, never merely to the storage type. Every integer rule is the one of
//   runtime/include/shrink_fixed_point.h (DESIGN.md, "Fixed-point arithmetic").
// - No kernel allocates. Those that need scratch memory say so with a *_scratch_size()
//   function (bytes; any alignment of the pointer is fine) and take `void* scratch`.
// - Conv, dense, their sparse forms and pooling have a scalar *_ref twin; the plain name picks
//   the fastest path for this CPU (AVX2 on x86-64 when present) and gives exactly the same
//   integers as *_ref. The element-wise kernels are plain scalar loops (their own reference).
#pragma once
#include <cstddef>
#include <cstdint>

namespace shrink::rt::kernels {

// ---------------------------------------------------------------------------------------------
// Common types

/// True when a B-bit tensor is stored as int16_t (B > 8), false for int8_t.
constexpr bool storage_is_s16(int bits) { return bits > 8; }
/// Bytes per stored value of a B-bit integer tensor (1 or 2).
constexpr size_t storage_bytes(int bits) { return bits > 8 ? 2 : 1; }

/// A read-only integer tensor: `data` is int8_t* (bits <= 8) or int16_t* (bits > 8);
/// value = q * 2^-fl.
struct QIn {
  const void* data = nullptr;
  int bits = 8;
  int fl = 0;
};
/// A writable integer tensor (same storage rule as QIn).
struct QOut {
  void* data = nullptr;
  int bits = 8;
  int fl = 0;
};

/// Clamp fused into an op's output, in the output's integer domain:
/// kRelu: lower bound 0; kRelu6: lower 0, upper saturate(floor(6 * 2^FL_y + 0.5)).
enum class Act : uint8_t { kNone = 0, kRelu = 1, kRelu6 = 2 };

/// Quantized weights of a conv / dense layer (the values themselves are passed separately:
/// dense array, CSR matrix, or a buffer expanded from a codebook).
struct QWeights {
  int bits = 8;                    ///< 2..16; values stored as int8_t (<= 8) or int16_t
  const int8_t* fl = nullptr;      ///< weight FL: fl_count entries
  int fl_count = 1;                ///< 1 = one FL per layer, out_c = one per output channel
  const int32_t* bias = nullptr;   ///< out_c entries at FL_x + FL_w[c] (saturated to int32), or nullptr
  /// The exporter proved sum_k |q_w[c][k]| * 2^(B_x - 1) + |q_b[c]| < 2^31 for every channel c,
  /// so int32 accumulation is exact (the loader re-checks it: shr::acc32_safe). With a false
  /// promise the integers are unspecified (no undefined behaviour). Only a speed hint: without
  /// it the kernels still use int32 wherever the storage widths alone prove it safe.
  bool acc32 = false;
};

/// The requantization shift of output channel c: s = FL_x + FL_w[c] - FL_y.
inline int channel_shift(const QWeights& w, int fl_x, int fl_y, int c) {
  return fl_x + w.fl[w.fl_count == 1 ? 0 : c] - fl_y;
}

/// Which implementation runs the hot kernels.
enum class Isa : uint8_t { kScalar = 0, kAvx2 = 1 };
/// The best instruction set this build and this CPU support.
Isa detected_isa();
/// Forces a path (tests, benchmarks). A request the CPU cannot run falls back to kScalar.
/// Returns the path now active. Not thread-safe: call before running models.
Isa set_isa(Isa isa);
/// The active path: Isa::kAvx2 or Isa::kScalar.
Isa active_isa();
/// "avx2" or "scalar": the active path of the hot kernels (for `shrink-rt inspect` / bench).
const char* isa_name();
/// One line naming the path of every kernel with a fast variant, e.g.
/// "conv2d_q=avx2 dwconv_s8=avx2 dense_q=avx2 dense_csr_s8=avx2" ("scalar" when inactive).
const char* active_paths();

// ---------------------------------------------------------------------------------------------
// Convolution (conv2d_f32.cc, conv2d_q.cc, conv2d_csr.cc)

struct Conv2dParams {
  int n = 1;                                   ///< batch
  int in_c = 0, in_h = 0, in_w = 0;
  int out_c = 0, out_h = 0, out_w = 0;         ///< out_h / out_w: shr::window_out (conv2d_fill_out_dims)
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int groups = 1;                              ///< in_c and out_c are multiples of groups
  Act act = Act::kNone;                        ///< fused ReLU / ReLU6
};

/// Sets p.out_h / p.out_w from the other fields with shr::window_out (runtime/format/shr_format.h,
/// no ceil mode); -1 when no window fits (the loader rejects such models).
void conv2d_fill_out_dims(Conv2dParams& p);

/// fp32 convolution, y = conv(x, w) + bias (bias may be nullptr), then the fused clamp
/// (ReLU: max(0, y); ReLU6: min(max(0, y), 6)). conv2d_f32 uses im2col + GEMM.
size_t conv2d_f32_scratch_size(const Conv2dParams& p);
void conv2d_f32(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y,
                void* scratch);
void conv2d_f32_ref(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y);

/// Integer convolution, any mix of int8 / int16 input and weights; output int8 / int16 by y.bits:
/// acc[c] = sum(q_x * q_w) + q_b[c] (exact), y = requantize(acc, FL_x + FL_w[c] - FL_y, B_y),
/// then the fused clamp. Depthwise (in_c / groups == 1, any channel multiplier) and grouped
/// convolutions included. `w` points to int8_t (w.bits <= 8) or int16_t values.
size_t conv2d_q_scratch_size(const Conv2dParams& p, int x_bits, int w_bits);
void conv2d_q(const Conv2dParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y,
              void* scratch);
void conv2d_q_ref(const Conv2dParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y);

// ---------------------------------------------------------------------------------------------
// Dense / Linear (dense_f32.cc, dense_q.cc)

struct DenseParams {
  int n = 1;        ///< batch: x is [n][in], y is [n][out]
  int in = 0;
  int out = 0;
  Act act = Act::kNone;
};

void dense_f32(const DenseParams& p, const float* x, const float* w, const float* bias, float* y);
void dense_f32_ref(const DenseParams& p, const float* x, const float* w, const float* bias, float* y);

/// Integer dense layer, same rules as conv2d_q (the output channel c is the output feature).
size_t dense_q_scratch_size(const DenseParams& p, int x_bits, int w_bits);
void dense_q(const DenseParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y,
             void* scratch);
void dense_q_ref(const DenseParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y);

// ---------------------------------------------------------------------------------------------
// Sparse weights in CSR (dense_csr.cc, conv2d_csr.cc)

/// Storage of CSR row pointers and column indices (the narrowest unsigned type that holds nnz,
/// resp. cols - 1).
enum class IndexType : uint8_t { kU8 = 0, kU16 = 1, kU32 = 2 };

/// A rows x cols matrix in compressed sparse rows (the .shr CSR storage, docs/shr-format.md):
/// the nonzeros of row r are values[row_ptr[r] .. row_ptr[r + 1]) at columns col_idx[same
/// range]. Well formed (checked by the loader): row_ptr[0] == 0, non-decreasing,
/// row_ptr[rows] == nnz, every column < cols. The kernels do not need the columns of a row in
/// order. `values` is float, int8_t or int16_t by the kernel.
/// Dense layer: rows = out, cols = in. Conv: rows = out_c, cols = (in_c / groups) * kh * kw,
/// column k = (ic * kh + i) * kw + j, as in the dense weight layout.
struct CsrMatrix {
  int rows = 0, cols = 0;
  const void* row_ptr = nullptr;       ///< rows + 1 entries of ptr_type
  IndexType ptr_type = IndexType::kU32;
  const void* col_idx = nullptr;       ///< nnz entries of idx_type
  IndexType idx_type = IndexType::kU16;
  const void* values = nullptr;        ///< nnz entries
};

void dense_csr_f32(const DenseParams& p, const float* x, const CsrMatrix& w, const float* bias, float* y);
void dense_csr_f32_ref(const DenseParams& p, const float* x, const CsrMatrix& w, const float* bias, float* y);
/// Integer sparse dense layer; w.values are int8_t (wq.bits <= 8) or int16_t.
size_t dense_csr_q_scratch_size(const DenseParams& p, int x_bits, int w_bits);
void dense_csr_q(const DenseParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq,
                 const QOut& y, void* scratch);
void dense_csr_q_ref(const DenseParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq,
                     const QOut& y);

/// Sparse convolution: im2col tiles times the CSR weights (SpMM); *_ref is direct.
size_t conv2d_csr_f32_scratch_size(const Conv2dParams& p);
void conv2d_csr_f32(const Conv2dParams& p, const float* x, const CsrMatrix& w, const float* bias,
                    float* y, void* scratch);
void conv2d_csr_f32_ref(const Conv2dParams& p, const float* x, const CsrMatrix& w, const float* bias,
                        float* y);
size_t conv2d_csr_q_scratch_size(const Conv2dParams& p, int x_bits, int w_bits);
void conv2d_csr_q(const Conv2dParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq,
                  const QOut& y, void* scratch);
void conv2d_csr_q_ref(const Conv2dParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq,
                      const QOut& y);

// ---------------------------------------------------------------------------------------------
// Codebook weights (codebook.cc)
//
// Packing of b-bit indices (b = 1..8), LSB first: index i occupies bits [i*b, i*b + b) of the
// little-endian bit stream, i.e. it starts at bit (i*b) % 8 of byte (i*b) / 8, its lowest bit
// first, and continues into the low bits of the next byte when it does not fit. n indices take
// shr::packed_index_bytes(n, b) = ceil(n*b / 8) bytes; the unused high bits of the last byte are 0.
// Example, b = 3, indices 5, 2, 7: bits 101 | 010 | 111 from bit 0 up -> byte0 = 0b11_010_101
// (0xD5), byte1 = 0b0000000_1 (0x01).
// Weights keep the dense layout ([out][in/groups][kh][kw] or [out][in]); centroid k has the
// value centroids[k] * 2^-FL (at most 2^b entries, every index below their count - the loader
// checks it; a reserved zero is centroids[0] == 0).

/// The i-th index of a packed stream.
inline uint32_t codebook_index(const uint8_t* packed, size_t i, int index_bits) {
  const size_t bit = i * static_cast<size_t>(index_bits);
  const uint32_t lo = packed[bit >> 3];
  const uint32_t two = lo | (((bit & 7) + static_cast<size_t>(index_bits) > 8) ? static_cast<uint32_t>(packed[(bit >> 3) + 1]) << 8 : 0u);
  return (two >> (bit & 7)) & ((1u << index_bits) - 1u);
}
/// out[i] = centroids[index i] for i < n: expands a codebook layer into a dense weight buffer
/// (done once at load, into the arena), after which the dense kernels run it.
void codebook_expand_s8(const uint8_t* packed, size_t n, int index_bits, const int8_t* centroids,
                        int8_t* out);
void codebook_expand_s16(const uint8_t* packed, size_t n, int index_bits, const int16_t* centroids,
                         int16_t* out);
void codebook_expand_f32(const uint8_t* packed, size_t n, int index_bits, const float* centroids,
                         float* out);

// ---------------------------------------------------------------------------------------------
// Sparse codebook weights (dense_csr_codebook.cc, conv2d_csr_codebook.cc)
//
// Deep Compression's storage (the .shr CsrCodebook, docs/shr-format.md): CSR whose entries are
// codebook indices with relative columns. Row r holds entries row_ptr[r] .. row_ptr[r + 1] - 1;
// entry j has the index codebook_index(indices, j, index_bits) (packed as above) and the column
// of the previous entry of its row (0 before the first) plus gaps[j]. Absent entries are 0;
// padding entries (index 0 = the exact zero) bridge gaps above 255. Well formed (the loader
// checks it): row_ptr non-decreasing from 0 to nnz, columns strictly increasing and < cols,
// every index < the centroid count. The kernels run on it directly (nothing is expanded) and
// give exactly the integers of dense_q_ref / conv2d_q_ref on the expanded weights. Portable
// scalar code: each is its own reference.

/// A rows x cols matrix of codebook indices in CSR with u8 column gaps. `centroids` are
/// int8_t (QWeights::bits <= 8) or int16_t. Dense: rows = out, cols = in; conv: as CsrMatrix.
struct CsrCodebookMatrix {
  int rows = 0, cols = 0;
  const void* row_ptr = nullptr;       ///< rows + 1 entries of ptr_type
  IndexType ptr_type = IndexType::kU32;
  const uint8_t* gaps = nullptr;       ///< nnz column gaps
  const uint8_t* indices = nullptr;    ///< nnz packed indices
  int index_bits = 1;                  ///< 1..8
  const void* centroids = nullptr;
};

/// Integer dense layer on sparse codebook weights (rules of dense_q). No scratch.
void dense_csr_codebook_q(const DenseParams& p, const QIn& x, const CsrCodebookMatrix& w, const QWeights& wq,
                          const QOut& y);
/// Integer convolution on sparse codebook weights (rules of conv2d_q, any groups, stride,
/// dilation, padding): per output channel, each nonzero weight is scattered over the output
/// plane. Scratch: out_h * out_w 64-bit accumulators (independent of the input size and K).
size_t conv2d_csr_codebook_q_scratch_size(const Conv2dParams& p);
void conv2d_csr_codebook_q(const Conv2dParams& p, const QIn& x, const CsrCodebookMatrix& w, const QWeights& wq,
                           const QOut& y, void* scratch);

// ---------------------------------------------------------------------------------------------
// Pooling (maxpool.cc, avgpool.cc)

struct Pool2dParams {
  int n = 1, c = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;          ///< max pooling only (average pooling: 1)
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool ceil_mode = false;                      ///< used by pool2d_fill_out_dims only
  bool count_include_pad = false;              ///< average pooling
};

/// Sets p.out_h / p.out_w with shr::window_out (PyTorch / ONNX rule, ceil_mode included).
void pool2d_fill_out_dims(Pool2dParams& p);

/// Max over the window's input cells (padding never wins). A window without any input cell
/// (only possible with pads >= kernel) gives qmin(B) / -inf. Output format = input format.
void maxpool_f32(const Pool2dParams& p, const float* x, float* y);
void maxpool_q(const Pool2dParams& p, const QIn& x, const QOut& y);   ///< y.bits == x.bits
void maxpool_q_ref(const Pool2dParams& p, const QIn& x, const QOut& y);

/// Average pooling. n = cells counted: with count_include_pad the window clipped to the padded
/// input [-pad_begin, in + pad_end), else clipped to the input. Integer: S = window sum,
/// a = floor((2S + n) / (2n)) (fx::average), y = requantize(a, FL_x - FL_y, B_y). n == 0 gives 0.
/// Float: S / n.
void avgpool_f32(const Pool2dParams& p, const float* x, float* y);
void avgpool_q(const Pool2dParams& p, const QIn& x, const QOut& y);
void avgpool_q_ref(const Pool2dParams& p, const QIn& x, const QOut& y);
/// Global average pooling over H x W per (n, c): n = H * W, same rounding; y is [n][c].
void global_avgpool_f32(int n, int c, int hw, const float* x, float* y);
void global_avgpool_q(int n, int c, int hw, const QIn& x, const QOut& y);

// ---------------------------------------------------------------------------------------------
// Element-wise and tensor ops (add.cc, concat.cc, requantize.cc, lut.cc, activation_f32.cc,
// softmax_f32.cc, quantize.cc)

/// y = clamp(saturate(sum_i requantize(x_i, FL_i - FL_y, 32), B_y)) over n >= 1 inputs: each
/// input requantized to FL_y (saturated to int32 only), summed exactly in int64, saturated
/// once, then the fused clamp. Same element count, no broadcasting. y may alias an input
/// whose storage type it shares.
void add_q(const QIn* inputs, int n, const QOut& y, size_t count, Act act = Act::kNone);
void add_f32(const float* const* inputs, int n, float* y, size_t count, Act act = Act::kNone);

/// Concatenation along one axis: input i is [outer][channels[i]][inner], y is
/// [outer][sum channels][inner]. Integer inputs are each requantized to y's format
/// (requantize(q, FL_i - FL_y, B_y)).
void concat_q(const QIn* inputs, const int* channels, int count, int outer, size_t inner, const QOut& y);
void concat_f32(const float* const* inputs, const int* channels, int count, int outer, size_t inner,
                float* y);

/// y = clamp(requantize(x, FL_x - FL_y, B_y)) for `count` values: a format change, or with
/// equal formats and act = kRelu / kRelu6 the integer ReLU / ReLU6 (in place allowed when the
/// storage types match).
void requantize_q(const QIn& x, const QOut& y, size_t count, Act act = Act::kNone);

/// Table activation (LeakyReLU, Sigmoid, Tanh, ... as computed by the exporter):
/// y = table[q - qmin(B_x)], 2^B_x entries of y's storage type (int8_t / int16_t by y.bits).
/// An input outside B_x bits is saturated first (so the index is always in range).
void lut_q(const QIn& x, const void* table, const QOut& y, size_t count);

enum class FloatAct : uint8_t { kRelu = 0, kRelu6 = 1, kLeakyRelu = 2, kSigmoid = 3, kTanh = 4 };
/// y = f(x) in float32 (in place allowed); alpha: LeakyReLU slope.
void activation_f32(FloatAct act, const float* x, float* y, size_t count, float alpha = 0.01f);

/// Softmax over the middle axis of [outer][n][inner], in float32 (max subtracted first).
void softmax_f32(const float* x, float* y, int outer, int n, size_t inner);

/// q = clamp(floor(x * 2^FL + 0.5)) in double (fx::quantize); NaN -> 0.
void quantize_f32(const float* x, const QOut& y, size_t count);
/// x = q * 2^-FL as float32 (exact for |q| < 2^24).
void dequantize_q(const QIn& x, float* y, size_t count);

}  // namespace shrink::rt::kernels
