#include "compress/ir/h5_memory.h"

#include <cstdint>
#include <utility>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"

namespace shrink::ir {

namespace {

uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

// HDF5's metadata checksum: Bob Jenkins' lookup3 "hashlittle" with seed 0 (the HDF5 file format
// specification, "Checksum"), over the bytes as stored.
uint32_t h5_checksum(const uint8_t* k, size_t n) {
  uint32_t a = 0xdeadbeefu + static_cast<uint32_t>(n), b = a, c = a;
  auto word = [](const uint8_t* p, size_t m) {  // m <= 4 little-endian bytes
    uint32_t w = 0;
    for (size_t i = 0; i < m; ++i) w |= static_cast<uint32_t>(p[i]) << (8 * i);
    return w;
  };
  while (n > 12) {
    a += word(k, 4);
    b += word(k + 4, 4);
    c += word(k + 8, 4);
    a -= c, a ^= rotl(c, 4), c += b;
    b -= a, b ^= rotl(a, 6), a += c;
    c -= b, c ^= rotl(b, 8), b += a;
    a -= c, a ^= rotl(c, 16), c += b;
    b -= a, b ^= rotl(a, 19), a += c;
    c -= b, c ^= rotl(b, 4), b += a;
    n -= 12;
    k += 12;
  }
  if (n == 0) return c;
  a += word(k, n < 4 ? n : 4);
  if (n > 4) b += word(k + 4, n < 8 ? n - 4 : 4);
  if (n > 8) c += word(k + 8, n - 8);
  c ^= b, c -= rotl(b, 14);
  a ^= c, a -= rotl(c, 11);
  b ^= a, b -= rotl(a, 25);
  c ^= b, c -= rotl(b, 16);
  a ^= c, a -= rotl(c, 4);
  b ^= a, b -= rotl(a, 14);
  c ^= b, c -= rotl(b, 24);
  return c;
}

// HDF5 1.10's H5Fget_file_image clears the "open for write" bit of a version 2 / 3 superblock
// (the V18 format and later) but leaves the checksum computed with the bit set, so that the
// image does not open ("incorrect metadata checksum"). The superblock is written again here:
// flags 0, checksum recomputed (also right once a fixed HDF5 gives a consistent image).
void fix_superblock(std::string& image, const std::string& path) {
  static const char kSignature[] = "\x89HDF\r\n\x1a\n";
  if (image.size() < 12 || image.compare(0, 8, kSignature, 8) != 0)
    throw InternalError("cannot write ", path, ": the HDF5 image has no superblock at offset 0");
  const auto version = static_cast<uint8_t>(image[8]);
  if (version < 2) return;  // versions 0 and 1: no checksum, no status flags
  const size_t offsets = static_cast<uint8_t>(image[9]);
  const size_t body = 12 + 4 * offsets;  // base, extension, end-of-file and root addresses
  if (image.size() < body + 4) throw InternalError("cannot write ", path, ": the HDF5 image is truncated");
  image[11] = 0;
  const uint32_t sum = h5_checksum(reinterpret_cast<const uint8_t*>(image.data()), body);
  for (int i = 0; i < 4; ++i) image[body + i] = static_cast<char>((sum >> (8 * i)) & 0xFF);
}

}  // namespace

H5MemoryFile::H5MemoryFile(std::string path, bool v18_format) : path_(std::move(path)) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported by return codes, as one line
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) throw InternalError("cannot write ", path_, ": HDF5 cannot create a property list");
  // 1 MiB growth steps; backing_store 0: the image stays in memory, HDF5 writes no file.
  bool ok = H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0;
  if (ok && v18_format) ok = H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) >= 0;
  // The name only labels the in-memory file (without a backing store nothing is created there).
  if (ok) file_ = H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (file_ < 0) throw InternalError("cannot write ", path_, ": HDF5 cannot create a file in memory");
}

H5MemoryFile::~H5MemoryFile() {
  if (file_ >= 0) H5Fclose(file_);
}

void H5MemoryFile::commit() {
  if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) throw InternalError("cannot write ", path_, ": HDF5 flush failed");
  const ssize_t size = H5Fget_file_image(file_, nullptr, 0);
  if (size <= 0) throw InternalError("cannot write ", path_, ": HDF5 cannot give the file's image");
  std::string image(static_cast<size_t>(size), '\0');
  if (H5Fget_file_image(file_, image.data(), image.size()) != size)
    throw InternalError("cannot write ", path_, ": HDF5 cannot give the file's image");
  const herr_t closed = H5Fclose(file_);
  file_ = -1;
  if (closed < 0) throw InternalError("cannot write ", path_, ": HDF5 cannot close the file");
  fix_superblock(image, path_);
  write_file_atomic(path_, image);
}

}  // namespace shrink::ir
