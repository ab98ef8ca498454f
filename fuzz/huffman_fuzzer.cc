// libFuzzer target of the runtime's Huffman decoder (runtime/src/huffman.h), with the exporter's
// encoder (export/huffman.h) as an oracle. Each input is used twice:
// 1. as a stream: huffman_decode from a buffer of exactly the input's size into a buffer of
//    exactly the header's count (if at most 2^16 symbols), and once more with a wrong count that
//    must give kHuffmanCountMismatch. A success must consume exactly huffman_stream_bytes, give
//    symbols below n_symbols, and survive a round trip through the encoder;
//    The same stream through huffman_decode_packed (the loader's path for codebook indices), at a
//    width and limit taken from the input's last byte, into a buffer of exactly the packed size:
//    it must agree with huffman_decode, give the raw packed layout and refuse the first symbol
//    at or above the limit;
// 2. as symbols: encode the input's bytes, decode them, compare (the encoder on any histogram).
// A failure must give a known status and consumed = 0. Anything else aborts (a finding).
//
//   build-fuzz/huffman_fuzzer CORPUS_DIR SEEDS_DIR   # fuzz (scripts/fuzz.sh)
//   build-fuzz/huffman_fuzzer FILE...                # replay files
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "export/huffman.h"
#include "runtime/src/huffman.h"

namespace {

using namespace shrink;

// Decoded (and re-encoded) at most: inputs of up to 8 KB (-max_len=8192) code at most 2^16
// symbols of 1 bit; only constant streams declare more, and their path is the same at any count.
constexpr size_t kMaxCount = size_t{1} << 16;

void check(bool ok) {
  if (!ok) std::abort();
}

/// Decodes into a heap buffer of exactly `count` bytes (ASan sees a write past it).
int decode(const uint8_t* in, size_t size, size_t count, std::unique_ptr<uint8_t[]>& out, size_t& consumed) {
  out.reset(count ? new uint8_t[count] : nullptr);
  consumed = 77;
  const int st = rt::huffman_decode(in, size, out.get(), count, &consumed);
  check(st >= rt::kHuffmanOk && st <= rt::kHuffmanTrailingBytes);  // never SymbolOutOfRange
  check(st == rt::kHuffmanOk || consumed == 0);
  return st;
}

/// huffman_decode_packed against the byte decoder's result `st` / `sym` (valid when st is ok).
void packed(const uint8_t* in, size_t size, size_t count, int st, const uint8_t* sym, int bits, uint32_t limit) {
  const size_t bytes = (count * static_cast<size_t>(bits) + 7) / 8;
  std::unique_ptr<uint8_t[]> out(bytes ? new uint8_t[bytes] : nullptr);
  size_t consumed = 77;
  rt::HuffmanBadSymbol bad;
  const int ps = rt::huffman_decode_packed(in, size, out.get(), count, bits, limit, &consumed, &bad);
  check(ps == rt::kHuffmanOk || consumed == 0);
  if (st != rt::kHuffmanOk) {  // the same damage, or a symbol refused before the decoder saw it
    check(ps == st || ps == rt::kHuffmanSymbolOutOfRange);
    return;
  }
  const uint32_t lim = limit < (1u << bits) ? limit : (1u << bits);
  size_t first = count;
  for (size_t i = 0; i < count && first == count; ++i)
    if (sym[i] >= lim) first = i;
  if (first < count) {
    check(ps == rt::kHuffmanSymbolOutOfRange && bad.index == first && bad.value == sym[first]);
    return;
  }
  check(ps == rt::kHuffmanOk);
  for (size_t i = 0; i < count; ++i) {
    const size_t bit = i * static_cast<size_t>(bits);
    const uint32_t two = out[bit / 8] | (bit / 8 + 1 < bytes ? uint32_t{out[bit / 8 + 1]} << 8 : 0u);
    check(((two >> (bit % 8)) & ((1u << bits) - 1)) == sym[i]);
  }
  const size_t used = count * static_cast<size_t>(bits);
  check(used % 8 == 0 || (out[bytes - 1] >> (used % 8)) == 0);
}

void round_trip(const uint8_t* symbols, size_t n) {
  const std::vector<uint8_t> stream = exporter::huffman_encode(symbols, n);
  check(stream.size() == exporter::huffman_encoded_size(symbols, n));
  std::unique_ptr<uint8_t[]> out;
  size_t consumed = 0;
  check(decode(stream.data(), stream.size(), n, out, consumed) == rt::kHuffmanOk);
  check(consumed == stream.size());
  check(n == 0 || std::memcmp(out.get(), symbols, n) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rt::HuffmanHeader h;
  const int hs = rt::huffman_read_header(data, size, &h);
  size_t total = 0, count = 0;
  check(rt::huffman_stream_bytes(data, size, &total) == hs && rt::huffman_decoded_count(data, size, &count) == hs);
  std::unique_ptr<uint8_t[]> out;
  size_t consumed = 0;
  if (hs == rt::kHuffmanOk) {
    check(total == h.stream_bytes && total <= size && count == h.count);
    if (count <= kMaxCount) {
      const int st = decode(data, size, count, out, consumed);
      const uint8_t last = size ? data[size - 1] : 0;
      packed(data, size, count, st, out.get(), 1 + (last & 7), 1u + (last >> 3) * 9u);
      if (st == rt::kHuffmanOk) {
        check(consumed == total);
        for (size_t i = 0; i < count; ++i) check(out[i] < h.n_symbols);
        round_trip(out.get(), count);
      }
    }
    check(decode(data, size, count == 7 ? 8 : 7, out, consumed) == rt::kHuffmanCountMismatch);
  } else {
    check(decode(data, size, 16, out, consumed) == hs);
  }
  round_trip(data, size);
  return 0;
}
