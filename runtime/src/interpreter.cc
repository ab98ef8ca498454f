// Arena planning and execution of a loaded .shr model (interpreter.h). The graph was validated
// by the loader, so nothing here re-checks shapes or formats; the run path allocates nothing.
#include "interpreter.h"

#include <algorithm>
#include <chrono>
#include <new>

#include "check.h"

namespace shrink::rt {
namespace {

namespace k = kernels;
using shr::DType;
using shr::OpCode;
using shr::Storage;

size_t elem_size(const TensorDesc& t) { return shr::dtype_size(t.dtype); }

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

/// Scratch bytes of a Conv2d / Linear op.
uint64_t weighted_scratch(const Model& m, const OpDesc& o) {
  const TensorDesc &x = m.tensors[o.input(0)], &w = m.tensors[o.weight];
  const bool csr = w.storage == Storage::Csr;
  if (w.storage == Storage::CsrCodebook)  // integer only (the loader's rule for codebooks)
    return o.code == OpCode::Conv2d ? k::conv2d_csr_codebook_q_scratch_size(conv_params(m, o)) : 0;
  if (o.code == OpCode::Conv2d) {
    const k::Conv2dParams p = conv_params(m, o);
    if (x.is_float()) return csr ? k::conv2d_csr_f32_scratch_size(p) : k::conv2d_f32_scratch_size(p);
    return csr ? k::conv2d_csr_q_scratch_size(p, x.bits, w.bits) : k::conv2d_q_scratch_size(p, x.bits, w.bits);
  }
  if (x.is_float()) return 0;
  const k::DenseParams p = dense_params(m, o);
  return csr ? k::dense_csr_q_scratch_size(p, x.bits, w.bits) : k::dense_q_scratch_size(p, x.bits, w.bits);
}

bool is_view(OpCode c) { return c == OpCode::Flatten || c == OpCode::Reshape; }

}  // namespace

uint64_t plan_arena(std::vector<Buffer>& buffers) {
  std::vector<size_t> order(buffers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return buffers[a].size > buffers[b].size; });
  std::vector<size_t> placed;  // sorted by offset
  uint64_t total = 0;
  for (size_t i : order) {
    Buffer& b = buffers[i];
    uint64_t at = 0;
    for (size_t j : placed) {
      const Buffer& p = buffers[j];
      if (p.last < b.first || b.last < p.first) continue;  // never live together
      if (p.offset >= at + b.size) break;                  // the gap before p fits
      at = std::max(at, shr::align_up(p.offset + p.size, kArenaAlign));
    }
    b.offset = at;
    total = std::max(total, shr::align_up(at + b.size, kArenaAlign));
    placed.insert(std::upper_bound(placed.begin(), placed.end(), i,
                                   [&](size_t a, size_t c) { return buffers[a].offset < buffers[c].offset; }),
                  i);
  }
  return total;
}

