// A tiny NumPy .npy reader / writer for shrink-rt (format version 1.0, C order, little-endian):
// reads float32 and int64 arrays, writes float32, int8, int16 and int32 arrays.
//
//   shrink::rttool::NpyArray a;  std::string err;
//   if (!shrink::rttool::read_npy("x.npy", a, err)) { fprintf(stderr, "%s\n", err.c_str()); ... }
//   shrink::rttool::write_npy("y.npy", "<f4", {2, 10}, data, 80, err);
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace shrink::rttool {

struct NpyArray {
  std::vector<int64_t> shape;
  bool is_int64 = false;
  std::vector<float> f32;    ///< when !is_int64
  std::vector<int64_t> i64;  ///< when is_int64
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

/// Reads a float32 ('<f4') or int64 ('<i8') C-order array. On failure returns false and a
/// one-line message in err (never throws on bad files).
bool read_npy(const std::string& path, NpyArray& out, std::string& err);
/// The same from an open stream (e.g. fmemopen, as fuzz/npy_fuzzer.cc does); `path` names it in
/// messages. The stream is not closed.
bool read_npy(std::FILE* f, const std::string& path, NpyArray& out, std::string& err);

/// Writes `bytes` of raw little-endian data with dtype descr ("<f4", "|i1", "<i2", "<i4"),
/// atomically (write_file_atomically): on failure `path` is as it was.
bool write_npy(const std::string& path, const char* descr, const std::vector<int64_t>& shape, const void* data,
               size_t bytes, std::string& err);

/// Writes the byte ranges to `path` through a temporary in the same folder
/// (".<name>.tmp.<pid>.<n>", created with O_EXCL), fsynced, renamed over `path`, then the folder
/// fsynced. On any failure (a full disk, EFBIG past RLIMIT_FSIZE, ...) the temporary is removed,
/// `path` is untouched and err holds one line naming it.
bool write_file_atomically(const std::string& path, const std::vector<std::pair<const void*, size_t>>& parts,
                           std::string& err);

}  // namespace shrink::rttool
