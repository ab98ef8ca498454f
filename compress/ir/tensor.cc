#include "compress/ir/tensor.h"

#include <sstream>

#include "compress/ir/error.h"

namespace shrink::ir {

int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw BadInput("negative dimension in shape ", shape_str(shape));
    if (d != 0 && n > (int64_t{1} << 62) / d)
      throw BadInput("shape ", shape_str(shape), " has more than 2^62 elements");
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

Tensor::Tensor(Shape s) : shape(std::move(s)), data(static_cast<size_t>(ir::numel(shape)), 0.0f) {}

Tensor::Tensor(Shape s, std::vector<float> values) : shape(std::move(s)), data(std::move(values)) {
  if (static_cast<int64_t>(data.size()) != ir::numel(shape))
    throw BadInput("tensor of shape ", shape_str(shape), " needs ", ir::numel(shape),
                   " values, got ", data.size());
}

}  // namespace shrink::ir
