// Helpers of the loader's checks: a bounds-checked cursor, overflow-safe arithmetic and
// one-line printf-style status messages (no iostreams: the runtime keeps its code small).
//
//   Cursor c(bytes, size);
//   shr::FileHeader h;
//   if (!c.read(h)) return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "truncated header: %zu bytes", size);
//   uint64_t n;  if (!mul_u64(rows, cols, n)) return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "shape overflows");
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
/// Call it through SHRINK_RT_FAIL (below), which the terse build compiles out.
Status fail(shrink_rt_status code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
/// The same with a context prefix already formatted, e.g. "tensor 3 'conv1.weight': ".
Status fail_with(shrink_rt_status code, const char* prefix, const char* fmt, va_list ap);
/// The terse build's status: the message is the source site only, "loader.cc:82".
Status fail_at(shrink_rt_status code, const char* file, int line);

// Status sites. SHRINK_RT_FAIL(code, fmt, args...) is fail(code, fmt, args...);
// SHRINK_RT_MESSAGE(code, expr) is expr, a Status built by a message helper with a formatted
// message (e.g. the loader's tfail). With SHRINK_RT_TERSE_MESSAGES=1 (the CMake option of that
// name, docs/runtime.md) both become fail_at(code, file, line): the format strings and their
// arguments are not compiled, which saves about 9 KB of a microcontroller's flash.
#if defined(SHRINK_RT_TERSE_MESSAGES) && SHRINK_RT_TERSE_MESSAGES
#ifdef __FILE_NAME__
#define SHRINK_RT_SITE_FAIL_(code) ::shrink::rt::fail_at(code, __FILE_NAME__, __LINE__)
#else
#define SHRINK_RT_SITE_FAIL_(code) ::shrink::rt::fail_at(code, "shrink_rt", __LINE__)
#endif
#define SHRINK_RT_FAIL(code, ...) SHRINK_RT_SITE_FAIL_(code)
#define SHRINK_RT_MESSAGE(code, ...) SHRINK_RT_SITE_FAIL_(code)
#else
#define SHRINK_RT_FAIL(code, ...) ::shrink::rt::fail(code, __VA_ARGS__)
#define SHRINK_RT_MESSAGE(code, ...) __VA_ARGS__
#endif

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
