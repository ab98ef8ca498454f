// The kernel table (kernel_table.h): one shrink_rt_kernel object per kernel, each in its own
// section (-fdata-sections), so that a firmware registering a few of them through
// shrink_rt_load_kernels links only those kernels. The adapters turn an op of the validated graph
// into the arguments of the kernels of runtime/kernels (kernels.h).
#include "kernel_table.h"

#include "interpreter.h"

namespace shrink::rt {
namespace {

namespace k = kernels;
using shr::DType;
using shr::OpCode;
using shr::Storage;

k::Act act_of(shr::Activation a) {
  return a == shr::Activation::ReLU ? k::Act::kRelu : a == shr::Activation::ReLU6 ? k::Act::kRelu6 : k::Act::kNone;
}

k::IndexType index_type(DType t) {
  return t == DType::U8 ? k::IndexType::kU8 : t == DType::U16 ? k::IndexType::kU16 : k::IndexType::kU32;
}

/// The row structure shared by k::CsrMatrix and k::CsrCodebookMatrix.
template <class M>
M rows_of(const TensorDesc& w) {
  M c;
  c.rows = static_cast<int>(w.rows);
  c.cols = static_cast<int>(w.cols);
  c.row_ptr = w.row_ptr;
  c.ptr_type = index_type(w.row_ptr_type);
  return c;
}

k::CsrMatrix csr_of(const TensorDesc& w) {
  k::CsrMatrix c = rows_of<k::CsrMatrix>(w);
  c.col_idx = w.col_idx;
  c.idx_type = index_type(w.col_type);
  c.values = w.values;
  return c;
}

k::CsrCodebookMatrix csr_codebook_of(const TensorDesc& w) {
  k::CsrCodebookMatrix c = rows_of<k::CsrCodebookMatrix>(w);
  c.gaps = w.col_idx;
  c.indices = w.indices;
  c.index_bits = w.index_bits;
  c.centroids = w.values;
  return c;
}

k::Conv2dParams conv_params(const Model& m, const OpDesc& o) {
  const TensorDesc &x = m.tensors[o.input(0)], &y = m.tensors[o.output];
  k::Conv2dParams p;
  p.in_c = x.dims[0], p.in_h = x.dims[1], p.in_w = x.dims[2];
  p.out_c = y.dims[0], p.out_h = y.dims[1], p.out_w = y.dims[2];
  p.kernel_h = o.kernel[0], p.kernel_w = o.kernel[1];
  p.stride_h = o.stride[0], p.stride_w = o.stride[1];
  p.dilation_h = o.dilation[0], p.dilation_w = o.dilation[1];
  p.pad_top = o.pads[0], p.pad_left = o.pads[1], p.pad_bottom = o.pads[2], p.pad_right = o.pads[3];
  p.groups = o.groups;
  p.act = act_of(o.activation);
  return p;
}

k::DenseParams dense_params(const Model& m, const OpDesc& o) {
  k::DenseParams p;
  p.in = m.tensors[o.input(0)].dims[0];
  p.out = m.tensors[o.output].dims[0];
  p.act = act_of(o.activation);
  return p;
}

k::Pool2dParams pool_params(const Model& m, const OpDesc& o) {
  const TensorDesc &x = m.tensors[o.input(0)], &y = m.tensors[o.output];
  k::Pool2dParams p;
  p.c = x.dims[0], p.in_h = x.dims[1], p.in_w = x.dims[2], p.out_h = y.dims[1], p.out_w = y.dims[2];
  p.kernel_h = o.kernel[0], p.kernel_w = o.kernel[1], p.stride_h = o.stride[0], p.stride_w = o.stride[1];
  p.dilation_h = o.dilation[0], p.dilation_w = o.dilation[1];
  p.pad_top = o.pads[0], p.pad_left = o.pads[1], p.pad_bottom = o.pads[2], p.pad_right = o.pads[3];
  p.ceil_mode = o.ceil_mode;
  p.count_include_pad = o.count_include_pad;
  return p;
}

/// y viewed as [outer][dims[axis]][inner].
void split_at_axis(const TensorDesc& y, int axis, int& outer, size_t& inner) {
  for (int d = 0; d < axis; ++d) outer *= y.dims[static_cast<size_t>(d)];
  for (int d = axis + 1; d < y.rank; ++d) inner *= static_cast<size_t>(y.dims[static_cast<size_t>(d)]);
}

/// Fills plan.qin / plan.fin with the op's inputs (sized at prepare: no allocation); returns their count.
int gather_inputs(const OpCall& c) {
  for (uint32_t j = 0; j < c.o.input_count; ++j) {
    const TensorDesc& t = c.m.tensors[c.o.input(j)];
    const uint8_t* p = tensor_ptr(c.plan, c.base, c.o.input(j));
    c.plan.qin[j] = k::QIn{p, t.bits, t.fl};
    c.plan.fin[j] = reinterpret_cast<const float*>(p);
  }
  return static_cast<int>(c.o.input_count);
}

k::QIn qx(const OpCall& c) { return {c.xp, c.x.bits, c.x.fl}; }
k::QOut qy(const OpCall& c) { return {c.yp, c.y.bits, c.y.fl}; }
const float* fx(const OpCall& c) { return reinterpret_cast<const float*>(c.xp); }
float* fy(const OpCall& c) { return reinterpret_cast<float*>(c.yp); }
size_t count(const OpCall& c) { return static_cast<size_t>(c.y.numel); }
const TensorDesc& weight(const OpCall& c) { return c.m.tensors[c.o.weight]; }
const float* bias_f32(const OpCall& c) { return c.o.bias == shr::kNoTensor ? nullptr : c.m.tensors[c.o.bias].values_as<float>(); }
/// Dense weight values: the model's, or the codebook expanded into the arena.
const void* dense_weights(const OpCall& c) {
  const int32_t b = c.plan.weight_buffer[c.i];
  return b < 0 ? static_cast<const void*>(weight(c).values) : c.base + c.plan.buffers[static_cast<size_t>(b)].offset;
}

k::QWeights qweights(const OpCall& c) {
  const TensorDesc& w = weight(c);
  k::QWeights wq;
  wq.bits = w.bits;
  wq.fl = w.channel_fl_count ? w.channel_fl : &c.plan.layer_fl[c.i];
  wq.fl_count = w.channel_fl_count ? w.channel_fl_count : 1;
  wq.bias = c.o.bias == shr::kNoTensor ? nullptr : c.m.tensors[c.o.bias].values_as<int32_t>();
  wq.acc32 = c.o.acc32;
  return wq;
}

// --- adapters: one per KernelId ------------------------------------------------------------

void run_conv2d_f32(const OpCall& c) {
  k::conv2d_f32(conv_params(c.m, c.o), fx(c), static_cast<const float*>(dense_weights(c)), bias_f32(c), fy(c), c.scratch);
}
void run_conv2d_csr_f32(const OpCall& c) {
  k::conv2d_csr_f32(conv_params(c.m, c.o), fx(c), csr_of(weight(c)), bias_f32(c), fy(c), c.scratch);
}
void run_conv2d_q(const OpCall& c) {
  k::conv2d_q(conv_params(c.m, c.o), qx(c), dense_weights(c), qweights(c), qy(c), c.scratch);
}
void run_conv2d_csr_q(const OpCall& c) {
  k::conv2d_csr_q(conv_params(c.m, c.o), qx(c), csr_of(weight(c)), qweights(c), qy(c), c.scratch);
}
void run_conv2d_csr_codebook_q(const OpCall& c) {
  k::conv2d_csr_codebook_q(conv_params(c.m, c.o), qx(c), csr_codebook_of(weight(c)), qweights(c), qy(c), c.scratch);
}
void run_dense_f32(const OpCall& c) {
  k::dense_f32(dense_params(c.m, c.o), fx(c), static_cast<const float*>(dense_weights(c)), bias_f32(c), fy(c));
}
void run_dense_csr_f32(const OpCall& c) {
  k::dense_csr_f32(dense_params(c.m, c.o), fx(c), csr_of(weight(c)), bias_f32(c), fy(c));
}
void run_dense_q(const OpCall& c) {
  k::dense_q(dense_params(c.m, c.o), qx(c), dense_weights(c), qweights(c), qy(c), c.scratch);
}
void run_dense_csr_q(const OpCall& c) {
  k::dense_csr_q(dense_params(c.m, c.o), qx(c), csr_of(weight(c)), qweights(c), qy(c), c.scratch);
}
void run_dense_csr_codebook_q(const OpCall& c) {
  k::dense_csr_codebook_q(dense_params(c.m, c.o), qx(c), csr_codebook_of(weight(c)), qweights(c), qy(c));
}
void run_maxpool_f32(const OpCall& c) { k::maxpool_f32(pool_params(c.m, c.o), fx(c), fy(c)); }
void run_maxpool_q(const OpCall& c) { k::maxpool_q(pool_params(c.m, c.o), qx(c), qy(c)); }
void run_avgpool_f32(const OpCall& c) { k::avgpool_f32(pool_params(c.m, c.o), fx(c), fy(c)); }
void run_avgpool_q(const OpCall& c) { k::avgpool_q(pool_params(c.m, c.o), qx(c), qy(c)); }
void run_global_avgpool_f32(const OpCall& c) {
  k::global_avgpool_f32(1, c.x.dims[0], c.x.dims[1] * c.x.dims[2], fx(c), fy(c));
}
void run_global_avgpool_q(const OpCall& c) { k::global_avgpool_q(1, c.x.dims[0], c.x.dims[1] * c.x.dims[2], qx(c), qy(c)); }
void run_add_f32(const OpCall& c) {
  const int n = gather_inputs(c);
  k::add_f32(c.plan.fin.data(), n, fy(c), count(c), act_of(c.o.activation));
}
void run_add_q(const OpCall& c) {
  const int n = gather_inputs(c);
  k::add_q(c.plan.qin.data(), n, qy(c), count(c), act_of(c.o.activation));
}
/// Concat's geometry: the input count, outer and inner (plan.channels filled).
int concat_geometry(const OpCall& c, int& outer, size_t& inner) {
  const int n = gather_inputs(c);
  split_at_axis(c.y, c.o.axis, outer, inner);
  for (int j = 0; j < n; ++j)
    c.plan.channels[static_cast<size_t>(j)] = c.m.tensors[c.o.input(static_cast<uint32_t>(j))].dims[static_cast<size_t>(c.o.axis)];
  return n;
}
void run_concat_f32(const OpCall& c) {
  int outer = 1;
  size_t inner = 1;
  const int n = concat_geometry(c, outer, inner);
  k::concat_f32(c.plan.fin.data(), c.plan.channels.data(), n, outer, inner, fy(c));
}
void run_concat_q(const OpCall& c) {
  int outer = 1;
  size_t inner = 1;
  const int n = concat_geometry(c, outer, inner);
  k::concat_q(c.plan.qin.data(), c.plan.channels.data(), n, outer, inner, qy(c));
}
void run_activation_f32(const OpCall& c) {
  const OpCode op = c.o.code;
  const k::FloatAct a = op == OpCode::ReLU        ? k::FloatAct::kRelu
                        : op == OpCode::ReLU6     ? k::FloatAct::kRelu6
                        : op == OpCode::LeakyReLU ? k::FloatAct::kLeakyRelu
                        : op == OpCode::Sigmoid   ? k::FloatAct::kSigmoid
                                                  : k::FloatAct::kTanh;
  k::activation_f32(a, fx(c), fy(c), count(c), c.o.alpha);
}
void run_requantize_q(const OpCall& c) { k::requantize_q(qx(c), qy(c), count(c), act_of(c.o.activation)); }
void run_lut_q(const OpCall& c) { k::lut_q(qx(c), c.m.tensors[c.o.lut].values, qy(c), count(c)); }
void run_softmax_f32(const OpCall& c) {
  int outer = 1;
  size_t inner = 1;
  split_at_axis(c.y, c.o.axis, outer, inner);
  k::softmax_f32(fx(c), fy(c), outer, c.y.dims[static_cast<size_t>(c.o.axis)], inner);
}
void run_quantize_f32(const OpCall& c) { k::quantize_f32(fx(c), qy(c), count(c)); }
void run_dequantize_q(const OpCall& c) { k::dequantize_q(qx(c), fy(c), count(c)); }

void expand_codebook(const TensorDesc& w, void* out) {
  const size_t n = static_cast<size_t>(w.numel);
  switch (w.dtype) {
    case DType::I8: k::codebook_expand_s8(w.indices, n, w.index_bits, w.values_as<int8_t>(), static_cast<int8_t*>(out)); break;
    case DType::I16: k::codebook_expand_s16(w.indices, n, w.index_bits, w.values_as<int16_t>(), static_cast<int16_t*>(out)); break;
    default: k::codebook_expand_f32(w.indices, n, w.index_bits, w.values_as<float>(), static_cast<float*>(out)); break;
  }
}

// --- scratch sizes (planning) --------------------------------------------------------------

int x_bits(const Model& m, const OpDesc& o) { return m.tensors[o.input(0)].bits; }
int w_bits(const Model& m, const OpDesc& o) { return m.tensors[o.weight].bits; }

uint64_t scratch_conv2d_f32(const Model& m, const OpDesc& o, const k::FastPaths*) {
  return k::conv2d_f32_scratch_size(conv_params(m, o));
}
uint64_t scratch_conv2d_csr_f32(const Model& m, const OpDesc& o, const k::FastPaths*) {
  return k::conv2d_csr_f32_scratch_size(conv_params(m, o));
}
uint64_t scratch_conv2d_q(const Model& m, const OpDesc& o, const k::FastPaths* f) {
  return k::conv2d_q_scratch_for(f, conv_params(m, o), x_bits(m, o), w_bits(m, o));
}
uint64_t scratch_conv2d_csr_q(const Model& m, const OpDesc& o, const k::FastPaths*) {
  return k::conv2d_csr_q_scratch_size(conv_params(m, o), x_bits(m, o), w_bits(m, o));
}
uint64_t scratch_conv2d_csr_codebook_q(const Model& m, const OpDesc& o, const k::FastPaths*) {
  return k::conv2d_csr_codebook_q_scratch_size(conv_params(m, o));
}
uint64_t scratch_dense_q(const Model& m, const OpDesc& o, const k::FastPaths* f) {
  return k::dense_q_scratch_for(f, dense_params(m, o), x_bits(m, o), w_bits(m, o));
}
uint64_t scratch_dense_csr_q(const Model& m, const OpDesc& o, const k::FastPaths* f) {
  return k::dense_csr_q_scratch_for(f, dense_params(m, o), x_bits(m, o), w_bits(m, o));
}

bool is_conv(const OpDesc& o) { return o.code == OpCode::Conv2d; }

}  // namespace

const char* kernel_name(KernelId id) {
  static const char* const kNames[] = {
      "none", "conv2d_f32", "conv2d_csr_f32", "conv2d_q", "conv2d_csr_q", "conv2d_csr_codebook_q",
      "dense_f32", "dense_csr_f32", "dense_q", "dense_csr_q", "dense_csr_codebook_q", "codebook_expand",
      "maxpool_f32", "maxpool_q", "avgpool_f32", "avgpool_q", "global_avgpool_f32", "global_avgpool_q",
      "add_f32", "add_q", "concat_f32", "concat_q", "activation_f32", "requantize_q", "lut_q",
      "softmax_f32", "quantize_f32", "dequantize_q"};
  static_assert(sizeof kNames / sizeof kNames[0] == static_cast<size_t>(KernelId::kCount), "one name per kernel");
  return static_cast<size_t>(id) < static_cast<size_t>(KernelId::kCount) ? kNames[static_cast<size_t>(id)] : "unknown";
}

KernelId kernel_of(const Model& m, const OpDesc& o) {
  const bool f32 = m.tensors[o.input(0)].is_float();
  auto pick = [f32](KernelId f, KernelId q) { return f32 ? f : q; };
  switch (o.code) {
    case OpCode::Conv2d:
    case OpCode::Linear: {
      const Storage s = m.tensors[o.weight].storage;
      if (s == Storage::CsrCodebook) return is_conv(o) ? KernelId::kConv2dCsrCodebookQ : KernelId::kDenseCsrCodebookQ;
      if (s == Storage::Csr)
        return is_conv(o) ? pick(KernelId::kConv2dCsrF32, KernelId::kConv2dCsrQ) : pick(KernelId::kDenseCsrF32, KernelId::kDenseCsrQ);
      return is_conv(o) ? pick(KernelId::kConv2dF32, KernelId::kConv2dQ) : pick(KernelId::kDenseF32, KernelId::kDenseQ);
    }
    case OpCode::MaxPool: return pick(KernelId::kMaxPoolF32, KernelId::kMaxPoolQ);
    case OpCode::AvgPool: return pick(KernelId::kAvgPoolF32, KernelId::kAvgPoolQ);
    case OpCode::GlobalAvgPool: return pick(KernelId::kGlobalAvgPoolF32, KernelId::kGlobalAvgPoolQ);
    case OpCode::Add: return m.tensors[o.output].is_float() ? KernelId::kAddF32 : KernelId::kAddQ;
    case OpCode::Concat: return m.tensors[o.output].is_float() ? KernelId::kConcatF32 : KernelId::kConcatQ;
    case OpCode::Flatten:
    case OpCode::Reshape: return KernelId::kNone;
    case OpCode::ReLU:
    case OpCode::ReLU6: return pick(KernelId::kActivationF32, KernelId::kRequantizeQ);
    case OpCode::LeakyReLU:
    case OpCode::Sigmoid:
    case OpCode::Tanh: return pick(KernelId::kActivationF32, KernelId::kLutQ);
    case OpCode::Softmax: return KernelId::kSoftmaxF32;
    case OpCode::Quantize: return KernelId::kQuantizeF32;
    case OpCode::Dequantize: return KernelId::kDequantizeQ;
  }
  return KernelId::kNone;
}

KernelSet kernel_set(const shrink_rt_kernel* const* list) {
  KernelSet s;
  for (; list && *list; ++list)
    if (static_cast<size_t>((*list)->id) < static_cast<size_t>(KernelId::kCount)) s.by_id[static_cast<size_t>((*list)->id)] = *list;
  return s;
}

}  // namespace shrink::rt

