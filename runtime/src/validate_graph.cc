// Graph-level checks of a loaded .shr model, run once at load so that execution can trust every
// shape, format and id (TFLite Micro's "validate in Prepare, run unchecked"). The per-op rules
// are listed in docs/shr-format.md, "Ops and the checks of the graph".
#include <cmath>
#include <cstdio>

#include "check.h"

// A status site with the op's context (OpCheck::bad; terse builds: the site only).
#define SHRINK_RT_BAD(...) SHRINK_RT_MESSAGE(SHRINK_RT_CORRUPT_MODEL, bad(__VA_ARGS__))

namespace shrink::rt {

namespace {

using shr::Activation;
using shr::DType;
using shr::OpCode;
using ll = long long;
using ull = unsigned long long;

bool is_fixed(const TensorDesc& t) { return t.dtype == DType::I8 || t.dtype == DType::I16; }
bool same_format(const TensorDesc& a, const TensorDesc& b) {
  return a.dtype == b.dtype && a.bits == b.bits && a.fl == b.fl;
}
bool same_shape(const TensorDesc& a, const TensorDesc& b) { return a.rank == b.rank && a.dims == b.dims; }

/// "[2, 3, 3]" (messages only: unused in terse builds)
[[maybe_unused]] Text shape_str(const TensorDesc& t) {
  Text x;
  int n = std::snprintf(x.s, sizeof x.s, "[");
  for (int i = 0; i < t.rank && n > 0 && n < static_cast<int>(sizeof x.s); ++i)
    n += std::snprintf(x.s + n, sizeof x.s - static_cast<size_t>(n), i ? ", %d" : "%d", static_cast<int>(t.dims[i]));
  if (n > 0 && n < static_cast<int>(sizeof x.s)) std::snprintf(x.s + n, sizeof x.s - static_cast<size_t>(n), "]");
  return x;
}

/// "f32", "i8 8-bit fl 4", "i16 12-bit fl per channel"
[[maybe_unused]] Text format_str(const TensorDesc& t) {
  Text x;
  if (t.is_float()) std::snprintf(x.s, sizeof x.s, "f32");
  else if (t.channel_fl_count) std::snprintf(x.s, sizeof x.s, "%s %d-bit fl per channel", shr::dtype_name(t.dtype), t.bits);
  else std::snprintf(x.s, sizeof x.s, "%s %d-bit fl %d", shr::dtype_name(t.dtype), t.bits, t.fl);
  return x;
}

class OpChecker {
 public:
  OpChecker(const Model& m, size_t index) : m_(m), o_(m.ops[index]), index_(index) {}

  Status run() const {
    const TensorDesc& y = t(o_.output);
    SHRINK_RT_TRY(activation_field());
    switch (o_.code) {
      case OpCode::Conv2d:
      case OpCode::Linear: return weighted();
      case OpCode::MaxPool:
      case OpCode::AvgPool: return pool();
      case OpCode::GlobalAvgPool: {
        SHRINK_RT_TRY(plain(1, 1));
        const TensorDesc& x = in(0);
        SHRINK_RT_TRY(want_rank(x, 3, "input"));
        if (y.rank != 3 || y.dims[0] != x.dims[0] || y.dims[1] != 1 || y.dims[2] != 1)
          return SHRINK_RT_BAD("output %s, expected [%" PRId32 ", 1, 1] for input %s", shape_str(y).s, x.dims[0], shape_str(x).s);
        return numeric(x, y, false);
      }
      case OpCode::Add: {
        SHRINK_RT_TRY(plain(2, UINT32_MAX));
        for (uint32_t k = 0; k < o_.input_count; ++k) {
          if (!same_shape(in(k), y)) return SHRINK_RT_BAD("input %" PRIu32 " %s differs from output %s", k, shape_str(in(k)).s, shape_str(y).s);
          SHRINK_RT_TRY(numeric(in(k), y, false));
        }
        return clamp();
      }
      case OpCode::Concat: return concat();
      case OpCode::Flatten:
      case OpCode::Reshape: {
        SHRINK_RT_TRY(plain(1, 1));
        if (in(0).numel != y.numel)
          return SHRINK_RT_BAD("input %s and output %s differ in size", shape_str(in(0)).s, shape_str(y).s);
        return numeric(in(0), y, true);
      }
      case OpCode::ReLU:
      case OpCode::ReLU6:
        SHRINK_RT_TRY(elementwise());
        SHRINK_RT_TRY(numeric(in(0), y, true));
        return clamp();
      case OpCode::LeakyReLU:
      case OpCode::Sigmoid:
      case OpCode::Tanh: return table_op();
      case OpCode::Softmax:
        SHRINK_RT_TRY(elementwise());
        if (!in(0).is_float() || !y.is_float()) return SHRINK_RT_BAD("Softmax runs in float: input and output must be f32");
        return want_axis(y);
      case OpCode::Quantize:
        SHRINK_RT_TRY(elementwise());
        if (!in(0).is_float() || !is_fixed(y))
          return SHRINK_RT_BAD("Quantize takes f32 to i8 / i16, got %s -> %s", format_str(in(0)).s, format_str(y).s);
        return {};
      case OpCode::Dequantize:
        SHRINK_RT_TRY(elementwise());
        if (!is_fixed(in(0)) || !y.is_float())
          return SHRINK_RT_BAD("Dequantize takes i8 / i16 to f32, got %s -> %s", format_str(in(0)).s, format_str(y).s);
        return {};
    }
    return SHRINK_RT_BAD("unknown opcode");  // unreachable: opcodes are range-checked
  }

