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
using shr::OpCode;
using shr::Storage;

size_t elem_size(const TensorDesc& t) { return shr::dtype_size(t.dtype); }

/// The registered entry of kernel `id` for op i, or a status naming the missing kernel.
Status want_kernel(const KernelSet& ks, KernelId id, size_t i, const OpDesc& o, const shrink_rt_kernel*& out) {
  out = ks.get(id);
  if (out) return {};
  return SHRINK_RT_FAIL(SHRINK_RT_UNSUPPORTED, "op %zu '%s' (%s): kernel %s is not registered (shrink_rt_load_kernels)", i,
                        o.name.data(), shr::op_name(o.code), kernel_name(id));
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

Status prepare_plan(const Model& m, Plan& plan, const KernelSet& kernels, const PlanOptions& opt) noexcept try {
  const bool keep_all = opt.keep_all;
  plan = Plan{};
  plan.keep_all = keep_all;
  plan.kernels = kernels;
  const k::FastPaths* fast = opt.scalar ? nullptr : k::cpu_fast_paths();
  const size_t nt = m.tensors.size(), nops = m.ops.size();
  const int64_t end = static_cast<int64_t>(nops);
  plan.tensor_buffer.assign(nt, -1);
  plan.scratch_buffer.assign(nops, -1);
  plan.weight_buffer.assign(nops, -1);
  plan.layer_fl.assign(nops, 0);
  plan.op_us.assign(nops, 0.0);
  plan.op_kernel.assign(nops, nullptr);
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
      return SHRINK_RT_FAIL(SHRINK_RT_UNSUPPORTED, "op %zu '%s': the bias is stored %s; the runtime takes dense biases", i,
                            o.name.data(), shr::storage_name(m.tensors[o.bias].storage));
    if (o.lut != shr::kNoTensor && m.tensors[o.lut].storage != Storage::Dense)
      return SHRINK_RT_FAIL(SHRINK_RT_UNSUPPORTED, "op %zu '%s': the lookup table is not dense", i, o.name.data());
    const KernelId id = kernel_of(m, o);
    if (id == KernelId::kNone) continue;
    const shrink_rt_kernel* kern = nullptr;
    SHRINK_RT_TRY(want_kernel(kernels, id, i, o, kern));
    plan.op_kernel[i] = kern;
    if (o.code == OpCode::Conv2d || o.code == OpCode::Linear) {
      const TensorDesc& w = m.tensors[o.weight];
      if (w.channel_fl_count == 0) plan.layer_fl[i] = static_cast<int8_t>(w.fl);
      // Codebook weights: expanded once into a region that lives for the whole run.
      if (w.storage == Storage::Codebook) {
        const shrink_rt_kernel* expand = nullptr;
        SHRINK_RT_TRY(want_kernel(kernels, KernelId::kCodebookExpand, i, o, expand));
        plan.weight_buffer[i] = add(static_cast<uint64_t>(w.numel) * elem_size(w), -1, end);
      }
    }
    const uint64_t s = kern->scratch ? kern->scratch(m, o, fast) : 0;
    if (s) plan.scratch_buffer[i] = add(s, at, at);
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
    return SHRINK_RT_FAIL(SHRINK_RT_OUT_OF_MEMORY, "the arena of %llu bytes exceeds the runtime's limit of %llu bytes",
                          static_cast<unsigned long long>(plan.size), static_cast<unsigned long long>(kMaxArenaBytes));
  return {};
} catch (const std::bad_alloc&) {
  return SHRINK_RT_FAIL(SHRINK_RT_OUT_OF_MEMORY, "cannot allocate the arena plan");
}

uint8_t* tensor_ptr(const Plan& plan, uint8_t* base, uint32_t id) {
  const int32_t b = plan.tensor_buffer[id];
  return b < 0 ? nullptr : base + plan.buffers[static_cast<size_t>(b)].offset;
}

namespace {

/// Executes op i through its registered kernel. `base` is the 64-aligned arena.
void run_op(const Model& m, Plan& plan, uint8_t* base, size_t i) {
  const shrink_rt_kernel* kern = plan.op_kernel[i];
  if (!kern) return;  // a view of the input's bytes (Flatten, Reshape)
  const OpDesc& o = m.ops[i];
  const int32_t sb = plan.scratch_buffer[i];
  const OpCall c{m,     plan, base, i, o, m.tensors[o.input(0)], m.tensors[o.output], tensor_ptr(plan, base, o.input(0)),
                 tensor_ptr(plan, base, o.output), sb < 0 ? nullptr : base + plan.buffers[static_cast<size_t>(sb)].offset};
  kern->run(c);
}

/// Expands every codebook weight into its arena region.
void expand_codebooks(const Model& m, const Plan& plan, uint8_t* base) {
  for (size_t i = 0; i < m.ops.size(); ++i) {
    if (plan.weight_buffer[i] < 0) continue;
    void* out = base + plan.buffers[static_cast<size_t>(plan.weight_buffer[i])].offset;
    plan.kernels.get(KernelId::kCodebookExpand)->expand(m.tensors[m.ops[i].weight], out);
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