// The public kernel objects (shrink_rt.h). Names follow KernelId / kernel_name.
extern "C" {

#define SHRINK_RT_DEFINE_KERNEL(name, id, scratch) \
  const shrink_rt_kernel shrink_rt_kernel_##name = {shrink::rt::KernelId::id, shrink::rt::run_##name, scratch, nullptr};

using namespace shrink::rt;  // the adapters above

SHRINK_RT_DEFINE_KERNEL(conv2d_f32, kConv2dF32, scratch_conv2d_f32)
SHRINK_RT_DEFINE_KERNEL(conv2d_csr_f32, kConv2dCsrF32, scratch_conv2d_csr_f32)
SHRINK_RT_DEFINE_KERNEL(conv2d_q, kConv2dQ, scratch_conv2d_q)
SHRINK_RT_DEFINE_KERNEL(conv2d_csr_q, kConv2dCsrQ, scratch_conv2d_csr_q)
SHRINK_RT_DEFINE_KERNEL(conv2d_csr_codebook_q, kConv2dCsrCodebookQ, scratch_conv2d_csr_codebook_q)
SHRINK_RT_DEFINE_KERNEL(dense_f32, kDenseF32, nullptr)
SHRINK_RT_DEFINE_KERNEL(dense_csr_f32, kDenseCsrF32, nullptr)
SHRINK_RT_DEFINE_KERNEL(dense_q, kDenseQ, scratch_dense_q)
SHRINK_RT_DEFINE_KERNEL(dense_csr_q, kDenseCsrQ, scratch_dense_csr_q)
SHRINK_RT_DEFINE_KERNEL(dense_csr_codebook_q, kDenseCsrCodebookQ, nullptr)
SHRINK_RT_DEFINE_KERNEL(maxpool_f32, kMaxPoolF32, nullptr)
SHRINK_RT_DEFINE_KERNEL(maxpool_q, kMaxPoolQ, nullptr)
SHRINK_RT_DEFINE_KERNEL(avgpool_f32, kAvgPoolF32, nullptr)
SHRINK_RT_DEFINE_KERNEL(avgpool_q, kAvgPoolQ, nullptr)
SHRINK_RT_DEFINE_KERNEL(global_avgpool_f32, kGlobalAvgPoolF32, nullptr)
SHRINK_RT_DEFINE_KERNEL(global_avgpool_q, kGlobalAvgPoolQ, nullptr)
SHRINK_RT_DEFINE_KERNEL(add_f32, kAddF32, nullptr)
SHRINK_RT_DEFINE_KERNEL(add_q, kAddQ, nullptr)
SHRINK_RT_DEFINE_KERNEL(concat_f32, kConcatF32, nullptr)
SHRINK_RT_DEFINE_KERNEL(concat_q, kConcatQ, nullptr)
SHRINK_RT_DEFINE_KERNEL(activation_f32, kActivationF32, nullptr)
SHRINK_RT_DEFINE_KERNEL(requantize_q, kRequantizeQ, nullptr)
SHRINK_RT_DEFINE_KERNEL(lut_q, kLutQ, nullptr)
SHRINK_RT_DEFINE_KERNEL(softmax_f32, kSoftmaxF32, nullptr)
SHRINK_RT_DEFINE_KERNEL(quantize_f32, kQuantizeF32, nullptr)
SHRINK_RT_DEFINE_KERNEL(dequantize_q, kDequantizeQ, nullptr)
#undef SHRINK_RT_DEFINE_KERNEL

const shrink_rt_kernel shrink_rt_kernel_codebook_expand = {KernelId::kCodebookExpand, nullptr, nullptr, expand_codebook};

const shrink_rt_kernel* const shrink_rt_kernels_all[] = {
    SHRINK_RT_KERNELS_ALL(SHRINK_RT_KERNEL_REF) nullptr};

}  // extern "C"
