// Tests of the runtime's Huffman decoder (runtime/src/huffman.h) on streams written here field by
// field from docs/shr-format.md "Huffman streams (encoding 1)", independently of the exporter's
// encoder (whose round trips are in tests/export/huffman_test.cc): the documented bytes decode to
// the documented symbols, every kind of damage has its own status, and the header helpers.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "runtime/src/huffman.h"

namespace shrink::rt {
namespace {

/// A stream built from the format's fields: lengths[s] per symbol, then codes given as strings
/// of '0' / '1' appended MSB first; payload_bytes defaults to the bits written, rounded up.
struct StreamSpec {
  uint32_t count = 0;
  std::vector<int> lengths;  // n_symbols = lengths.size()
  int max_len = 0;
  std::string bits;
  long payload_bytes = -1;   // -1: ceil(bits / 8)
  int pad_value = 0;         // the value of the padding bits (0 in a valid stream)

  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> b;
    const uint32_t payload = payload_bytes >= 0 ? static_cast<uint32_t>(payload_bytes)
                                                : static_cast<uint32_t>((bits.size() + 7) / 8);
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(count >> (8 * i)));
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(payload >> (8 * i)));
    b.push_back(static_cast<uint8_t>(lengths.size() - 1));
    b.push_back(static_cast<uint8_t>(max_len));
    if (max_len != 0)
      for (size_t s = 0; s < lengths.size(); s += 2)
        b.push_back(static_cast<uint8_t>(lengths[s] | (s + 1 < lengths.size() ? lengths[s + 1] << 4 : 0)));
    std::string all = bits;
    while (all.size() % 8 != 0) all += pad_value ? '1' : '0';
    for (size_t i = 0; i < all.size(); i += 8) {
      uint8_t v = 0;
      for (size_t k = 0; k < 8; ++k) v = static_cast<uint8_t>(v << 1 | (all[i + k] == '1'));
      b.push_back(v);
    }
    return b;
  }
};

/// Decodes into a buffer of exactly `count` bytes (ASan sees a write past it) from an input of
/// exactly its size.
int decode(const std::vector<uint8_t>& in, size_t count, std::vector<uint8_t>* out = nullptr,
           size_t* consumed = nullptr) {
  std::vector<uint8_t> input(in), dst(count);
  size_t used = 12345;
  const int st = huffman_decode(input.data(), input.size(), dst.data(), count, &used);
  if (st != kHuffmanOk) {
    EXPECT_EQ(used, 0u);
  }
  if (out) *out = dst;
  if (consumed) *consumed = used;
  return st;
}

// Symbols 0, 1, 2 with lengths 1, 2, 2: canonical codes 0, 10, 11.
StreamSpec three_symbols() {
  StreamSpec s;
  s.count = 4;
  s.lengths = {1, 2, 2};
  s.max_len = 2;
  s.bits = "0" "10" "11" "0";  // 0 1 2 0
  return s;
}

TEST(Huffman, DecodesTheDocumentedExample) {
  const std::vector<uint8_t> bytes = three_symbols().bytes();
  // The bytes of docs/shr-format.md's example.
  const std::vector<uint8_t> expected = {4, 0, 0, 0, 1, 0, 0, 0, 2, 2, 0x21, 0x02, 0x58};
  ASSERT_EQ(bytes, expected);
  std::vector<uint8_t> out;
  size_t used = 0;
  ASSERT_EQ(decode(bytes, 4, &out, &used), kHuffmanOk);
  EXPECT_EQ(out, (std::vector<uint8_t>{0, 1, 2, 0}));
  EXPECT_EQ(used, 13u);
}

TEST(Huffman, BytesAfterTheStreamAreNotPartOfIt) {
  std::vector<uint8_t> bytes = three_symbols().bytes();
  bytes.push_back(0xFF);
  bytes.push_back(0xEE);
  std::vector<uint8_t> out;
  size_t used = 0;
  ASSERT_EQ(decode(bytes, 4, &out, &used), kHuffmanOk);
  EXPECT_EQ(used, 13u);
}

