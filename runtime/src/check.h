// Helpers of the loader's checks: a bounds-checked cursor, overflow-safe arithmetic and
// one-line printf-style status messages (no iostreams: the runtime keeps its code small).
//
//   Cursor c(bytes, size);
//   shr::FileHeader h;
//   if (!c.read(h)) return fail(SHRINK_RT_CORRUPT_MODEL, "truncated header: %zu bytes", size);
//   uint64_t n;  if (!mul_u64(rows, cols, n)) return fail(SHRINK_RT_CORRUPT_MODEL, "shape overflows");
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdarg>
#include <cinttypes>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "model.h"

namespace shrink::rt {

/// Reads fixed-size records from [data, data + size); never reads past the end. A failed read
/// leaves the position unchanged.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}
  uint64_t pos() const { return pos_; }
  uint64_t size() const { return size_; }
  uint64_t remaining() const { return size_ - pos_; }
  bool seek(uint64_t pos) {
    if (pos > size_) return false;
    pos_ = pos;
    return true;
  }
  bool read_bytes(void* dst, uint64_t n) {
    if (n > remaining()) return false;
    std::memcpy(dst, data_ + pos_, static_cast<size_t>(n));
    pos_ += n;
    return true;
  }
  template <class T>
  bool read(T& v) {
    static_assert(std::is_trivially_copyable<T>::value, "records are plain bytes");
    return read_bytes(&v, sizeof(T));
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

/// [offset, offset + len) lies within [0, size), without overflow.
inline bool in_range(uint64_t offset, uint64_t len, uint64_t size) { return offset <= size && len <= size - offset; }
/// r = a * b; false on overflow.
inline bool mul_u64(uint64_t a, uint64_t b, uint64_t& r) {
  if (a != 0 && b > UINT64_MAX / a) return false;
  r = a * b;
  return true;
}

/// A status with a printf-formatted message (check.cc). printf-style keeps each of the loader's
/// many error sites to a few instructions (the runtime's code size matters on a device).
Status fail(shrink_rt_status code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
/// The same with a context prefix already formatted, e.g. "tensor 3 'conv1.weight': ".
Status fail_with(shrink_rt_status code, const char* prefix, const char* fmt, va_list ap);

/// A short formatted text held by value (no heap, trivially destructible), e.g. a shape.
struct Text {
  char s[96];
};

#define SHRINK_RT_TRY(expr)          \
  do {                               \
    ::shrink::rt::Status s_ = (expr); \
    if (!s_.ok()) return s_;         \
  } while (0)

/// Graph-level checks of a model whose sections and records load_model has parsed and checked
/// one by one (ids in range, tensors well formed): topological order, op arity, dtypes,
/// formats and shapes. Defined in validate_graph.cc.
Status validate_graph(const Model& m);

}  // namespace shrink::rt
