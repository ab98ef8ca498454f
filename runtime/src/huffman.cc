// Canonical Huffman decoder (huffman.h; format: docs/shr-format.md "Huffman streams").
// A 9-bit lookup table decodes codes of up to 9 bits in one step; longer codes fall back to a
// canonical search over lengths 10..max_len. Bits are read MSB first into a left-aligned 64-bit
// buffer: 8 bytes at a time while 8 remain in the payload, byte by byte at its end.
#include "huffman.h"

#include <cstring>

namespace shrink::rt {

namespace {

constexpr int kTableBits = 9;
constexpr int kMaxLen = kHuffmanMaxCodeLength;

uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

uint64_t load_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];  // compilers turn this into one load + bswap
  return v;
}

/// The decoding tables of one code (on the decoder's stack).
struct Code {
  /// table[b] for the next kTableBits bits b: (length << 8) | symbol of the code they start
  /// with, or 0 when that code is longer than kTableBits bits.
  uint16_t table[1u << kTableBits];
  uint32_t first[kMaxLen + 1];   ///< canonical code value of the first code of each length
  uint16_t count[kMaxLen + 1];   ///< codes of each length
  uint16_t offset[kMaxLen + 1];  ///< index in `sorted` of the first symbol of each length
  uint8_t sorted[kHuffmanMaxSymbols];  ///< used symbols by (length, symbol)
  int max_len;
};

/// Builds the tables from the 4-bit length table; checks the lengths and the Kraft sum.
int build_code(const uint8_t* packed, int n_symbols, int max_len, Code& c) {
  uint8_t len[kHuffmanMaxSymbols];
  for (int s = 0; s < n_symbols; ++s) len[s] = (packed[s / 2] >> (4 * (s % 2))) & 0xF;
  std::memset(c.count, 0, sizeof c.count);
  for (int s = 0; s < n_symbols; ++s) {
    if (len[s] > max_len) return kHuffmanBadMaxLength;
    ++c.count[len[s]];
  }
  if (c.count[max_len] == 0) return kHuffmanBadMaxLength;
  uint32_t kraft = 0;  // sum of 2^(15 - L) over the used symbols; 2^15 for a complete code
  for (int l = 1; l <= max_len; ++l) kraft += uint32_t{c.count[l]} << (kMaxLen - l);
  if (kraft > (1u << kMaxLen)) return kHuffmanOversubscribed;
  if (kraft < (1u << kMaxLen)) return kHuffmanIncomplete;

  c.max_len = max_len;
  c.count[0] = 0;
  uint32_t code = 0;
  uint16_t offset = 0;
  for (int l = 1; l <= kMaxLen; ++l) {
    code = (code + c.count[l - 1]) << 1;
    c.first[l] = code;
    c.offset[l] = offset;
    offset = static_cast<uint16_t>(offset + c.count[l]);
  }
  uint16_t next[kMaxLen + 1];
  std::memcpy(next, c.offset, sizeof next);
  for (int s = 0; s < n_symbols; ++s)
    if (len[s] != 0) c.sorted[next[len[s]]++] = static_cast<uint8_t>(s);

  std::memset(c.table, 0, sizeof c.table);
  for (int l = 1; l <= max_len && l <= kTableBits; ++l)
    for (uint32_t i = 0; i < c.count[l]; ++i) {
      const uint32_t lo = (c.first[l] + i) << (kTableBits - l), n = 1u << (kTableBits - l);
      const uint16_t entry = static_cast<uint16_t>(l << 8 | c.sorted[c.offset[l] + i]);
      for (uint32_t k = 0; k < n; ++k) c.table[lo + k] = entry;
    }
  return kHuffmanOk;
}

/// Decodes the code at the top of `buf`: its length (0 only if the code does not exist, which a
/// complete code rules out) and symbol. Does not check that `len` bits are really available.
inline int decode_one(const Code& c, uint64_t buf, uint8_t& sym) {
  const uint16_t e = c.table[buf >> (64 - kTableBits)];
  if (e != 0) {
    sym = static_cast<uint8_t>(e);
    return e >> 8;
  }
  for (int l = kTableBits + 1; l <= c.max_len; ++l) {
    const uint32_t d = static_cast<uint32_t>(buf >> (64 - l)) - c.first[l];
    if (d < c.count[l]) {
      sym = c.sorted[c.offset[l] + d];
      return l;
    }
  }
  return 0;
}