 private:
  const Model& m_;
  const OpDesc& o_;
  size_t index_;

  const TensorDesc& t(uint32_t id) const { return m_.tensors[id]; }
  const TensorDesc& in(uint32_t k) const { return t(o_.input(k)); }

  __attribute__((format(printf, 2, 3))) Status bad(const char* fmt, ...) const {
    char prefix[160];
    std::snprintf(prefix, sizeof prefix, "op %zu '%.100s' (%s): ", index_, o_.name.data(), shr::op_name(o_.code));
    va_list ap;
    va_start(ap, fmt);
    Status s = fail_with(SHRINK_RT_CORRUPT_MODEL, prefix, fmt, ap);
    va_end(ap);
    return s;
  }

  Status want_rank(const TensorDesc& x, int rank, const char* what) const {
    if (x.rank != rank) return SHRINK_RT_BAD("%s %s must have rank %d", what, shape_str(x).s, rank);
    return {};
  }

  Status want_axis(const TensorDesc& y) const {
    if (o_.axis < 0 || o_.axis >= y.rank) return SHRINK_RT_BAD("axis %" PRId32 " is outside 0..%d for %s", o_.axis, y.rank - 1, shape_str(y).s);
    return {};
  }

  bool has_clamp() const {
    switch (o_.code) {
      case OpCode::Conv2d:
      case OpCode::Linear:
      case OpCode::Add:
      case OpCode::ReLU:
      case OpCode::ReLU6: return true;
      default: return false;
    }
  }

  /// Fused activations only where the format allows them; ReLU / ReLU6 ops name theirs; flags
  /// and fields only on the ops they belong to.
  Status activation_field() const {
    const bool fusable = o_.code == OpCode::Conv2d || o_.code == OpCode::Linear || o_.code == OpCode::Add;
    if (o_.code == OpCode::ReLU && o_.activation != Activation::ReLU) return SHRINK_RT_BAD("activation must be ReLU (1)");
    if (o_.code == OpCode::ReLU6 && o_.activation != Activation::ReLU6) return SHRINK_RT_BAD("activation must be ReLU6 (2)");
    if (!fusable && o_.code != OpCode::ReLU && o_.code != OpCode::ReLU6 && o_.activation != Activation::None)
      return SHRINK_RT_BAD("activation %d cannot be fused into this op", static_cast<int>(o_.activation));
    if (!has_clamp() && (o_.clamp_lo || o_.clamp_hi)) return SHRINK_RT_BAD("clamp is set for an op without a clamp");
    if (o_.code != OpCode::LeakyReLU && o_.alpha != 0.0f) return SHRINK_RT_BAD("alpha is set for an op that has none");
    if (o_.code != OpCode::Conv2d && o_.code != OpCode::Linear && o_.acc32) return SHRINK_RT_BAD("the acc32 flag is for Conv2d / Linear");
    if (o_.code != OpCode::MaxPool && o_.code != OpCode::AvgPool && o_.ceil_mode) return SHRINK_RT_BAD("ceil_mode is for pooling");
    if (o_.code != OpCode::AvgPool && o_.count_include_pad) return SHRINK_RT_BAD("count_include_pad is for AvgPool");
    if (o_.code != OpCode::Concat && o_.code != OpCode::Softmax && o_.axis != 0) return SHRINK_RT_BAD("axis is set for an op without one");
    return {};
  }

