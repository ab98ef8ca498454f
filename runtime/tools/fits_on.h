// "Fits on" estimates for microcontrollers (docs/mcu.md): whether a loaded .shr model would fit
// a Cortex-M4 of a given flash and RAM, from constants measured on the test firmware. An
// estimate, not a link. Header-only; shrink-rt inspect and the toolkit's run report share it.
//
//   shrink::rt::FitsEstimate e = shrink::rt::fits_estimate(m);
//   for (const auto& t : shrink::rt::kMcuTargets) printf("%s: %s\n", t.name, e.fits(t) ? "yes" : "no");
#pragma once
#include <cstddef>

#include "shrink_rt.h"

namespace shrink::rt {

// Flash = the .shr + the code and constants of the Cortex-M4 test firmware without its model and
// inputs (examples/cortex-m4, MinSizeRel with terse messages, the kernels of the Deep Compression
// LeNet-5 registered - the largest set of the four test models -, newlib-nano, the firmware's
// printf harness); RAM = the arena the Cortex-M4 needs (the scalar kernels' plan: the exported
// MODEL_ARENA_BYTES there) + the index data Huffman-decoded at load + that firmware's other RAM
// for LeNet-5 (loader heap 6,776 B, stack high-water 1,504 B, its buffers and .data 7,777 B).
// Measured by scripts/mcu_test.sh on 2026-11-24; re-measure when the runtime changes.
constexpr size_t kM4FirmwareFlash = 63596;
constexpr size_t kM4FirmwareRam = 16057;

struct McuTarget {
  const char* name;
  size_t flash, ram;
};
inline constexpr McuTarget kMcuTargets[] = {{"Cortex-M4 256 KB flash / 64 KB RAM", 256 * 1024, 64 * 1024},
                                            {"Cortex-M4 128 KB flash / 64 KB RAM", 128 * 1024, 64 * 1024}};

struct FitsEstimate {
  size_t file = 0, arena = 0, decoded = 0;  ///< the model's file, Cortex-M4 arena, Huffman-decoded bytes
  size_t flash() const { return file + kM4FirmwareFlash; }
  size_t ram() const { return arena + decoded + kM4FirmwareRam; }
  bool fits(const McuTarget& t) const { return flash() <= t.flash && ram() <= t.ram; }
};

inline FitsEstimate fits_estimate(const shrink_rt_model* m) {
  FitsEstimate e;
  for (int i = 0; i < shrink_rt_tensor_count(m); ++i) {
    shrink_rt_tensor_info t;
    shrink_rt_tensor_info_get(m, i, &t);
    if (t.encoding == 1) e.decoded += t.decoded_bytes;
  }
  e.file = shrink_rt_model_size(m);
  e.arena = shrink_rt_arena_size_scalar(m);
  return e;
}

}  // namespace shrink::rt
