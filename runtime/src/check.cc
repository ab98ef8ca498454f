// Status messages of the loader (check.h).
#include "check.h"

namespace shrink::rt {

Status fail_with(shrink_rt_status code, const char* prefix, const char* fmt, va_list ap) {
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, "%s", prefix);
  if (n >= 0 && n < static_cast<int>(sizeof buf)) std::vsnprintf(buf + n, sizeof buf - static_cast<size_t>(n), fmt, ap);
  // One line: names quoted from a hostile file may hold control bytes (a newline).
  for (char* c = buf; *c; ++c)
    if (static_cast<unsigned char>(*c) < 0x20) *c = '?';
  Status st;
  st.code = code;
  st.message = buf;
  return st;
}

Status fail_at(shrink_rt_status code, const char* file, int line) {
  Status st;
  st.code = code;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.32s:%d", file, line);
  st.message = buf;
  return st;
}

Status fail(shrink_rt_status code, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Status st = fail_with(code, "", fmt, ap);
  va_end(ap);
  return st;
}

}  // namespace shrink::rt
