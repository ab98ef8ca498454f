// Canonical Huffman decoder of the .shr entropy-coded parts (`Encoding` 1; stream format:
// docs/shr-format.md, "Huffman streams (encoding 1)"). The writer is export/huffman.h.
// C++17, standard library only, no exceptions, no heap: the caller gives the output buffer; the
// decoder's tables live on its stack (1.4 KB; 1.8 KB of stack in all on a Cortex-M4). Whatever
// the input, it never reads outside [in, in + in_bytes) nor writes outside [out, out + out_count).
//
//   size_t n = 0, used = 0;
//   if (huffman_decoded_count(part, part_size, &n) != kHuffmanOk) return corrupt;  // header only
//   uint8_t* dst = arena_take(n);                                                  // caller's memory
//   int st = huffman_decode(part, part_size, dst, n, &used);       // 0, or a HuffmanStatus
//   if (st != kHuffmanOk || used != part_size) return fail("%s", huffman_status_str(st));
#pragma once
#include <cstddef>
#include <cstdint>

namespace shrink::rt {

/// Results of the functions below: 0 ok, a distinct nonzero value per kind of damage.
enum HuffmanStatus : int {
  kHuffmanOk = 0,
  kHuffmanInvalidArgument = 1,  ///< a null pointer with a nonzero size, or a null result pointer
  kHuffmanTruncated = 2,        ///< the input ends inside the header, the length table, the declared
                                ///< payload, or the payload ends before `count` symbols
  kHuffmanBadHeader = 3,        ///< a reserved nibble nonzero, or a constant stream (max_len 0)
                                ///< that declares payload bytes
  kHuffmanBadMaxLength = 4,     ///< max_len above kHuffmanMaxCodeLength, a code length above max_len,
                                ///< or no code of length max_len
  kHuffmanOversubscribed = 5,   ///< the code lengths' Kraft sum exceeds 1 (no prefix code exists)
  kHuffmanIncomplete = 6,       ///< the Kraft sum is below 1 (unused bit patterns; the writer never
                                ///< makes such codes, so they mean damage)
  kHuffmanCountMismatch = 7,    ///< out_count differs from the header's symbol count
  kHuffmanNonzeroPadding = 8,   ///< the unused bits of the payload's last byte are not zero
  kHuffmanTrailingBytes = 9,    ///< the payload declares whole bytes that no symbol uses
  kHuffmanSymbolOutOfRange = 10,  ///< huffman_decode_packed: a symbol not below its limit
};

/// The longest code a stream may use (the length table holds 4-bit lengths).
inline constexpr int kHuffmanMaxCodeLength = 15;
/// The largest alphabet: symbols are bytes.
inline constexpr int kHuffmanMaxSymbols = 256;
/// Fixed header bytes before the length table: u32 count, u32 payload_bytes, u8 n_symbols - 1,
/// u8 max_len.
inline constexpr size_t kHuffmanFixedHeaderBytes = 10;

/// What the header says (huffman_read_header).
struct HuffmanHeader {
  uint32_t count = 0;          ///< symbols the stream decodes to
  uint32_t payload_bytes = 0;  ///< bitstream bytes after the header
  int n_symbols = 0;           ///< alphabet size 1..256: every decoded symbol is < n_symbols
  int max_len = 0;             ///< longest code; 0 = constant stream (all symbols n_symbols - 1)
  size_t header_bytes = 0;     ///< fixed header + length table
  uint64_t stream_bytes = 0;   ///< header_bytes + payload_bytes: the whole stream
};

/// Reads and checks the fixed header only (not the length table's Kraft sum, not the payload):
/// ok when the bytes hold the header and the length table, max_len <= 15 and a constant stream
/// declares no payload. Truncated when in_bytes < stream_bytes too, so that a success means the
/// whole stream lies within the input.
int huffman_read_header(const uint8_t* in, size_t in_bytes, HuffmanHeader* h);
/// *bytes = the stream's total size (header, length table, payload), from the header alone.
int huffman_stream_bytes(const uint8_t* in, size_t in_bytes, size_t* bytes);
/// *count = the number of symbols the stream decodes to, from the header alone.
int huffman_decoded_count(const uint8_t* in, size_t in_bytes, size_t* count);

/// Decodes the stream at `in` into exactly out_count symbols (out_count must equal the header's
/// count). On success *consumed = the stream's bytes (bytes after them are not read: the stream
/// may be followed by other data). On failure the content of `out` is unspecified, *consumed is 0.
/// Checks everything: lengths, Kraft sum (complete code), truncation, zero padding bits and no
/// unused payload byte, so each valid stream has exactly one meaning and damage is reported.
int huffman_decode(const uint8_t* in, size_t in_bytes, uint8_t* out, size_t out_count, size_t* consumed);

/// The first symbol huffman_decode_packed refused: its value and its position in the stream.
struct HuffmanBadSymbol {
  uint32_t value = 0;
  size_t index = 0;
};

/// As huffman_decode, but the symbols are packed `bits` (1..8) wide, LSB first, into
/// ceil(out_count * bits / 8) bytes at `out` (the raw layout of codebook indices; unused bits of
/// the last byte zero), and each must be below `limit` (and 2^bits): else
/// kHuffmanSymbolOutOfRange, with the first such symbol in *bad when bad is not null. Memory:
/// the packed bytes only (Huffman-coded codebook indices take no more RAM than raw ones).
int huffman_decode_packed(const uint8_t* in, size_t in_bytes, uint8_t* out, size_t out_count, int bits,
                          uint32_t limit, size_t* consumed, HuffmanBadSymbol* bad = nullptr);

/// A short lower-case name of a status ("ok", "truncated", ...); "unknown huffman status" else.
const char* huffman_status_str(int status);

}  // namespace shrink::rt
