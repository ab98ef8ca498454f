// The interpreter: an arena plan made once per model (prepare_plan, called by shrink_rt_load) and
// a run over the op list that performs no allocation (run_plan). docs/runtime.md describes the
// plan; the C API (shrink_rt.h) wraps it.
//
//   shrink::rt::Plan plan;
//   const shrink::rt::KernelSet ks = shrink::rt::kernel_set(shrink_rt_kernels_all);
//   Status s = shrink::rt::prepare_plan(model, plan, ks);      // kernels, offsets, scratch, codebooks
//   std::vector<uint8_t> arena(plan.arena_bytes());             // + 63 bytes for alignment
//   shrink::rt::set_input_f32(model, plan, arena.data(), 0, x);  // normalizes, keeps float
//   s = shrink::rt::run_plan(model, plan, arena.data());
#pragma once
#include <cstdint>
#include <vector>

#include "kernel_table.h"
#include "kernels/kernels.h"
#include "model.h"

namespace shrink::rt {

inline constexpr uint64_t kNoOffset = ~uint64_t{0};
inline constexpr uint64_t kArenaAlign = 64;
/// Largest arena prepare_plan accepts: 4 GiB on 64-bit hosts (a third of the address space on
/// 32-bit ones); build with -DSHRINK_RT_MAX_ARENA_BYTES=N for another limit.
#ifdef SHRINK_RT_MAX_ARENA_BYTES
inline constexpr uint64_t kMaxArenaBytes = SHRINK_RT_MAX_ARENA_BYTES;
#else
inline constexpr uint64_t kMaxArenaBytes = SIZE_MAX > 0xFFFFFFFFu ? uint64_t{1} << 32 : SIZE_MAX / 3;
#endif

/// A buffer of the arena with the ops during which it must hold its value: [first, last]
/// (op indices; -1 = before op 0, i.e. set by the caller; ops.size() = read after the run).
struct Buffer {
  uint64_t size = 0;
  int64_t first = 0, last = 0;
  uint64_t offset = kNoOffset;
};

/// Greedy first-fit by size (largest first): each buffer goes to the lowest 64-aligned offset
/// where it overlaps no placed buffer that is live at the same time. Returns the arena size.
uint64_t plan_arena(std::vector<Buffer>& buffers);

struct Plan {
  std::vector<Buffer> buffers;          ///< activations (one per root tensor), scratch, codebooks
  std::vector<int32_t> tensor_buffer;   ///< per tensor: index into buffers, -1 for constants
  std::vector<int32_t> scratch_buffer;  ///< per op, -1 when none
  std::vector<int32_t> weight_buffer;   ///< per op: expanded codebook weight, -1 when none
  std::vector<int8_t> layer_fl;         ///< per op: the weight FL when it is one per layer
  uint64_t size = 0;                    ///< bytes from the 64-aligned arena base
  bool keep_all = false;                ///< every tensor kept to the end (dumps)
  KernelSet kernels;                    ///< the registered kernels (shrink_rt_load_kernels)
  std::vector<const shrink_rt_kernel*> op_kernel;  ///< per op: its kernel, nullptr for views

  // Per graph input: the Quantize op that consumes it (-1: none) and whether the caller gave
  // the quantized integers directly (that op is skipped).
  std::vector<int32_t> quantize_op;
  std::vector<uint8_t> input_is_q;
  // Per graph output: the last integer tensor it is computed from (or the output itself).
  std::vector<uint32_t> output_q;

  // Run-time scratch of the C++ side, sized at prepare (never grown while running).
  std::vector<kernels::QIn> qin;
  std::vector<const float*> fin;
  std::vector<int> channels;

  bool profile = false;
  std::vector<double> op_us;            ///< per op: microseconds of the last run (profile on)
  const uint8_t* expanded_for = nullptr;  ///< arena base the codebooks were expanded into

  size_t arena_bytes() const { return static_cast<size_t>(size + kArenaAlign - 1); }
};

struct PlanOptions {
  bool keep_all = false;  ///< no buffer is reused (every tensor can be read after the run)
  /// Scratch sized for the scalar kernels (a target without fast paths) instead of this CPU's.
  /// Such a plan is for its size only (shrink_rt_arena_size_scalar): never run it here.
  bool scalar = false;
};

/// Plans the arena of a validated model and picks each op's kernel from `kernels`. Fails with
/// SHRINK_RT_UNSUPPORTED for an op whose kernel is not registered and for storage the kernels
/// do not take (e.g. a sparse bias). Allocates (at load time only).
Status prepare_plan(const Model& m, Plan& plan, const KernelSet& kernels, const PlanOptions& opt = {}) noexcept;

/// The 64-aligned base of a caller's arena.
inline uint8_t* arena_base(void* arena) {
  const uintptr_t p = reinterpret_cast<uintptr_t>(arena);
  return reinterpret_cast<uint8_t*>((p + kArenaAlign - 1) & ~uintptr_t{kArenaAlign - 1});
}
/// Where tensor `id` lives in the arena (nullptr for constants).
uint8_t* tensor_ptr(const Plan& plan, uint8_t* base, uint32_t id);

/// Runs every op. No allocation; the arena must be at least plan.arena_bytes().
void run_plan(const Model& m, Plan& plan, void* arena) noexcept;

}  // namespace shrink::rt
