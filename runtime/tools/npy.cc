// .npy reading and writing for shrink-rt (npy.h). The header is parsed strictly: dict keys
// 'descr', 'fortran_order' and 'shape' only, sizes checked against the file before allocating.
#include "npy.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace shrink::rttool {
namespace {

struct File {
  std::FILE* f = nullptr;
  ~File() {
    if (f) std::fclose(f);
  }
};

/// The value of 'key': in a Python dict literal (text up to the next ',' or '}' or the matching ')').
bool dict_value(const std::string& h, const char* key, std::string& v) {
  const size_t k = h.find(std::string("'") + key + "'");
  if (k == std::string::npos) return false;
  size_t p = h.find(':', k);
  if (p == std::string::npos) return false;
  ++p;
  while (p < h.size() && h[p] == ' ') ++p;
  size_t e = p;
  if (p < h.size() && h[p] == '(') {
    e = h.find(')', p);
    if (e == std::string::npos) return false;
    ++e;
  } else {
    while (e < h.size() && h[e] != ',' && h[e] != '}') ++e;
  }
  v = h.substr(p, e - p);
  return true;
}

}  // namespace

bool read_npy(const std::string& path, NpyArray& out, std::string& err) {
  out = NpyArray{};
  File file;
  file.f = std::fopen(path.c_str(), "rb");
  if (!file.f) return err = "cannot open " + path, false;
  return read_npy(file.f, path, out, err);
}

bool read_npy(std::FILE* f, const std::string& path, NpyArray& out, std::string& err) {
  out = NpyArray{};
  long fsize = -1;
  if (std::fseek(f, 0, SEEK_END) == 0) fsize = std::ftell(f);
  if (fsize < 0 || std::fseek(f, 0, SEEK_SET) != 0)
    return err = path + ": cannot tell the file's size (not a regular file?)", false;
  unsigned char pre[10];
  if (fsize < 10 || std::fread(pre, 1, 10, f) != 10 || std::memcmp(pre, "\x93NUMPY", 6) != 0)
    return err = path + ": not a .npy file (bad magic)", false;
  size_t hlen = 0, start = 10;
  if (pre[6] == 1) {
    hlen = pre[8] | (pre[9] << 8);
  } else if (pre[6] == 2 || pre[6] == 3) {
    unsigned char b[2];
    if (std::fread(b, 1, 2, f) != 2) return err = path + ": truncated header", false;
    hlen = pre[8] | (pre[9] << 8) | (static_cast<size_t>(b[0]) << 16) | (static_cast<size_t>(b[1]) << 24);
    start = 12;
  } else {
    return err = path + ": unsupported .npy version " + std::to_string(pre[6]), false;
  }
  if (hlen > 65536 || start + hlen > static_cast<size_t>(fsize))
    return err = path + ": header length " + std::to_string(hlen) + " exceeds " +
                 (hlen > 65536 ? "the 65536-byte limit" : "the file"),
           false;
  std::string h(hlen, '\0');
  if (std::fread(&h[0], 1, hlen, f) != hlen) return err = path + ": truncated header", false;
  std::string descr, fortran, shape;
  if (!dict_value(h, "descr", descr) || !dict_value(h, "fortran_order", fortran) || !dict_value(h, "shape", shape))
    return err = path + ": header lacks descr, fortran_order or shape", false;
  if (fortran != "False") return err = path + ": Fortran-order arrays are not supported (expected C order)", false;
  if (descr == "'<f4'") out.is_int64 = false;
  else if (descr == "'<i8'") out.is_int64 = true;
  else return err = path + ": dtype " + descr + " is not supported (expected float32 '<f4' or int64 '<i8')", false;
  // shape: "(a, b, )" or "()"
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') return err = path + ": bad shape " + shape, false;
  int64_t n = 1;
  for (size_t p = 1; p + 1 < shape.size();) {
    while (p < shape.size() && (shape[p] == ' ' || shape[p] == ',')) ++p;
    if (p + 1 >= shape.size()) break;
    if (shape[p] < '0' || shape[p] > '9') return err = path + ": bad shape " + shape, false;
    int64_t d = 0;
    while (p < shape.size() && shape[p] >= '0' && shape[p] <= '9') {
      d = d * 10 + (shape[p] - '0');
      if (d > (int64_t{1} << 40)) return err = path + ": shape " + shape + " has a dimension past 2^40", false;
      ++p;
    }
    out.shape.push_back(d);
    // Both factors are at most 2^40: test before multiplying (the product could pass 2^63).
    if (d && n > (int64_t{1} << 40) / d) return err = path + ": shape " + shape + " has more than 2^40 elements", false;
    n *= d;
  }
  const size_t esize = out.is_int64 ? 8 : 4;
  const size_t need = static_cast<size_t>(n) * esize;
  if (static_cast<size_t>(fsize) - start - hlen != need)
    return err = path + ": the data has " + std::to_string(static_cast<size_t>(fsize) - start - hlen) +
                 " bytes, the shape needs " + std::to_string(need),
           false;
  void* dst;
  if (out.is_int64) {
    out.i64.resize(static_cast<size_t>(n));
    dst = out.i64.data();
  } else {
    out.f32.resize(static_cast<size_t>(n));
    dst = out.f32.data();
  }
  if (need && std::fread(dst, 1, need, f) != need) return err = path + ": truncated data", false;
  return true;
}

bool write_npy(const std::string& path, const char* descr, const std::vector<int64_t>& shape, const void* data,
               size_t bytes, std::string& err) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ",";
  s += ")";
  std::string h = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + s + ", }";
  const size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h += '\n';
  const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<unsigned char>(h.size() & 0xFF),
                                 static_cast<unsigned char>(h.size() >> 8)};
  return write_file_atomically(path, {{pre, 10}, {h.data(), h.size()}, {data, bytes}}, err);
}

bool write_file_atomically(const std::string& path, const std::vector<std::pair<const void*, size_t>>& parts,
                           std::string& err) {
  static std::atomic<unsigned> counter{0};
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string prefix = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string tmp = prefix + "." + base + ".tmp." + std::to_string(::getpid()) + "." +
                          std::to_string(counter.fetch_add(1));
  // O_EXCL: never write through a file or symlink someone else put at the temporary name.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) return err = "cannot write " + path + ": " + std::strerror(errno), false;
  auto fail = [&](int e, bool close_fd) {
    if (close_fd) ::close(fd);
    ::unlink(tmp.c_str());
    err = "cannot write " + path + ": " + std::strerror(e);
    return false;
  };
  for (const auto& [p, n] : parts) {
    for (size_t done = 0; done < n;) {
      const ssize_t r = ::write(fd, static_cast<const char*>(p) + done, n - done);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return fail(r < 0 ? errno : ENOSPC, true);  // EFBIG, ENOSPC, EDQUOT, EIO
      done += static_cast<size_t>(r);
    }
  }
  if (::fsync(fd) != 0) return fail(errno, true);
  if (::close(fd) != 0) return fail(errno, false);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno, false);
  // The rename itself is durable once the folder is synced; a folder that cannot be opened
  // (some file systems) leaves it to the next sync.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

}  // namespace shrink::rttool
