// NumPy .npy files (format 1.0 / 2.0), float32 or int64, C order, little-endian.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/tensor.h"

namespace shrink::ir {

struct NpyArray {
  Shape shape;
  bool is_int64 = false;
  std::vector<float> f32;    ///< when !is_int64
  std::vector<int64_t> i64;  ///< when is_int64
};

/// Throws BadInput naming the file for: bad magic, header over 64 KiB, dtype other than
/// <f4 / <i8, Fortran order, data size not matching the shape.
NpyArray read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& t);  ///< float32, atomic
void write_npy(const std::string& path, const Shape& shape, const std::vector<int64_t>& v);

}  // namespace shrink::ir