  /// The clamp of an integer op is the one its activation and output format imply; float ops
  /// carry none (the activation field says what to apply).
  Status clamp() const {
    const TensorDesc& y = t(o_.output);
    int64_t lo = 0, hi = 0;
    if (!y.is_float()) {
      const int64_t qmin = -(int64_t{1} << (y.bits - 1)), qmax = (int64_t{1} << (y.bits - 1)) - 1;
      lo = o_.activation == Activation::None ? qmin : 0;
      hi = qmax;
      if (o_.activation == Activation::ReLU6) {
        // saturate(floor(6 * 2^FL_y + 0.5)): exact in double for FL_y in -8..24.
        const double r = std::floor(std::ldexp(6.0, y.fl) + 0.5);
        hi = r >= static_cast<double>(qmax) ? qmax : static_cast<int64_t>(r);
      }
    }
    if (o_.clamp_lo != lo || o_.clamp_hi != hi)
      return SHRINK_RT_BAD("clamp [%" PRId32 ", %" PRId32 "], expected [%lld, %lld] for activation %d and output %s", o_.clamp_lo, o_.clamp_hi, ll(lo),
                 ll(hi), static_cast<int>(o_.activation), format_str(y).s);
    return {};
  }

  /// Operand and window fields for ops that have no weight and no window.
  Status plain(uint32_t min_in, uint32_t max_in) const {
    if (o_.input_count < min_in || o_.input_count > max_in)
      return SHRINK_RT_BAD("%" PRIu32 " inputs, expected %" PRIu32 "%s", o_.input_count, min_in, max_in == min_in ? "" : " or more");
    if (o_.weight != shr::kNoTensor || o_.bias != shr::kNoTensor) return SHRINK_RT_BAD("has a weight or bias, expected none");
    if (o_.lut != shr::kNoTensor && !(o_.code == OpCode::LeakyReLU || o_.code == OpCode::Sigmoid || o_.code == OpCode::Tanh))
      return SHRINK_RT_BAD("has a lookup table, expected none");
    return no_window();
  }

  Status no_window() const {
    if (o_.groups || o_.kernel[0] || o_.kernel[1] || o_.stride[0] || o_.stride[1] || o_.dilation[0] || o_.dilation[1] ||
        o_.pads[0] || o_.pads[1] || o_.pads[2] || o_.pads[3])
      return SHRINK_RT_BAD("window fields (groups, kernel, stride, dilation, pads) must be 0 for this op");
    return {};
  }

  Status window(const TensorDesc& x, const TensorDesc& y, bool ceil_mode) const {
    for (int k = 0; k < 2; ++k) {
      if (o_.kernel[k] < 1 || o_.stride[k] < 1 || o_.dilation[k] < 1)
        return SHRINK_RT_BAD("kernel %" PRId32 "x%" PRId32 ", stride %" PRId32 "x%" PRId32 ", dilation %" PRId32 "x%" PRId32 " must all be >= 1", o_.kernel[0], o_.kernel[1], o_.stride[0],
                   o_.stride[1], o_.dilation[0], o_.dilation[1]);
      // The kernels compute window positions and taps in int: with the padded extent plus one
      // stride below 2^31, every oh * stride - pad + i * dilation (ceil mode included) fits.
      const int64_t extent = int64_t{x.dims[1 + k]} + o_.pads[k] + o_.pads[k + 2] + o_.stride[k];
      if (extent > INT32_MAX)
        return SHRINK_RT_BAD("input %" PRId32 " + pads %" PRId32 " + %" PRId32 " + stride %" PRId32 " along axis %d exceed 2^31 - 1", x.dims[1 + k], o_.pads[k],
                   o_.pads[k + 2], o_.stride[k], 1 + k);
      const int64_t out = shr::window_out(x.dims[1 + k], o_.kernel[k], o_.stride[k], o_.dilation[k], o_.pads[k],
                                          o_.pads[k + 2], ceil_mode);
      if (out < 1 || y.dims[1 + k] != out)
        return SHRINK_RT_BAD("output %s disagrees with input %s, kernel %" PRId32 "x%" PRId32 ", stride %" PRId32 "x%" PRId32 ", dilation %" PRId32 "x%" PRId32 ", pads [%" PRId32 ", %" PRId32 ", %" PRId32 ", %" PRId32 "] "
                   "(expected %lld along axis %d; -1: no window fits)",
                   shape_str(y).s, shape_str(x).s, o_.kernel[0], o_.kernel[1], o_.stride[0], o_.stride[1], o_.dilation[0],
                   o_.dilation[1], o_.pads[0], o_.pads[1], o_.pads[2], o_.pads[3], ll(out), 1 + k);
    }
    return {};
  }

