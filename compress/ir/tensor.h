// Plain fp32 tensor storage of the IR (no LibTorch). Row-major, C order.
//
//   ir::Tensor w({20, 1, 5, 5});          // zeros
//   w.at(i) = 0.5f;  int64_t n = w.numel();
//
// Integer data the passes need (codebook indices, masks) is stored as float: every integer
// up to 2^24 is exact.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace shrink::ir {

using Shape = std::vector<int64_t>;

/// Product of dims; throws BadInput on a negative dim or an overflow past 2^62.
int64_t numel(const Shape& shape);
/// "[20, 1, 5, 5]"
std::string shape_str(const Shape& shape);

struct Tensor {
  Shape shape;
  std::vector<float> data;

  Tensor() = default;
  explicit Tensor(Shape s);                       ///< zeros
  Tensor(Shape s, std::vector<float> values);     ///< throws BadInput if sizes disagree
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  float& at(int64_t i) { return data[static_cast<size_t>(i)]; }
  float at(int64_t i) const { return data[static_cast<size_t>(i)]; }
  bool empty() const { return data.empty(); }
  bool operator==(const Tensor& o) const { return shape == o.shape && data == o.data; }
};

}  // namespace shrink::ir
