// C API: arena size, inputs, run, outputs, profile (shrink_rt.h). Nothing here throws, aborts or
// allocates except shrink_rt_keep_all_tensors (a re-plan at setup time).
#include <cmath>
#include <new>

#include "check.h"
#include "interpreter.h"

namespace {

using shrink::rt::Plan;
using shrink::rt::TensorDesc;
namespace k = shrink::rt::kernels;

bool ready(const shrink_rt_model* m) { return m && m->plan; }

bool arena_ok(const shrink_rt_model* m, const void* arena, size_t arena_size) {
  return arena && arena_size >= m->plan->arena_bytes();
}

uint8_t* base_of(const void* arena) { return shrink::rt::arena_base(const_cast<void*>(arena)); }

shrink_rt_status format_of(const TensorDesc& t, shrink_rt_dtype* dtype, int* bits, int* fl) {
  if (dtype) *dtype = static_cast<shrink_rt_dtype>(t.dtype);
  if (bits) *bits = t.bits;
  if (fl) *fl = t.fl;
  return SHRINK_RT_OK;
}

}  // namespace

extern "C" {

size_t shrink_rt_arena_size(const shrink_rt_model* m) { return ready(m) ? m->plan->arena_bytes() : 0; }

int shrink_rt_model_kernels(const shrink_rt_model* m, const char** names, int max) {
  if (!ready(m)) return -1;
  using shrink::rt::KernelId;
  bool used[static_cast<size_t>(KernelId::kCount)] = {};
  for (size_t i = 0; i < m->model.ops.size(); ++i) {
    if (const shrink_rt_kernel* k = m->plan->op_kernel[i]) used[static_cast<size_t>(k->id)] = true;
    if (m->plan->weight_buffer[i] >= 0) used[static_cast<size_t>(KernelId::kCodebookExpand)] = true;
  }
  int n = 0;
  for (size_t id = 0; id < static_cast<size_t>(KernelId::kCount); ++id) {
    if (!used[id]) continue;
    if (names && n < max) names[n] = shrink::rt::kernel_name(static_cast<KernelId>(id));
    ++n;
  }
  return n;
}

size_t shrink_rt_arena_size_scalar(const shrink_rt_model* m) {
  if (!ready(m)) return 0;
  Plan scalar;
  const shrink::rt::PlanOptions opt{.keep_all = m->plan->keep_all, .scalar = true};
  return shrink::rt::prepare_plan(m->model, scalar, m->plan->kernels, opt).ok() ? scalar.arena_bytes() : 0;
}

shrink_rt_status shrink_rt_input_format(const shrink_rt_model* m, int i, shrink_rt_dtype* dtype, int* bits, int* fl) {
  if (!ready(m) || i < 0 || static_cast<size_t>(i) >= m->model.inputs.size()) return SHRINK_RT_INVALID_ARGUMENT;
  const int32_t q = m->plan->quantize_op[static_cast<size_t>(i)];
  if (q < 0) return SHRINK_RT_UNSUPPORTED;
  return format_of(m->model.tensors[m->model.ops[static_cast<size_t>(q)].output], dtype, bits, fl);
}

shrink_rt_status shrink_rt_output_format(const shrink_rt_model* m, int i, shrink_rt_dtype* dtype, int* bits, int* fl) {
  if (!ready(m) || i < 0 || static_cast<size_t>(i) >= m->model.outputs.size()) return SHRINK_RT_INVALID_ARGUMENT;
  const TensorDesc& t = m->model.tensors[m->plan->output_q[static_cast<size_t>(i)]];
  if (t.is_float()) return SHRINK_RT_UNSUPPORTED;
  return format_of(t, dtype, bits, fl);
}

shrink_rt_status shrink_rt_set_input_f32(shrink_rt_model* m, void* arena, size_t arena_size, int i, const float* x,
                                         size_t n) {
  if (!ready(m) || !x || !arena_ok(m, arena, arena_size) || i < 0 || static_cast<size_t>(i) >= m->model.inputs.size())
    return SHRINK_RT_INVALID_ARGUMENT;
  const uint32_t id = m->model.inputs[static_cast<size_t>(i)];
  const TensorDesc& t = m->model.tensors[id];
  if (!t.is_float()) return SHRINK_RT_UNSUPPORTED;
  if (n != static_cast<size_t>(t.numel)) return SHRINK_RT_INVALID_ARGUMENT;
  float* dst = reinterpret_cast<float*>(shrink::rt::tensor_ptr(*m->plan, base_of(arena), id));
  // Normalization of input 0, x' = (x - mean[c]) / std[c] in float32, channel = dims[0].
  const auto& mean = m->model.mean;
  const auto& sd = m->model.std;
  const size_t channels = static_cast<size_t>(t.dims[0]);
  const size_t inner = n / (channels ? channels : 1);
  for (size_t j = 0; j < n; ++j) {
    const size_t c = inner ? j / inner : 0;
    float v = x[j];
    if (i == 0 && !mean.empty()) v = v - mean[mean.size() == 1 ? 0 : c];
    if (i == 0 && !sd.empty()) v = v / sd[sd.size() == 1 ? 0 : c];
    dst[j] = v;
  }
  m->plan->input_is_q[static_cast<size_t>(i)] = 0;
  return SHRINK_RT_OK;
}

shrink_rt_status shrink_rt_set_input_q(shrink_rt_model* m, void* arena, size_t arena_size, int i, const void* q,
                                       size_t n) {
  if (!ready(m) || !q || !arena_ok(m, arena, arena_size) || i < 0 || static_cast<size_t>(i) >= m->model.inputs.size())
    return SHRINK_RT_INVALID_ARGUMENT;
  const int32_t op = m->plan->quantize_op[static_cast<size_t>(i)];
  if (op < 0) return SHRINK_RT_UNSUPPORTED;
  const uint32_t id = m->model.ops[static_cast<size_t>(op)].output;
  const TensorDesc& t = m->model.tensors[id];
  if (n != static_cast<size_t>(t.numel)) return SHRINK_RT_INVALID_ARGUMENT;
  // Values outside B bits are saturated, as the kernels expect B-bit integers.
  const k::QIn in{q, k::storage_is_s16(t.bits) ? 16 : 8, 0};
  const k::QOut out{shrink::rt::tensor_ptr(*m->plan, base_of(arena), id), t.bits, 0};
  k::requantize_q(in, out, n);
  m->plan->input_is_q[static_cast<size_t>(i)] = 1;
  return SHRINK_RT_OK;
}

shrink_rt_status shrink_rt_run(shrink_rt_model* m, void* arena, size_t arena_size) {
  if (!ready(m) || !arena_ok(m, arena, arena_size)) return SHRINK_RT_INVALID_ARGUMENT;
  shrink::rt::run_plan(m->model, *m->plan, arena);
  return SHRINK_RT_OK;
}

shrink_rt_status shrink_rt_get_output_f32(const shrink_rt_model* m, const void* arena, int i, float* y, size_t n) {
  if (!ready(m) || !arena || !y || i < 0 || static_cast<size_t>(i) >= m->model.outputs.size())
    return SHRINK_RT_INVALID_ARGUMENT;
  const uint32_t id = m->model.outputs[static_cast<size_t>(i)];
  const TensorDesc& t = m->model.tensors[id];
  if (n != static_cast<size_t>(t.numel)) return SHRINK_RT_INVALID_ARGUMENT;
  const uint8_t* p = shrink::rt::tensor_ptr(*m->plan, base_of(arena), id);
  if (t.is_float()) std::memcpy(y, p, n * sizeof(float));
  else k::dequantize_q(k::QIn{p, t.bits, t.fl}, y, n);
  return SHRINK_RT_OK;
}

shrink_rt_status shrink_rt_get_output_q(const shrink_rt_model* m, const void* arena, int i, void* q, size_t n) {
  if (!ready(m) || !arena || !q || i < 0 || static_cast<size_t>(i) >= m->model.outputs.size())
    return SHRINK_RT_INVALID_ARGUMENT;
  const uint32_t id = m->plan->output_q[static_cast<size_t>(i)];
  const TensorDesc& t = m->model.tensors[id];
  if (t.is_float()) return SHRINK_RT_UNSUPPORTED;
  if (n != static_cast<size_t>(t.numel)) return SHRINK_RT_INVALID_ARGUMENT;
  std::memcpy(q, shrink::rt::tensor_ptr(*m->plan, base_of(arena), id), n * shrink::shr::dtype_size(t.dtype));
  return SHRINK_RT_OK;
}

shrink_rt_status shrink_rt_set_profiling(shrink_rt_model* m, int enable) {
  if (!ready(m)) return SHRINK_RT_INVALID_ARGUMENT;
  m->plan->profile = enable != 0;
  return SHRINK_RT_OK;
}

shrink_rt_status shrink_rt_profile(const shrink_rt_model* m, int op, double* microseconds) {
  if (!ready(m) || !microseconds || op < 0 || static_cast<size_t>(op) >= m->model.ops.size())
    return SHRINK_RT_INVALID_ARGUMENT;
  *microseconds = m->plan->op_us[static_cast<size_t>(op)];
  return SHRINK_RT_OK;
}

shrink_rt_status shrink_rt_keep_all_tensors(shrink_rt_model* m) {
  if (!ready(m)) return SHRINK_RT_INVALID_ARGUMENT;
  const shrink::rt::KernelSet kernels = m->plan->kernels;
  return shrink::rt::prepare_plan(m->model, *m->plan, kernels, {.keep_all = true}).code;
}

const void* shrink_rt_tensor_data(const shrink_rt_model* m, const void* arena, int id) {
  if (!ready(m) || !arena || id < 0 || static_cast<size_t>(id) >= m->model.tensors.size()) return nullptr;
  const TensorDesc& t = m->model.tensors[static_cast<size_t>(id)];
  if (t.constant) return t.storage == shrink::shr::Storage::Dense ? t.values : nullptr;
  return shrink::rt::tensor_ptr(*m->plan, base_of(arena), static_cast<uint32_t>(id));
}

}  // extern "C"