  /// Float ops: both f32. Integer ops: both fixed point (same format when `same` is set).
  Status numeric(const TensorDesc& x, const TensorDesc& y, bool same) const {
    if (x.is_float() != y.is_float())
      return SHRINK_RT_BAD("mixes float and integer: input %s, output %s (use Quantize / Dequantize)", format_str(x).s, format_str(y).s);
    if (!x.is_float() && (!is_fixed(x) || !is_fixed(y))) return SHRINK_RT_BAD("integer operands must be i8 or i16");
    if (same && !same_format(x, y))
      return SHRINK_RT_BAD("input %s and output %s must have the same format", format_str(x).s, format_str(y).s);
    return {};
  }

  Status elementwise() const {
    SHRINK_RT_TRY(plain(1, 1));
    if (!same_shape(in(0), t(o_.output)))
      return SHRINK_RT_BAD("input %s and output %s differ", shape_str(in(0)).s, shape_str(t(o_.output)).s);
    return {};
  }

  Status pool() const {
    const TensorDesc &x = in(0), &y = t(o_.output);
    if (o_.input_count != 1) return SHRINK_RT_BAD("%" PRIu32 " inputs, expected 1", o_.input_count);
    if (o_.weight != shr::kNoTensor || o_.bias != shr::kNoTensor || o_.lut != shr::kNoTensor)
      return SHRINK_RT_BAD("has a weight, bias or table, expected none");
    if (o_.groups != 0) return SHRINK_RT_BAD("groups is set for a pooling op");
    SHRINK_RT_TRY(want_rank(x, 3, "input"));
    SHRINK_RT_TRY(want_rank(y, 3, "output"));
    if (y.dims[0] != x.dims[0]) return SHRINK_RT_BAD("output %s has other channels than input %s", shape_str(y).s, shape_str(x).s);
    if (o_.code == OpCode::AvgPool && (o_.dilation[0] != 1 || o_.dilation[1] != 1))
      return SHRINK_RT_BAD("AvgPool dilation %" PRId32 "x%" PRId32 " must be 1x1", o_.dilation[0], o_.dilation[1]);
    SHRINK_RT_TRY(window(x, y, o_.ceil_mode));
    return numeric(x, y, o_.code == OpCode::MaxPool);
  }

  Status concat() const {
    SHRINK_RT_TRY(plain(1, UINT32_MAX));
    const TensorDesc& y = t(o_.output);
    SHRINK_RT_TRY(want_axis(y));
    int64_t along = 0;
    for (uint32_t k = 0; k < o_.input_count; ++k) {
      const TensorDesc& x = in(k);
      if (x.rank != y.rank) return SHRINK_RT_BAD("input %" PRIu32 " %s has another rank than output %s", k, shape_str(x).s, shape_str(y).s);
      for (int d = 0; d < y.rank; ++d)
        if (d != o_.axis && x.dims[d] != y.dims[d])
          return SHRINK_RT_BAD("input %" PRIu32 " %s differs from output %s outside axis %" PRId32, k, shape_str(x).s, shape_str(y).s, o_.axis);
      along += x.dims[o_.axis];
      SHRINK_RT_TRY(numeric(x, y, false));
    }
    if (along != y.dims[o_.axis])
      return SHRINK_RT_BAD("inputs sum to %lld along axis %" PRId32 ", output %s has %" PRId32, ll(along), o_.axis, shape_str(y).s, y.dims[o_.axis]);
    return {};
  }