TEST(Huffman, ConstantStreamsHaveNoTableAndNoPayload) {
  StreamSpec s;
  s.count = 5;
  s.lengths = {0, 0, 0, 0};  // n_symbols 4: the symbol is 3
  s.max_len = 0;
  const std::vector<uint8_t> bytes = s.bytes();
  EXPECT_EQ(bytes.size(), kHuffmanFixedHeaderBytes);
  std::vector<uint8_t> out;
  size_t used = 0;
  ASSERT_EQ(decode(bytes, 5, &out, &used), kHuffmanOk);
  EXPECT_EQ(out, std::vector<uint8_t>(5, 3));
  EXPECT_EQ(used, 10u);

  s.count = 0;  // the empty stream
  s.lengths = {0};
  ASSERT_EQ(decode(s.bytes(), 0, &out, &used), kHuffmanOk);
  EXPECT_EQ(used, 10u);
  size_t dummy = 0;
  EXPECT_EQ(huffman_decode(s.bytes().data(), 10, nullptr, 0, &dummy), kHuffmanOk);
}

// Lengths 1, 2, ..., 15, 15 (symbol i < 15: i ones then a zero; symbol 15: fifteen ones):
// codes longer than the 9-bit lookup table, through both the 8-byte and the byte-wise reader.
TEST(Huffman, LongCodesDecodeThroughTheCanonicalFallback) {
  StreamSpec s;
  for (int i = 0; i < 15; ++i) s.lengths.push_back(i + 1);
  s.lengths.push_back(15);
  s.max_len = 15;
  std::vector<uint8_t> expected;
  for (int rep = 0; rep < 7; ++rep)
    for (int sym = 0; sym < 16; ++sym) {
      const int v = (sym * 7 + rep * 3) % 16;
      expected.push_back(static_cast<uint8_t>(v));
      s.bits += v < 15 ? std::string(v, '1') + "0" : std::string(15, '1');
    }
  s.count = static_cast<uint32_t>(expected.size());
  std::vector<uint8_t> out;
  size_t used = 0;
  ASSERT_EQ(decode(s.bytes(), expected.size(), &out, &used), kHuffmanOk);
  EXPECT_EQ(out, expected);
  EXPECT_EQ(used, s.bytes().size());
}

TEST(Huffman, HeaderHelpersReadTheHeaderOnly) {
  const std::vector<uint8_t> bytes = three_symbols().bytes();
  size_t n = 0, total = 0;
  EXPECT_EQ(huffman_decoded_count(bytes.data(), bytes.size(), &n), kHuffmanOk);
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(huffman_stream_bytes(bytes.data(), bytes.size(), &total), kHuffmanOk);
  EXPECT_EQ(total, 13u);
  HuffmanHeader h;
  ASSERT_EQ(huffman_read_header(bytes.data(), bytes.size(), &h), kHuffmanOk);
  EXPECT_EQ(h.n_symbols, 3);
  EXPECT_EQ(h.max_len, 2);
  EXPECT_EQ(h.header_bytes, 12u);
  EXPECT_EQ(h.payload_bytes, 1u);
  // A damaged payload is not the header's business; a missing payload byte is.
  std::vector<uint8_t> damaged = bytes;
  damaged.back() = 0xFF;
  EXPECT_EQ(huffman_decoded_count(damaged.data(), damaged.size(), &n), kHuffmanOk);
  EXPECT_EQ(huffman_decoded_count(bytes.data(), bytes.size() - 1, &n), kHuffmanTruncated);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(huffman_stream_bytes(bytes.data(), 9, &total), kHuffmanTruncated);
  EXPECT_EQ(huffman_stream_bytes(bytes.data(), bytes.size(), nullptr), kHuffmanInvalidArgument);
  EXPECT_EQ(huffman_decoded_count(nullptr, 5, &n), kHuffmanInvalidArgument);
}

