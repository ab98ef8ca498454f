// The interpreter's kernel table: every op runs through a registered `shrink_rt_kernel` (one per
// op kind, weight storage and dtype, kernel_table.cc), so a program that registers only the
// kernels its model needs (shrink_rt_load_kernels, shrink_rt.h) lets the linker drop the others
// (--gc-sections). shrink_rt_load registers all of them (shrink_rt_kernels_all).
//
//   KernelSet ks = kernel_set(shrink_rt_kernels_all);
//   const KernelId id = kernel_of(model, model.ops[i]);       // e.g. KernelId::kConv2dQ
//   if (!ks.get(id)) ...                                      // not registered: SHRINK_RT_UNSUPPORTED
//   ks.get(id)->run(call);                                    // what run_plan does per op
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/internal.h"
#include "model.h"

namespace shrink::rt {

struct Plan;  // interpreter.h

/// One entry of the table per kernel (append only: the ids name the public shrink_rt_kernel_*).
enum class KernelId : uint8_t {
  kNone = 0,  ///< Flatten / Reshape: a view, no kernel
  kConv2dF32, kConv2dCsrF32, kConv2dQ, kConv2dCsrQ, kConv2dCsrCodebookQ,
  kDenseF32, kDenseCsrF32, kDenseQ, kDenseCsrQ, kDenseCsrCodebookQ,
  kCodebookExpand,  ///< codebook weights expanded into the arena (then conv2d / dense run)
  kMaxPoolF32, kMaxPoolQ, kAvgPoolF32, kAvgPoolQ, kGlobalAvgPoolF32, kGlobalAvgPoolQ,
  kAddF32, kAddQ, kConcatF32, kConcatQ,
  kActivationF32,  ///< float ReLU, ReLU6, LeakyReLU, Sigmoid, Tanh
  kRequantizeQ,    ///< integer ReLU / ReLU6
  kLutQ,           ///< integer LeakyReLU, Sigmoid, Tanh (table)
  kSoftmaxF32, kQuantizeF32, kDequantizeQ,
  kCount
};

/// The short name of a kernel ("conv2d_q", ...): the suffix of its shrink_rt_kernel_* object.
const char* kernel_name(KernelId id);
/// The kernel that runs op o of a validated model (kNone for views). A Conv2d / Linear with
/// codebook weights runs the dense kernel and also needs kCodebookExpand.
KernelId kernel_of(const Model& m, const OpDesc& o);

/// What a kernel entry gets for one op (filled by run_plan; `plan` holds the op's input lists).
struct OpCall {
  const Model& m;
  Plan& plan;
  uint8_t* base;  ///< 64-aligned arena
  size_t i;       ///< op index
  const OpDesc& o;
  const TensorDesc &x, &y;  ///< input 0 and the output
  const uint8_t* xp;
  uint8_t* yp;
  void* scratch;  ///< the op's scratch region, nullptr when none
};

}  // namespace shrink::rt

/// A registered kernel (opaque in shrink_rt.h): the interpreter's adapter around the kernels of
/// runtime/kernels for one KernelId.
struct shrink_rt_kernel {
  shrink::rt::KernelId id;
  void (*run)(const shrink::rt::OpCall& c);  ///< nullptr for kCodebookExpand
  /// Scratch bytes of op o, planned for the fast paths `fast` (nullptr: the scalar kernels);
  /// nullptr when the kernel needs none.
  uint64_t (*scratch)(const shrink::rt::Model& m, const shrink::rt::OpDesc& o, const shrink::rt::kernels::FastPaths* fast);
  /// kCodebookExpand only: writes the dense values of codebook weight w to out.
  void (*expand)(const shrink::rt::TensorDesc& w, void* out);
};

namespace shrink::rt {

/// The registered kernels by id (nullptr: not registered).
struct KernelSet {
  const shrink_rt_kernel* by_id[static_cast<size_t>(KernelId::kCount)] = {};
  const shrink_rt_kernel* get(KernelId id) const { return by_id[static_cast<size_t>(id)]; }
};
/// The set of a NULL-terminated list (shrink_rt_load_kernels; null entries end it).
KernelSet kernel_set(const shrink_rt_kernel* const* list);

}  // namespace shrink::rt