  Status table_op() const {
    SHRINK_RT_TRY(elementwise());
    const TensorDesc &x = in(0), &y = t(o_.output);
    SHRINK_RT_TRY(numeric(x, y, false));
    if (o_.code == OpCode::LeakyReLU && !std::isfinite(o_.alpha)) return SHRINK_RT_BAD("alpha is not finite");
    if (x.is_float()) {
      if (o_.lut != shr::kNoTensor) return SHRINK_RT_BAD("a float op has a lookup table");
      return {};
    }
    if (o_.alpha != 0.0f) return SHRINK_RT_BAD("an integer table op has alpha set (the table holds the function)");
    if (o_.lut == shr::kNoTensor) return SHRINK_RT_BAD("an integer op needs a lookup table");
    const TensorDesc& lut = t(o_.lut);
    const int64_t entries = int64_t{1} << x.bits;
    if (!lut.constant || lut.storage != shr::Storage::Dense || lut.rank != 1 || lut.dims[0] != entries ||
        !same_format(lut, y) || lut.channel_fl_count)
      return SHRINK_RT_BAD("lookup table '%s' is %s %s %s, expected a dense constant [%lld] in the output's format %s", lut.name.data(),
                 format_str(lut).s, shape_str(lut).s, shr::storage_name(lut.storage), ll(entries), format_str(y).s);
    return {};
  }

  Status weighted() const {
    const bool conv = o_.code == OpCode::Conv2d;
    if (o_.input_count != 1) return SHRINK_RT_BAD("%" PRIu32 " inputs, expected 1", o_.input_count);
    if (o_.lut != shr::kNoTensor) return SHRINK_RT_BAD("has a lookup table, expected none");
    if (o_.weight == shr::kNoTensor) return SHRINK_RT_BAD("has no weight");
    const TensorDesc &x = in(0), &w = t(o_.weight), &y = t(o_.output);
    const TensorDesc* b = o_.bias == shr::kNoTensor ? nullptr : &t(o_.bias);
    int64_t out_ch = 0;
    if (conv) {
      SHRINK_RT_TRY(want_rank(x, 3, "input"));
      SHRINK_RT_TRY(want_rank(w, 4, "weight"));
      SHRINK_RT_TRY(want_rank(y, 3, "output"));
      out_ch = w.dims[0];
      if (o_.groups < 1 || x.dims[0] % o_.groups != 0 || out_ch % o_.groups != 0 ||
          int64_t{w.dims[1]} * o_.groups != x.dims[0])
        return SHRINK_RT_BAD("input %s, weight %s and groups %" PRId32 " disagree (expected weight [out, in/groups, kh, kw], in and out "
                   "divisible by groups)",
                   shape_str(x).s, shape_str(w).s, o_.groups);
      if (o_.kernel[0] != w.dims[2] || o_.kernel[1] != w.dims[3])
        return SHRINK_RT_BAD("kernel %" PRId32 "x%" PRId32 " disagrees with weight %s", o_.kernel[0], o_.kernel[1], shape_str(w).s);
      if (y.dims[0] != out_ch) return SHRINK_RT_BAD("output %s has other channels than weight %s", shape_str(y).s, shape_str(w).s);
      SHRINK_RT_TRY(window(x, y, false));
    } else {
      SHRINK_RT_TRY(want_rank(x, 1, "input"));
      SHRINK_RT_TRY(want_rank(w, 2, "weight"));
      SHRINK_RT_TRY(want_rank(y, 1, "output"));
      SHRINK_RT_TRY(no_window());
      out_ch = w.dims[0];
      if (w.dims[1] != x.dims[0] || y.dims[0] != out_ch)
        return SHRINK_RT_BAD("input %s, weight %s and output %s disagree (expected weight [out, in])", shape_str(x).s, shape_str(w).s,
                   shape_str(y).s);
    }
    if (b && (b->rank != 1 || b->dims[0] != out_ch)) return SHRINK_RT_BAD("bias %s, expected [%lld]", shape_str(*b).s, ll(out_ch));
    if (!w.constant || (b && !b->constant)) return SHRINK_RT_BAD("weight and bias must be constants");
    SHRINK_RT_TRY(numeric(x, y, false));
    if (x.is_float()) {
      if (!w.is_float() || (b && !b->is_float()))
        return SHRINK_RT_BAD("a float op needs f32 weight and bias, got weight %s", format_str(w).s);
      return clamp();
    }
    if (!is_fixed(w)) return SHRINK_RT_BAD("an integer op needs an i8 / i16 weight, got %s", format_str(w).s);
    if (b) {
      if (b->dtype != DType::I32) return SHRINK_RT_BAD("an integer op needs an i32 bias, got %s", format_str(*b).s);
      for (int64_t c = 0; c < out_ch; ++c)
        if (b->fl_of(c) != x.fl + w.fl_of(c))
          return SHRINK_RT_BAD("bias FL %d of channel %lld is not FL_x + FL_w = %d + %d", b->fl_of(c), ll(c), x.fl, w.fl_of(c));
    }
    SHRINK_RT_TRY(clamp());
    return o_.acc32 ? acc32_claim(x, w, b, out_ch) : Status{};
  }

