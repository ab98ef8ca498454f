// Targets without fast kernels (added to the build instead of dispatch_x86.cc): scalar only.
#include "kernels/internal.h"

namespace shrink::rt::kernels {

const FastPaths* cpu_fast_paths() { return nullptr; }

}  // namespace shrink::rt::kernels