TEST(Huffman, EveryKindOfDamageHasItsStatus) {
  const StreamSpec good = three_symbols();
  auto with = [&](auto change) {
    StreamSpec s = good;
    change(s);
    return decode(s.bytes(), s.count);
  };
  // Truncation: inside the fixed header, the length table, the declared payload; a payload that
  // that ends before the last code (6 symbols declared, 5 codes fill the payload's 8 bits).
  const std::vector<uint8_t> bytes = good.bytes();
  EXPECT_EQ(decode(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 9), 4), kHuffmanTruncated);
  EXPECT_EQ(decode(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 11), 4), kHuffmanTruncated);
  EXPECT_EQ(decode(std::vector<uint8_t>(bytes.begin(), bytes.end() - 1), 4), kHuffmanTruncated);
  EXPECT_EQ(with([](StreamSpec& s) { s.bits = "0" "10" "11" "0" "11"; s.count = 6; }), kHuffmanTruncated);
  // Code lengths.
  EXPECT_EQ(with([](StreamSpec& s) { s.lengths = {1, 1, 1}; s.max_len = 1; }), kHuffmanOversubscribed);
  EXPECT_EQ(with([](StreamSpec& s) { s.lengths = {1, 2, 0}; }), kHuffmanIncomplete);
  EXPECT_EQ(with([](StreamSpec& s) { s.lengths = {1, 0, 0}; s.max_len = 1; }), kHuffmanIncomplete);
  EXPECT_EQ(with([](StreamSpec& s) { s.lengths = {1, 2, 3}; }), kHuffmanBadMaxLength);   // 3 > max_len 2
  EXPECT_EQ(with([](StreamSpec& s) { s.max_len = 3; }), kHuffmanBadMaxLength);           // max_len unused
  EXPECT_EQ(with([](StreamSpec& s) { s.max_len = 16; }), kHuffmanBadMaxLength);          // above 15
  // Header.
  EXPECT_EQ(with([](StreamSpec& s) { s.max_len = 0; }), kHuffmanBadHeader);  // constant with payload
  std::vector<uint8_t> nibble = bytes;
  nibble[11] |= 0x30;  // the unused high nibble of an odd-sized length table
  EXPECT_EQ(decode(nibble, 4), kHuffmanBadHeader);
  // Count, padding, unused payload bytes.
  EXPECT_EQ(decode(bytes, 3), kHuffmanCountMismatch);
  EXPECT_EQ(decode(bytes, 5), kHuffmanCountMismatch);
  EXPECT_EQ(with([](StreamSpec& s) { s.pad_value = 1; }), kHuffmanNonzeroPadding);
  EXPECT_EQ(with([](StreamSpec& s) { s.bits += "00000000"; }), kHuffmanTrailingBytes);
  EXPECT_EQ(with([](StreamSpec& s) { s.count = 0; }), kHuffmanTrailingBytes);
  // Arguments.
  size_t used = 0;
  uint8_t out[4];
  EXPECT_EQ(huffman_decode(bytes.data(), bytes.size(), out, 4, nullptr), kHuffmanInvalidArgument);
  EXPECT_EQ(huffman_decode(bytes.data(), bytes.size(), nullptr, 4, &used), kHuffmanInvalidArgument);
  EXPECT_EQ(huffman_decode(nullptr, 13, out, 4, &used), kHuffmanInvalidArgument);
  EXPECT_EQ(huffman_decode(nullptr, 0, out, 4, &used), kHuffmanTruncated);
}

TEST(Huffman, EveryStatusHasADistinctName) {
  std::set<std::string> names;
  for (int st = kHuffmanOk; st <= kHuffmanSymbolOutOfRange; ++st) names.insert(huffman_status_str(st));
  EXPECT_EQ(names.size(), static_cast<size_t>(kHuffmanSymbolOutOfRange + 1));
  EXPECT_STREQ(huffman_status_str(kHuffmanTruncated), "truncated huffman stream");
  EXPECT_STREQ(huffman_status_str(99), "unknown huffman status");
}

}  // namespace
}  // namespace shrink::rt