/// Where decoded symbols go: one byte each.
struct ByteSink {
  uint8_t* out;
  bool put(size_t i, uint8_t sym) {
    out[i] = sym;
    return true;
  }
  void finish() {}
};

/// Where decoded symbols go: packed `bits` wide, LSB first (the raw codebook index layout); a
/// symbol below `limit` only (else the first one that is not is kept in `bad`).
struct PackSink {
  uint8_t* out;
  int bits;
  uint32_t limit;
  HuffmanBadSymbol* bad;
  uint32_t acc = 0;
  int held = 0;
  size_t o = 0;
  bool put(size_t i, uint8_t sym) {
    if (sym >= limit) {
      if (bad) *bad = {sym, i};
      return false;
    }
    acc |= uint32_t{sym} << held;
    for (held += bits; held >= 8; held -= 8, acc >>= 8) out[o++] = static_cast<uint8_t>(acc);
    return true;
  }
  void finish() {
    if (held) out[o] = static_cast<uint8_t>(acc);
  }
};

template <typename Sink>
int decode_payload(const Code& c, const uint8_t* p, const uint8_t* end, Sink& out, size_t n) {
  uint64_t buf = 0;  // bits, left-aligned; below the `bits` valid ones: zeros or the next bits
  int bits = 0;      // valid bits in buf: the stream up to byte p
  size_t i = 0;
  // Fast path: a refill brings the buffer to 56..63 bits, enough for `per_refill` codes. Symbols
  // go through a local: a store through uint8_t* may alias the tables, which would reload them.
  const size_t per_refill = static_cast<size_t>(56 / c.max_len);
  while (n - i >= per_refill && end - p >= 8) {
    buf |= load_be64(p) >> bits;
    p += (63 - bits) >> 3;
    bits |= 56;
    for (size_t k = 0; k < per_refill; ++k) {
      uint8_t sym = 0;
      const int l = decode_one(c, buf, sym);
      if (l == 0) return kHuffmanIncomplete;
      if (!out.put(i++, sym)) return kHuffmanSymbolOutOfRange;
      buf <<= l;
      bits -= l;
    }
  }
  // The last bytes: byte-wise refill; a code that needs bits past the payload is truncation.
  while (i < n) {
    while (bits <= 56 && p < end) {
      buf |= uint64_t{*p++} << (56 - bits);
      bits += 8;
    }
    uint8_t sym = 0;
    const int l = decode_one(c, buf, sym);
    if (l == 0) return kHuffmanIncomplete;
    if (l > bits) return kHuffmanTruncated;
    if (!out.put(i++, sym)) return kHuffmanSymbolOutOfRange;
    buf <<= l;
    bits -= l;
  }
  const uint64_t left = static_cast<uint64_t>(bits) + 8u * static_cast<uint64_t>(end - p);
  if (left >= 8) return kHuffmanTrailingBytes;
  if (left > 0 && (buf >> (64 - left)) != 0) return kHuffmanNonzeroPadding;
  out.finish();
  return kHuffmanOk;
}

/// huffman_decode and huffman_decode_packed: the header, then the payload into `sink`.
template <typename Sink>
int decode_stream(const uint8_t* in, size_t in_bytes, Sink& sink, size_t out_count, size_t* consumed) {
  *consumed = 0;
  HuffmanHeader h;
  int st = huffman_read_header(in, in_bytes, &h);
  if (st != kHuffmanOk) return st;
  if (out_count != h.count) return kHuffmanCountMismatch;
  if (h.max_len == 0) {  // constant stream: no table, no payload
    const auto sym = static_cast<uint8_t>(h.n_symbols - 1);
    for (size_t i = 0; i < out_count; ++i)
      if (!sink.put(i, sym)) return kHuffmanSymbolOutOfRange;
    sink.finish();
  } else {
    Code c;
    st = build_code(in + kHuffmanFixedHeaderBytes, h.n_symbols, h.max_len, c);
    if (st != kHuffmanOk) return st;
    const uint8_t* payload = in + h.header_bytes;
    st = decode_payload(c, payload, payload + h.payload_bytes, sink, out_count);
    if (st != kHuffmanOk) return st;
  }
  *consumed = static_cast<size_t>(h.stream_bytes);
  return kHuffmanOk;
}

}  // namespace