Status prepare_plan(const Model& m, Plan& plan, bool keep_all) noexcept try {
  plan = Plan{};
  plan.keep_all = keep_all;
  const size_t nt = m.tensors.size(), nops = m.ops.size();
  const int64_t end = static_cast<int64_t>(nops);
  plan.tensor_buffer.assign(nt, -1);
  plan.scratch_buffer.assign(nops, -1);
  plan.weight_buffer.assign(nops, -1);
  plan.layer_fl.assign(nops, 0);
  plan.op_us.assign(nops, 0.0);
  auto add = [&](uint64_t size, int64_t first, int64_t last) {
    Buffer b;
    b.size = std::max<uint64_t>(size, 1);
    b.first = keep_all ? -1 : first;
    b.last = keep_all ? end : last;
    plan.buffers.push_back(b);
    return static_cast<int32_t>(plan.buffers.size() - 1);
  };
  auto use = [&](uint32_t id, int64_t at) {
    Buffer& b = plan.buffers[static_cast<size_t>(plan.tensor_buffer[id])];
    b.last = std::max(b.last, at);
  };
  for (uint32_t id : m.inputs) {
    const TensorDesc& t = m.tensors[id];
    plan.tensor_buffer[id] = add(static_cast<uint64_t>(t.numel) * elem_size(t), -1, -1);
  }
  size_t max_inputs = 1;
  for (size_t i = 0; i < nops; ++i) {
    const OpDesc& o = m.ops[i];
    const int64_t at = static_cast<int64_t>(i);
    max_inputs = std::max<size_t>(max_inputs, o.input_count);
    for (uint32_t j = 0; j < o.input_count; ++j) use(o.input(j), at);
    const TensorDesc& y = m.tensors[o.output];
    if (is_view(o.code)) {
      plan.tensor_buffer[o.output] = plan.tensor_buffer[o.input(0)];  // same bytes, another shape
    } else {
      plan.tensor_buffer[o.output] = add(static_cast<uint64_t>(y.numel) * elem_size(y), at, at);
    }
    if (o.bias != shr::kNoTensor && m.tensors[o.bias].storage != Storage::Dense)
      return fail(SHRINK_RT_UNSUPPORTED, "op %zu '%s': the bias is stored %s; the runtime takes dense biases", i,
                  o.name.data(), shr::storage_name(m.tensors[o.bias].storage));
    if (o.lut != shr::kNoTensor && m.tensors[o.lut].storage != Storage::Dense)
      return fail(SHRINK_RT_UNSUPPORTED, "op %zu '%s': the lookup table is not dense", i, o.name.data());
    if (o.code == OpCode::Conv2d || o.code == OpCode::Linear) {
      const TensorDesc& w = m.tensors[o.weight];
      if (w.channel_fl_count == 0) plan.layer_fl[i] = static_cast<int8_t>(w.fl);
      // Codebook weights: expanded once into a region that lives for the whole run.
      if (w.storage == Storage::Codebook) {
        plan.weight_buffer[i] = add(static_cast<uint64_t>(w.numel) * elem_size(w), -1, end);
        plan.buffers[static_cast<size_t>(plan.weight_buffer[i])].first = -1;
        plan.buffers[static_cast<size_t>(plan.weight_buffer[i])].last = end;
      }
      const uint64_t s = weighted_scratch(m, o);
      if (s) plan.scratch_buffer[i] = add(s, at, at);
    }
  }
  // Graph outputs (and the integer tensors they come from) are read after the run.
  plan.output_q.assign(m.outputs.size(), 0);
  std::vector<int64_t> producer(nt, -1);
  for (size_t i = 0; i < nops; ++i) producer[m.ops[i].output] = static_cast<int64_t>(i);
  for (size_t i = 0; i < m.outputs.size(); ++i) {
    uint32_t id = m.outputs[i];
    use(id, end);
    // Walk back through single-input float ops to the last integer tensor.
    uint32_t q = id;
    while (m.tensors[q].is_float() && producer[q] >= 0) {
      const OpDesc& o = m.ops[static_cast<size_t>(producer[q])];
      if (o.input_count != 1 || o.code == OpCode::Quantize) break;
      q = o.input(0);
    }
    plan.output_q[i] = q;
    use(q, end);
  }
  plan.quantize_op.assign(m.inputs.size(), -1);
  plan.input_is_q.assign(m.inputs.size(), 0);
  for (size_t i = 0; i < m.inputs.size(); ++i)
    for (size_t j = 0; j < nops; ++j)
      if (m.ops[j].code == OpCode::Quantize && m.ops[j].input(0) == m.inputs[i]) {
        plan.quantize_op[i] = static_cast<int32_t>(j);
        // The quantized input may be written before the run: live from the start.
        plan.buffers[static_cast<size_t>(plan.tensor_buffer[m.ops[j].output])].first = -1;
        break;
      }
  plan.qin.assign(max_inputs, k::QIn{});
  plan.fin.assign(max_inputs, nullptr);
  plan.channels.assign(max_inputs, 0);
  plan.size = plan_arena(plan.buffers);
  // Refused, not attempted: a hostile model may ask for any size (issue 9). The plan stays
  // consistent (its true size), so an arena the caller sizes anyway is still checked.
  if (plan.size > kMaxArenaBytes)
    return fail(SHRINK_RT_OUT_OF_MEMORY, "the arena of %llu bytes exceeds the runtime's limit of %llu bytes",
                static_cast<unsigned long long>(plan.size), static_cast<unsigned long long>(kMaxArenaBytes));
  return {};
} catch (const std::bad_alloc&) {
  return fail(SHRINK_RT_OUT_OF_MEMORY, "cannot allocate the arena plan");
}

uint8_t* tensor_ptr(const Plan& plan, uint8_t* base, uint32_t id) {
  const int32_t b = plan.tensor_buffer[id];
  return b < 0 ? nullptr : base + plan.buffers[static_cast<size_t>(b)].offset;
}

