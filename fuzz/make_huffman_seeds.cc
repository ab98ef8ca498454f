// Writes the seed corpus of the Huffman fuzzer (fuzz/huffman_fuzzer.cc): streams written by the
// exporter's encoder (export/huffman.h) over alphabets of 1, 2, 16 and 256 symbols, uniform and
// skewed, short and long (up to 4,000 symbols), with the length limit at 15 and at 9 (codes that
// need the decoder's canonical fallback, and codes that do not), plus the constant and empty
// streams. Each seed is decoded before it is written.
//
//   make_huffman_seeds DIR
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "export/huffman.h"
#include "runtime/src/huffman.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_huffman_seeds DIR\n");
    return 2;
  }
  std::mt19937 rng(1);
  int written = 0;
  for (int alphabet : {1, 2, 16, 256})
    for (bool skewed : {false, true})
      for (size_t n : {size_t{0}, size_t{3}, size_t{200}, size_t{4000}})
        for (int limit : {15, 9}) {
          // Skewed: the product of two uniform symbols, scaled back to the alphabet (small ones
          // are frequent, the largest rare).
          std::vector<uint8_t> symbols(n);
          for (auto& x : symbols) {
            const uint32_t a = rng() % alphabet, b = rng() % alphabet;
            x = static_cast<uint8_t>(skewed ? a * b / alphabet : a);
          }
          shrink::exporter::HuffmanOptions o;
          o.max_code_length = limit;
          const std::vector<uint8_t> stream = shrink::exporter::huffman_encode(symbols.data(), n, o);
          std::vector<uint8_t> back(n);
          size_t used = 0;
          if (shrink::rt::huffman_decode(stream.data(), stream.size(), back.data(), n, &used) != 0 || back != symbols) {
            std::fprintf(stderr, "make_huffman_seeds: a seed does not decode\n");
            return 1;
          }
          const std::string path = std::string(argv[1]) + "/huff_a" + std::to_string(alphabet) +
                                   (skewed ? "_skew_n" : "_unif_n") + std::to_string(n) + "_l" + std::to_string(limit);
          std::ofstream f(path, std::ios::binary);
          f.write(reinterpret_cast<const char*>(stream.data()), static_cast<std::streamsize>(stream.size()));
          if (!f) {
            std::fprintf(stderr, "make_huffman_seeds: cannot write %s\n", path.c_str());
            return 1;
          }
          ++written;
        }
  std::printf("make_huffman_seeds: %d seeds in %s\n", written, argv[1]);
  return 0;
}
