// Writes the seed corpus of the .npy fuzzer (fuzz/npy_fuzzer.cc): arrays written by shrink-rt's
// own writer (runtime/tools/npy.cc, as `shrink-rt run -o` writes them) in the dtypes the reader
// takes (float32, int64) and some it refuses (int8, int16, int32), of several shapes, plus the
// same header as format version 2, in Fortran order and with its data cut short.
//
//   make_npy_seeds DIR
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "runtime/tools/npy.h"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

bool put(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_npy_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  struct Seed {
    const char* name;
    const char* descr;
    std::vector<int64_t> shape;
    size_t esize;
  };
  const Seed seeds[] = {
      {"f32_scalar", "<f4", {}, 4},        {"f32_vector", "<f4", {5}, 4},         {"f32_image", "<f4", {1, 4, 4}, 4},
      {"f32_batch", "<f4", {2, 1, 3, 3}, 4}, {"f32_empty", "<f4", {0, 3}, 4},     {"i64_matrix", "<i8", {2, 3}, 8},
      {"i8_vector", "|i1", {7}, 1},         {"i16_vector", "<i2", {3}, 2},         {"i32_matrix", "<i4", {2, 2}, 4},
  };
  int written = 0;
  std::string err;
  for (const Seed& s : seeds) {
    size_t n = 1;
    for (int64_t d : s.shape) n *= static_cast<size_t>(d);
    std::vector<unsigned char> data(n * s.esize);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 37 + 11);
    const std::string path = dir + "/" + s.name + ".npy";
    if (!shrink::rttool::write_npy(path, s.descr, s.shape, data.data(), data.size(), err)) {
      std::fprintf(stderr, "make_npy_seeds: %s\n", err.c_str());
      return 1;
    }
    ++written;
  }
  // Variants of the image seed: version 2 (4-byte header length), Fortran order, data cut short.
  const std::string v1 = slurp(dir + "/f32_image.npy");
  std::string v2 = v1.substr(0, 8) + v1.substr(8, 2) + std::string(2, '\0') + v1.substr(10);
  v2[6] = 2;
  std::string fortran = v1;
  const size_t at = fortran.find("False");
  if (at != std::string::npos) fortran.replace(at, 5, "True ");
  if (!put(dir + "/f32_image_v2.npy", v2) || !put(dir + "/f32_image_fortran.npy", fortran) ||
      !put(dir + "/f32_image_cut.npy", v1.substr(0, v1.size() - 3))) {
    std::fprintf(stderr, "make_npy_seeds: cannot write into %s\n", dir.c_str());
    return 1;
  }
  std::printf("make_npy_seeds: %d seeds in %s\n", written + 3, dir.c_str());
  return 0;
}