  /// Re-checks the writer's claim that an int32 accumulator cannot overflow.
  Status acc32_claim(const TensorDesc& x, const TensorDesc& w, const TensorDesc* b, int64_t out_ch) const {
    const int64_t cols = w.numel / out_ch;
    for (int64_t c = 0; c < out_ch; ++c) {
      uint64_t sum = 0;
      if (w.storage == shr::Storage::Csr || w.storage == shr::Storage::CsrCodebook) {
        const bool cb = w.storage == shr::Storage::CsrCodebook;
        for (uint32_t k = w.row_ptr_at(c); k < w.row_ptr_at(c + 1); ++k)
          sum += static_cast<uint64_t>(std::fabs(element(w.dtype, w.values, cb ? w.index_at(k) : k)));
      } else {
        for (int64_t k = c * cols; k < (c + 1) * cols; ++k) sum += static_cast<uint64_t>(std::fabs(w.value_at(k)));
      }
      const uint64_t abs_b = b ? static_cast<uint64_t>(std::fabs(b->value_at(c))) : 0;
      if (!shr::acc32_safe(sum, x.bits, abs_b))
        return SHRINK_RT_BAD("the acc32 flag is set but channel %lld has sum|q_w| = %llu, |q_b| = %llu: an int32 accumulator could "
                   "overflow for %d-bit inputs",
                   ll(c), ull(sum), ull(abs_b), x.bits);
    }
    return {};
  }
};

}  // namespace

Status validate_graph(const Model& m) {
  const size_t n = m.tensors.size();
  // 0 = not yet available, 1 = graph input, 2 = produced by an op.
  std::vector<uint8_t> state(n, 0);
  for (size_t i = 0; i < m.inputs.size(); ++i) {
    const uint32_t id = m.inputs[i];
    if (id >= n) return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "graph input %zu is tensor id %" PRIu32 ", but there are %zu tensors", i, id, n);
    if (m.tensors[id].constant)
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "graph input %zu is the constant '%s'", i, m.tensors[id].name.data());
    if (state[id]) return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "tensor %" PRIu32 " is listed twice as a graph input", id);
    state[id] = 1;
  }
  if (!m.mean.empty() || !m.std.empty()) {
    const TensorDesc& x = m.tensors[m.inputs[0]];
    const size_t c = static_cast<size_t>(x.dims[0]);
    for (const auto* v : {&m.mean, &m.std})
      if (v->size() > 1 && v->size() != c)
        return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "Normalization: %zu values, expected 0, 1 or %zu (the channels of input %s)",
                    v->size(), c, shape_str(x).s);
  }
  for (size_t i = 0; i < m.ops.size(); ++i) {
    const OpDesc& o = m.ops[i];
    for (uint32_t k = 0; k < o.input_count; ++k) {
      const uint32_t id = o.input(k);
      if (m.tensors[id].constant)
        return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL,
                    "op %zu '%s': input %" PRIu32 " is the constant '%s' (constants go in the weight / bias / lut slots)", i,
                    o.name.data(), k, m.tensors[id].name.data());
      if (!state[id])
        return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "op %zu '%s': input %" PRIu32 " '%s' is not a graph input and no earlier op produces it",
                    i, o.name.data(), k, m.tensors[id].name.data());
    }
    for (uint32_t id : {o.weight, o.bias, o.lut})
      if (id != shr::kNoTensor && !m.tensors[id].constant)
        return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "op %zu '%s': weight / bias / lut '%s' is not a constant", i, o.name.data(),
                    m.tensors[id].name.data());
    if (m.tensors[o.output].constant || state[o.output])
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "op %zu '%s': output '%s' is a constant, a graph input or the output of an earlier op",
                  i, o.name.data(), m.tensors[o.output].name.data());
    SHRINK_RT_TRY(OpChecker(m, i).run());
    state[o.output] = 2;
  }
  for (size_t i = 0; i < m.outputs.size(); ++i) {
    const uint32_t id = m.outputs[i];
    if (id >= n) return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "graph output %zu is tensor id %" PRIu32 ", but there are %zu tensors", i, id, n);
    if (!state[id])
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "graph output %zu '%s' is neither an input nor produced by an op", i,
                  m.tensors[id].name.data());
  }
  return {};
}

}  // namespace shrink::rt