int huffman_read_header(const uint8_t* in, size_t in_bytes, HuffmanHeader* h) {
  if (h == nullptr || (in == nullptr && in_bytes != 0)) return kHuffmanInvalidArgument;
  *h = HuffmanHeader{};
  if (in_bytes < kHuffmanFixedHeaderBytes) return kHuffmanTruncated;
  HuffmanHeader r;
  r.count = load_le32(in);
  r.payload_bytes = load_le32(in + 4);
  r.n_symbols = in[8] + 1;
  r.max_len = in[9];
  if (r.max_len > kMaxLen) return kHuffmanBadMaxLength;
  if (r.max_len == 0 && r.payload_bytes != 0) return kHuffmanBadHeader;
  const size_t table_bytes = r.max_len == 0 ? 0 : static_cast<size_t>(r.n_symbols + 1) / 2;
  r.header_bytes = kHuffmanFixedHeaderBytes + table_bytes;
  r.stream_bytes = r.header_bytes + uint64_t{r.payload_bytes};
  if (in_bytes < r.header_bytes) return kHuffmanTruncated;
  if (r.max_len != 0 && r.n_symbols % 2 == 1 && (in[r.header_bytes - 1] >> 4) != 0) return kHuffmanBadHeader;
  if (uint64_t{in_bytes} < r.stream_bytes) return kHuffmanTruncated;
  *h = r;
  return kHuffmanOk;
}

int huffman_stream_bytes(const uint8_t* in, size_t in_bytes, size_t* bytes) {
  if (bytes == nullptr) return kHuffmanInvalidArgument;
  *bytes = 0;
  HuffmanHeader h;
  const int st = huffman_read_header(in, in_bytes, &h);
  if (st == kHuffmanOk) *bytes = static_cast<size_t>(h.stream_bytes);  // <= in_bytes
  return st;
}

int huffman_decoded_count(const uint8_t* in, size_t in_bytes, size_t* count) {
  if (count == nullptr) return kHuffmanInvalidArgument;
  *count = 0;
  HuffmanHeader h;
  const int st = huffman_read_header(in, in_bytes, &h);
  if (st == kHuffmanOk) *count = h.count;
  return st;
}

int huffman_decode(const uint8_t* in, size_t in_bytes, uint8_t* out, size_t out_count, size_t* consumed) {
  if (consumed == nullptr || (out == nullptr && out_count != 0)) return kHuffmanInvalidArgument;
  ByteSink sink{out};
  return decode_stream(in, in_bytes, sink, out_count, consumed);
}

int huffman_decode_packed(const uint8_t* in, size_t in_bytes, uint8_t* out, size_t out_count, int bits,
                          uint32_t limit, size_t* consumed, HuffmanBadSymbol* bad) {
  if (consumed == nullptr || (out == nullptr && out_count != 0) || bits < 1 || bits > 8) return kHuffmanInvalidArgument;
  if (limit > (1u << bits)) limit = 1u << bits;  // a wider symbol cannot be packed
  PackSink sink{out, bits, limit, bad};
  return decode_stream(in, in_bytes, sink, out_count, consumed);
}

const char* huffman_status_str(int status) {
  switch (status) {
    case kHuffmanOk: return "ok";
    case kHuffmanInvalidArgument: return "invalid argument";
    case kHuffmanTruncated: return "truncated huffman stream";
    case kHuffmanBadHeader: return "bad huffman header (reserved bits, or payload in a constant stream)";
    case kHuffmanBadMaxLength: return "huffman code length above the stream's max_len (or max_len above 15 or unused)";
    case kHuffmanOversubscribed: return "over-subscribed huffman code lengths";
    case kHuffmanIncomplete: return "incomplete huffman code lengths";
    case kHuffmanCountMismatch: return "huffman symbol count differs from the expected count";
    case kHuffmanNonzeroPadding: return "nonzero padding bits after the last huffman code";
    case kHuffmanTrailingBytes: return "unused bytes after the last huffman code";
    case kHuffmanSymbolOutOfRange: return "a decoded huffman symbol is not below the given limit";
  }
  return "unknown huffman status";
}

}  // namespace shrink::rt
