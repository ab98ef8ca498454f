// Canonical Huffman encoder of the .shr entropy-coded parts (`Encoding` 1): length-limited code
// lengths (package-merge: optimal under the limit), the stream writer, and the exact size of a
// stream without writing it. Stream format: docs/shr-format.md, "Huffman streams (encoding 1)";
// the runtime's decoder is runtime/src/huffman.h. Deterministic: the same symbols give the same
// bytes. No LibTorch.
//
//   std::vector<uint8_t> idx = ...;                                    // e.g. codebook indices
//   size_t coded = exporter::huffman_encoded_size(idx.data(), idx.size());
//   if (coded < raw_bytes) part = exporter::huffman_encode(idx.data(), idx.size());
//
// The stream's alphabet is n_symbols = 1 + the largest symbol present (1 for no symbol), so a
// decoded symbol is never above the largest one encoded. Degenerate inputs: no symbol, or one
// distinct symbol s (any number of times), give a "constant stream": the 10-byte header only
// (max_len 0, n_symbols s + 1; s = 0 when empty), no length table and no payload.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace shrink::exporter {

struct HuffmanOptions {
  /// Longest code the writer may use, 1..15 (the stream format's bound). A smaller limit costs
  /// a little compression and must still leave room for the alphabet (2^limit >= used symbols).
  int max_code_length = 15;
};

/// How often each byte value occurs in symbols[0, n).
std::array<uint64_t, 256> huffman_histogram(const uint8_t* symbols, size_t n);

/// Code lengths (0 for a symbol of frequency 0) of an optimal prefix code for `freq` (1..256
/// entries) with no code longer than max_code_length: package-merge, ties broken by symbol value,
/// so the result is deterministic. Two or more used symbols give a complete code (Kraft sum 1);
/// one used symbol gives all zeros (the constant stream needs no code). Throws BadInput for an
/// empty or too long `freq`, a limit outside 1..15, more used symbols than 2^limit, or a total
/// frequency above 2^47.
std::vector<uint8_t> huffman_code_lengths(const std::vector<uint64_t>& freq, int max_code_length = 15);

/// The stream (header, length table, payload) coding symbols[0, n). Throws BadInput when n or the
/// payload bytes exceed 2^32 - 1 (the header's u32 fields).
std::vector<uint8_t> huffman_encode(const uint8_t* symbols, size_t n, const HuffmanOptions& o = {});

/// huffman_encode(symbols, n, o).size(), computed from the histogram without writing the stream.
size_t huffman_encoded_size(const uint8_t* symbols, size_t n, const HuffmanOptions& o = {});

}  // namespace shrink::exporter
