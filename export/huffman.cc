// Canonical Huffman encoder (huffman.h). Code lengths by package-merge (Larmore and Hirschberg's
// coin-collector formulation): each used symbol is a coin at every depth 1..L; the cheapest
// 2m - 2 items of the merged list at depth 1 select the coins, and a symbol's length is the
// number of its coins selected.
#include "export/huffman.h"

#include <algorithm>
#include <iterator>

#include "compress/ir/error.h"
#include "runtime/src/huffman.h"

namespace shrink::exporter {

namespace {

constexpr int kMaxLen = rt::kHuffmanMaxCodeLength;

/// The code of a stream, from the histogram alone (shared by the writer and the size function).
struct Plan {
  int n_symbols = 1;         ///< 1 + largest symbol present
  int max_len = 0;           ///< 0: constant stream
  std::vector<uint8_t> len;  ///< code length per symbol, n_symbols entries
  uint64_t payload_bits = 0;
  uint64_t header_bytes() const {
    return rt::kHuffmanFixedHeaderBytes + (max_len == 0 ? 0 : static_cast<uint64_t>(n_symbols + 1) / 2);
  }
  uint64_t payload_bytes() const { return (payload_bits + 7) / 8; }
};

Plan make_plan(const uint8_t* symbols, size_t n, const HuffmanOptions& o) {
  if (n > UINT32_MAX) throw BadInput("huffman: ", n, " symbols, at most 4294967295 fit a stream");
  const std::array<uint64_t, 256> hist = huffman_histogram(symbols, n);
  Plan p;
  for (int s = 0; s < 256; ++s)
    if (hist[s] != 0) p.n_symbols = s + 1;
  p.len = huffman_code_lengths(std::vector<uint64_t>(hist.begin(), hist.begin() + p.n_symbols), o.max_code_length);
  for (int s = 0; s < p.n_symbols; ++s) {
    p.max_len = std::max<int>(p.max_len, p.len[s]);
    p.payload_bits += hist[s] * p.len[s];
  }
  if (p.payload_bytes() > UINT32_MAX)
    throw BadInput("huffman: a payload of ", p.payload_bytes(), " bytes, at most 4294967295 fit a stream");
  return p;
}

}  // namespace

std::array<uint64_t, 256> huffman_histogram(const uint8_t* symbols, size_t n) {
  std::array<uint64_t, 256> h{};
  for (size_t i = 0; i < n; ++i) ++h[symbols[i]];
  return h;
}

std::vector<uint8_t> huffman_code_lengths(const std::vector<uint64_t>& freq, int max_code_length) {
  if (freq.empty() || freq.size() > 256)
    throw BadInput("huffman: ", freq.size(), " frequencies, expected 1..256");
  if (max_code_length < 1 || max_code_length > kMaxLen)
    throw BadInput("huffman: max_code_length ", max_code_length, ", expected 1..", kMaxLen);
  std::vector<int> used;  // symbols with a nonzero frequency, by (frequency, symbol)
  uint64_t total = 0;
  for (size_t s = 0; s < freq.size(); ++s) {
    if (freq[s] == 0) continue;
    used.push_back(static_cast<int>(s));
    if (freq[s] > (uint64_t{1} << 47) - total) throw BadInput("huffman: total frequency above 2^47");
    total += freq[s];
  }
  std::vector<uint8_t> len(freq.size(), 0);
  const size_t m = used.size();
  if (m < 2) return len;
  if (m > (size_t{1} << max_code_length))
    throw BadInput("huffman: ", m, " used symbols do not fit codes of at most ", max_code_length, " bits");
  std::stable_sort(used.begin(), used.end(), [&](int a, int b) { return freq[a] < freq[b]; });

  // Items: coins (leaf >= 0) and packages of two items (children a, b). A package at depth d
  // weighs at most 2^(L-d) times the total (< 2^47): below 2^62, no overflow.
  struct Item {
    uint64_t w;
    int leaf, a, b;
  };
  std::vector<Item> items;
  std::vector<int> coins(m), list(m);
  for (size_t i = 0; i < m; ++i) {
    items.push_back({freq[used[i]], used[i], -1, -1});
    coins[i] = list[i] = static_cast<int>(i);
  }
  for (int depth = max_code_length - 1; depth >= 1; --depth) {
    std::vector<int> packages;
    for (size_t j = 0; j + 1 < list.size(); j += 2) {
      packages.push_back(static_cast<int>(items.size()));
      items.push_back({items[list[j]].w + items[list[j + 1]].w, -1, list[j], list[j + 1]});
    }
    // A coin before a package of equal weight: deterministic, and fewer long codes. A coin id
    // stands for that symbol's coin at each depth: every occurrence below counts once.
    std::vector<int> merged;
    merged.reserve(coins.size() + packages.size());
    std::merge(coins.begin(), coins.end(), packages.begin(), packages.end(), std::back_inserter(merged),
               [&](int x, int y) { return items[x].w < items[y].w; });
    list.swap(merged);
  }
  std::vector<int> stack(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(2 * m - 2));
  while (!stack.empty()) {
    const Item it = items[stack.back()];
    stack.pop_back();
    if (it.leaf >= 0) {
      ++len[it.leaf];
    } else {
      stack.push_back(it.a);
      stack.push_back(it.b);
    }
  }
  return len;
}

std::vector<uint8_t> huffman_encode(const uint8_t* symbols, size_t n, const HuffmanOptions& o) {
  const Plan p = make_plan(symbols, n, o);
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(p.header_bytes() + p.payload_bytes()));
  auto put_u32 = [&](uint64_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  put_u32(n);
  put_u32(p.payload_bytes());
  out.push_back(static_cast<uint8_t>(p.n_symbols - 1));
  out.push_back(static_cast<uint8_t>(p.max_len));
  if (p.max_len == 0) return out;
  for (int s = 0; s < p.n_symbols; s += 2)
    out.push_back(static_cast<uint8_t>(p.len[s] | (s + 1 < p.n_symbols ? p.len[s + 1] << 4 : 0)));

  // Canonical codes: by length, then by symbol, counting up from 0 (as the decoder assumes).
  uint32_t count[kMaxLen + 1] = {}, next[kMaxLen + 1] = {};
  for (int s = 0; s < p.n_symbols; ++s) ++count[p.len[s]];
  count[0] = 0;
  uint32_t code = 0;
  for (int l = 1; l <= kMaxLen; ++l) next[l] = code = (code + count[l - 1]) << 1;
  std::vector<uint32_t> codes(p.n_symbols, 0);
  for (int s = 0; s < p.n_symbols; ++s)
    if (p.len[s] != 0) codes[s] = next[p.len[s]]++;

  // MSB first: the first bit of a code is the highest unused bit of the current byte.
  uint64_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t s = symbols[i];
    acc = acc << p.len[s] | codes[s];
    bits += p.len[s];
    while (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  if (bits > 0) out.push_back(static_cast<uint8_t>(acc << (8 - bits)));
  return out;
}

size_t huffman_encoded_size(const uint8_t* symbols, size_t n, const HuffmanOptions& o) {
  const Plan p = make_plan(symbols, n, o);
  return static_cast<size_t>(p.header_bytes() + p.payload_bytes());
}

}  // namespace shrink::exporter