namespace {

/// y viewed as [outer][dims[axis]][inner].
void split_at_axis(const TensorDesc& y, int axis, int& outer, size_t& inner) {
  for (int d = 0; d < axis; ++d) outer *= y.dims[static_cast<size_t>(d)];
  for (int d = axis + 1; d < y.rank; ++d) inner *= static_cast<size_t>(y.dims[static_cast<size_t>(d)]);
}

/// Fills plan.qin / plan.fin with the op's inputs (sized at prepare: no allocation); returns their count.
int gather_inputs(const Model& m, Plan& plan, uint8_t* base, const OpDesc& o) {
  for (uint32_t j = 0; j < o.input_count; ++j) {
    const TensorDesc& t = m.tensors[o.input(j)];
    const uint8_t* p = tensor_ptr(plan, base, o.input(j));
    plan.qin[j] = k::QIn{p, t.bits, t.fl};
    plan.fin[j] = reinterpret_cast<const float*>(p);
  }
  return static_cast<int>(o.input_count);
}

/// Executes op i. `base` is the 64-aligned arena.
void run_op(const Model& m, Plan& plan, uint8_t* base, size_t i) {
  const OpDesc& o = m.ops[i];
  const TensorDesc& y = m.tensors[o.output];
  uint8_t* yp = tensor_ptr(plan, base, o.output);
  const TensorDesc& x = m.tensors[o.input(0)];
  const uint8_t* xp = tensor_ptr(plan, base, o.input(0));
  const size_t count = static_cast<size_t>(y.numel);
  const k::QIn qx{xp, x.bits, x.fl};
  const k::QOut qy{yp, y.bits, y.fl};
  void* scratch = plan.scratch_buffer[i] < 0 ? nullptr : base + plan.buffers[static_cast<size_t>(plan.scratch_buffer[i])].offset;
  const float* fx = reinterpret_cast<const float*>(xp);
  float* fy = reinterpret_cast<float*>(yp);
  switch (o.code) {
    case OpCode::Conv2d:
    case OpCode::Linear: {
      const TensorDesc& w = m.tensors[o.weight];
      const TensorDesc* b = o.bias == shr::kNoTensor ? nullptr : &m.tensors[o.bias];
      const bool conv = o.code == OpCode::Conv2d, csr = w.storage == Storage::Csr;
      const void* wv = plan.weight_buffer[i] < 0 ? static_cast<const void*>(w.values)
                                                 : base + plan.buffers[static_cast<size_t>(plan.weight_buffer[i])].offset;
      if (x.is_float()) {
        const float* bias = b ? b->values_as<float>() : nullptr;
        const float* wf = static_cast<const float*>(wv);
        if (conv) {
          const k::Conv2dParams p = conv_params(m, o);
          if (csr) k::conv2d_csr_f32(p, fx, csr_of(w), bias, fy, scratch);
          else k::conv2d_f32(p, fx, wf, bias, fy, scratch);
        } else {
          const k::DenseParams p = dense_params(m, o);
          if (csr) k::dense_csr_f32(p, fx, csr_of(w), bias, fy);
          else k::dense_f32(p, fx, wf, bias, fy);
        }
        return;
      }
      k::QWeights wq;
      wq.bits = w.bits;
      wq.fl = w.channel_fl_count ? w.channel_fl : &plan.layer_fl[i];
      wq.fl_count = w.channel_fl_count ? w.channel_fl_count : 1;
      wq.bias = b ? b->values_as<int32_t>() : nullptr;
      wq.acc32 = o.acc32;
      const bool csr_cb = w.storage == Storage::CsrCodebook;
      if (conv) {
        const k::Conv2dParams p = conv_params(m, o);
        if (csr) k::conv2d_csr_q(p, qx, csr_of(w), wq, qy, scratch);
        else if (csr_cb) k::conv2d_csr_codebook_q(p, qx, csr_codebook_of(w), wq, qy, scratch);
        else k::conv2d_q(p, qx, wv, wq, qy, scratch);
      } else {
        const k::DenseParams p = dense_params(m, o);
        if (csr) k::dense_csr_q(p, qx, csr_of(w), wq, qy, scratch);
        else if (csr_cb) k::dense_csr_codebook_q(p, qx, csr_codebook_of(w), wq, qy);
        else k::dense_q(p, qx, wv, wq, qy, scratch);
      }
      return;
    }
    case OpCode::MaxPool:
      if (x.is_float()) k::maxpool_f32(pool_params(m, o), fx, fy);
      else k::maxpool_q(pool_params(m, o), qx, qy);
      return;
    case OpCode::AvgPool:
      if (x.is_float()) k::avgpool_f32(pool_params(m, o), fx, fy);
      else k::avgpool_q(pool_params(m, o), qx, qy);
      return;
    case OpCode::GlobalAvgPool:
      if (x.is_float()) k::global_avgpool_f32(1, x.dims[0], x.dims[1] * x.dims[2], fx, fy);
      else k::global_avgpool_q(1, x.dims[0], x.dims[1] * x.dims[2], qx, qy);
      return;
    case OpCode::Add: {
      const int n = gather_inputs(m, plan, base, o);
      if (y.is_float()) k::add_f32(plan.fin.data(), n, fy, count, act_of(o.activation));
      else k::add_q(plan.qin.data(), n, qy, count, act_of(o.activation));
      return;
    }
    case OpCode::Concat: {
      const int n = gather_inputs(m, plan, base, o);
      int outer = 1;
      size_t inner = 1;
      split_at_axis(y, o.axis, outer, inner);
      for (int j = 0; j < n; ++j)
        plan.channels[static_cast<size_t>(j)] = m.tensors[o.input(static_cast<uint32_t>(j))].dims[static_cast<size_t>(o.axis)];
      if (y.is_float()) k::concat_f32(plan.fin.data(), plan.channels.data(), n, outer, inner, fy);
      else k::concat_q(plan.qin.data(), plan.channels.data(), n, outer, inner, qy);
      return;
    }
    case OpCode::Flatten:
    case OpCode::Reshape: return;  // a view of the input's bytes
    case OpCode::ReLU:
    case OpCode::ReLU6:
      if (x.is_float())
        k::activation_f32(o.code == OpCode::ReLU ? k::FloatAct::kRelu : k::FloatAct::kRelu6, fx, fy, count);
      else k::requantize_q(qx, qy, count, act_of(o.activation));
      return;
    case OpCode::LeakyReLU:
    case OpCode::Sigmoid:
    case OpCode::Tanh:
      if (x.is_float()) {
        const k::FloatAct a = o.code == OpCode::LeakyReLU ? k::FloatAct::kLeakyRelu
                              : o.code == OpCode::Sigmoid ? k::FloatAct::kSigmoid
                                                          : k::FloatAct::kTanh;
        k::activation_f32(a, fx, fy, count, o.alpha);
      } else {
        k::lut_q(qx, m.tensors[o.lut].values, qy, count);
      }
      return;
    case OpCode::Softmax: {
      int outer = 1;
      size_t inner = 1;
      split_at_axis(y, o.axis, outer, inner);
      k::softmax_f32(fx, fy, outer, y.dims[static_cast<size_t>(o.axis)], inner);
      return;
    }
    case OpCode::Quantize: k::quantize_f32(fx, qy, count); return;
    case OpCode::Dequantize: k::dequantize_q(qx, fy, count); return;
  }
}

/// Expands every codebook weight into its arena region.
void expand_codebooks(const Model& m, const Plan& plan, uint8_t* base) {
  for (size_t i = 0; i < m.ops.size(); ++i) {
    if (plan.weight_buffer[i] < 0) continue;
    const TensorDesc& w = m.tensors[m.ops[i].weight];
    void* out = base + plan.buffers[static_cast<size_t>(plan.weight_buffer[i])].offset;
    const size_t n = static_cast<size_t>(w.numel);
    switch (w.dtype) {
      case DType::I8: k::codebook_expand_s8(w.indices, n, w.index_bits, w.values_as<int8_t>(), static_cast<int8_t*>(out)); break;
      case DType::I16: k::codebook_expand_s16(w.indices, n, w.index_bits, w.values_as<int16_t>(), static_cast<int16_t*>(out)); break;
      default: k::codebook_expand_f32(w.indices, n, w.index_bits, w.values_as<float>(), static_cast<float*>(out)); break;
    }
  }
}

}  // namespace

void run_plan(const Model& m, Plan& plan, void* arena) noexcept {
  uint8_t* base = arena_base(arena);
  if (plan.expanded_for != base) {
    expand_codebooks(m, plan, base);
    plan.expanded_for = base;
  }
  using Clock = std::chrono::steady_clock;
  for (size_t i = 0; i < m.ops.size(); ++i) {
    bool skip = false;
    for (size_t j = 0; j < plan.quantize_op.size(); ++j)
      if (plan.input_is_q[j] && plan.quantize_op[j] == static_cast<int32_t>(i)) skip = true;
    if (skip) {
      if (plan.profile) plan.op_us[i] = 0.0;
      continue;
    }
    if (!plan.profile) {
      run_op(m, plan, base, i);
      continue;
    }
    const Clock::time_point t0 = Clock::now();
    run_op(m, plan, base, i);
    plan.op_us[i] = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  }
}

}  // namespace shrink::rt
