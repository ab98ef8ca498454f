// Codebook weights: the LSB-first packing documented in kernels.h, checked on hand-packed bytes
// and against a bit-by-bit packer written here; expansion runs the dense kernels exactly.
#include <gtest/gtest.h>

#include <vector>

#include "kernels_testing.h"

namespace {

using namespace kt;

/// Packs indices bit by bit: bit t of the stream is bit (t % 8) of byte t / 8.
std::vector<uint8_t> pack(const std::vector<uint32_t>& idx, int b) {
  std::vector<uint8_t> out((idx.size() * b + 7) / 8, 0);
  size_t t = 0;
  for (uint32_t v : idx)
    for (int i = 0; i < b; ++i, ++t)
      if ((v >> i) & 1u) out[t / 8] |= static_cast<uint8_t>(1u << (t % 8));
  return out;
}

TEST(KernelsCodebook, DocumentedExample) {
  // kernels.h: b = 3, indices 5, 2, 7 -> 0xD5, 0x01
  const std::vector<uint8_t> bytes = pack({5, 2, 7}, 3);
  EXPECT_EQ(bytes, (std::vector<uint8_t>{0xD5, 0x01}));
  const int8_t centroids[8] = {0, 10, 20, 30, 40, 50, 60, 70};
  int8_t out[3];
  k::codebook_expand_s8(bytes.data(), 3, 3, centroids, out);
  EXPECT_EQ(out[0], 50);
  EXPECT_EQ(out[1], 20);
  EXPECT_EQ(out[2], 70);
}

TEST(KernelsCodebook, EveryWidthRoundTrips) {
  Rng rng(51);
  for (int b = 1; b <= 8; ++b)
    for (size_t n : {size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{63}, size_t{1000}}) {
      std::vector<uint32_t> idx(n);
      for (auto& v : idx) v = static_cast<uint32_t>(uniform(rng, 0, (1 << b) - 1));
      const std::vector<uint8_t> bytes = pack(idx, b);
      ASSERT_EQ(bytes.size(), shrink::shr::packed_index_bytes(n, b));
      std::vector<int16_t> c16(size_t{1} << b);
      std::vector<int8_t> c8(size_t{1} << b);
      std::vector<float> cf(size_t{1} << b);
      for (size_t i = 0; i < c16.size(); ++i) {
        c16[i] = static_cast<int16_t>(uniform(rng, -32768, 32767));
        c8[i] = static_cast<int8_t>(uniform(rng, -128, 127));
        cf[i] = static_cast<float>(c8[i]) * 0.25f;
      }
      std::vector<int16_t> o16(n);
      std::vector<int8_t> o8(n);
      std::vector<float> of(n);
      k::codebook_expand_s16(bytes.data(), n, b, c16.data(), o16.data());
      k::codebook_expand_s8(bytes.data(), n, b, c8.data(), o8.data());
      k::codebook_expand_f32(bytes.data(), n, b, cf.data(), of.data());
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(k::codebook_index(bytes.data(), i, b), idx[i]) << "b " << b << " i " << i;
        ASSERT_EQ(o16[i], c16[idx[i]]);
        ASSERT_EQ(o8[i], c8[idx[i]]);
        ASSERT_EQ(of[i], cf[idx[i]]);
      }
    }
}

TEST(KernelsCodebook, ExpandedLayerRunsTheDenseKernelExactly) {
  // A 4-bit codebook with a reserved zero: y = requantize(sum x * centroid[index]).
  Rng rng(52);
  const int in = 37, out = 9;
  std::vector<uint32_t> idx(static_cast<size_t>(in) * out);
  for (auto& v : idx) v = static_cast<uint32_t>(uniform(rng, 0, 15));
  std::vector<int8_t> cent(16);
  for (size_t i = 1; i < 16; ++i) cent[i] = static_cast<int8_t>(uniform(rng, -128, 127));
  const std::vector<uint8_t> bytes = pack(idx, 4);
  std::vector<int8_t> w(idx.size());
  k::codebook_expand_s8(bytes.data(), w.size(), 4, cent.data(), w.data());
  QBuf x = random_q(rng, 8, static_cast<size_t>(in), Fill::kUniform, 3);
  const int8_t fl_w = 6;
  QBuf y(8, 1, static_cast<size_t>(out));
  std::vector<uint8_t> scratch(k::dense_q_scratch_size({1, in, out, k::Act::kNone}, 8, 8));
  k::dense_q({1, in, out, k::Act::kNone}, x.in(), w.data(), {8, &fl_w, 1, nullptr, false}, y.out(), scratch.data());
  for (int o = 0; o < out; ++o) {
    int64_t acc = 0;
    for (int i = 0; i < in; ++i) acc += x.get(static_cast<size_t>(i)) * cent[idx[static_cast<size_t>(o) * in + i]];
    EXPECT_EQ(y.get(static_cast<size_t>(o)), naive_requant(acc, 3 + 6 - 1, 8, -128, 127));
  }
}

}  // namespace
