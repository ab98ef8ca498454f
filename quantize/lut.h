// Lookup tables for element-wise non-linear ops: moved to compress/ir/lut.h (LibTorch-free, shared
// with the exporter); this header keeps the quantize/ include path working.
#pragma once
#include "compress/ir/lut.h"
