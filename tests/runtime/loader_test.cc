// Tests of the .shr loader (runtime/src/loader.cc, validate_graph.cc) on the hand-made model of
// tiny_shr.h: it loads and reads back exactly; each check rejects its crafted corruption with its
// status; truncations and bit flips never crash and never load.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "runtime/src/model.h"
#include "shr_format.h"
#include "shrink_rt.h"
#include "tests/runtime/tiny_shr.h"

namespace shrink::rt {
namespace {

using test::TinyShr;

Status load(const std::vector<uint8_t>& bytes, Model& m) { return load_model(bytes.data(), bytes.size(), m); }

Status load_patched(const std::function<void(TinyShr::Records&)>& patch) {
  TinyShr t;
  t.patch = patch;
  Model m;
  return load(t.build(), m);
}

/// Expects `s` to fail with `code` and a message containing `part`.
void expect_status(const Status& s, shrink_rt_status code, const std::string& part) {
  EXPECT_EQ(s.code, code) << s.message;
  EXPECT_NE(s.message.find(part), std::string::npos) << "message: " << s.message << "\nexpected to contain: " << part;
}

TEST(ShrFormat, Crc32MatchesTheStandardCheckValue) {
  const char* s = "123456789";
  EXPECT_EQ(shr::crc32(s, 9), 0xCBF43926u);
  EXPECT_EQ(shr::crc32_update(shr::crc32(s, 4), s + 4, 5), 0xCBF43926u);
  EXPECT_EQ(shr::crc32(s, 0), 0u);
}

TEST(ShrFormat, WindowOutputSizeFollowsThePyTorchRule) {
  EXPECT_EQ(shr::window_out(28, 5, 1, 1, 0, 0, false), 24);
  EXPECT_EQ(shr::window_out(5, 2, 2, 1, 0, 0, false), 2);
  EXPECT_EQ(shr::window_out(5, 2, 2, 1, 0, 0, true), 3);
  EXPECT_EQ(shr::window_out(4, 2, 2, 1, 1, 1, true), 3);  // last window would start in the end padding: dropped
  EXPECT_EQ(shr::window_out(2, 5, 1, 1, 0, 0, false), -1);
  EXPECT_EQ(shr::window_out(8, 3, 1, 2, 2, 2, false), 8);  // dilation 2: span 5
}

TEST(Loader, TinyModelLoadsWithEveryField) {
  TinyShr t;
  const std::vector<uint8_t> bytes = t.build();
  Model m;
  Status s = load(bytes, m);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(m.version, shr::kVersion);
  EXPECT_EQ(m.name, "tiny");
  ASSERT_EQ(m.labels.size(), 3u);
  EXPECT_EQ(m.labels[2], "c");
  EXPECT_EQ(m.mean, std::vector<float>{0.5f});
  EXPECT_EQ(m.std, std::vector<float>{0.25f});
  ASSERT_EQ(m.tensors.size(), 9u);
  ASSERT_EQ(m.ops.size(), 5u);
  EXPECT_EQ(m.inputs, std::vector<uint32_t>{0});
  EXPECT_EQ(m.outputs, std::vector<uint32_t>{8});

  const TensorDesc& w = m.tensors[2];
  EXPECT_EQ(w.storage, shr::Storage::Csr);
  EXPECT_EQ(w.rows, 2);
  EXPECT_EQ(w.cols, 9);
  EXPECT_EQ(w.nnz, 5u);
  EXPECT_EQ(w.fl_of(0), 6);
  EXPECT_EQ(w.fl_of(1), 5);
  const double dense_w[18] = {10, 0, 0, 0, -20, 0, 0, 0, 30, 0, -128, 0, 0, 0, 0, 0, 127, 0};
  for (int i = 0; i < 18; ++i) EXPECT_EQ(w.value_at(i), dense_w[i]) << i;
  EXPECT_EQ(w.stored_bytes, 5u + 3u + 5u + 2u);
  EXPECT_EQ(m.tensors[3].value_at(1), -50);
  EXPECT_EQ(m.tensors[3].fl_of(1), 9);

  const TensorDesc& cb = m.tensors[6];
  EXPECT_EQ(cb.storage, shr::Storage::Codebook);
  EXPECT_TRUE(cb.zero_reserved);
  for (int i = 0; i < 24; ++i) {
    EXPECT_EQ(cb.index_at(i), t.indices[static_cast<size_t>(i)]) << i;
    EXPECT_EQ(cb.value_at(i), t.centroids[t.indices[static_cast<size_t>(i)]]) << i;
  }

  const OpDesc& conv = m.ops[1];
  EXPECT_EQ(conv.code, shr::OpCode::Conv2d);
  EXPECT_EQ(conv.activation, shr::Activation::ReLU);
  EXPECT_TRUE(conv.acc32);
  EXPECT_EQ(conv.weight, 2u);
  EXPECT_EQ(conv.bias, 3u);
  EXPECT_EQ(conv.input(0), 1u);
  EXPECT_EQ(conv.clamp_hi, 127);
  // Views, not copies: the tensor data point into the caller's buffer.
  EXPECT_GE(w.values, bytes.data());
  EXPECT_LT(w.values, bytes.data() + bytes.size());
}

TEST(Loader, CApiLoadsAndInspects) {
  const std::vector<uint8_t> bytes = TinyShr().build();
  shrink_rt_model* m = nullptr;
  char err[256] = "unchanged";
  ASSERT_EQ(shrink_rt_load(bytes.data(), bytes.size(), &m, err, sizeof err), SHRINK_RT_OK);
  EXPECT_STREQ(err, "");
  EXPECT_STREQ(shrink_rt_model_name(m), "tiny");
  EXPECT_EQ(shrink_rt_format_version(m), 1);
  EXPECT_EQ(shrink_rt_model_size(m), bytes.size());
  EXPECT_EQ(shrink_rt_tensor_count(m), 9);
  EXPECT_EQ(shrink_rt_op_count(m), 5);
  EXPECT_EQ(shrink_rt_input_tensor(m, 0), 0);
  EXPECT_EQ(shrink_rt_output_tensor(m, 0), 8);
  EXPECT_EQ(shrink_rt_output_tensor(m, 1), -1);
  EXPECT_STREQ(shrink_rt_label(m, 1), "b");
  EXPECT_EQ(shrink_rt_input_mean(m, 0), 0.5f);
  EXPECT_EQ(shrink_rt_input_std(m, 0), 0.25f);
  shrink_rt_tensor_info ti;
  ASSERT_EQ(shrink_rt_tensor_info_get(m, 6, &ti), SHRINK_RT_OK);
  EXPECT_STREQ(ti.name, "fc.weight");
  EXPECT_EQ(ti.storage, SHRINK_RT_CODEBOOK);
  EXPECT_EQ(ti.dtype, SHRINK_RT_I8);
  EXPECT_EQ(ti.index_bits, 2);
  EXPECT_EQ(ti.rank, 2);
  EXPECT_EQ(ti.dims[1], 8);
  EXPECT_EQ(ti.numel, 24);
  EXPECT_EQ(ti.fl, 5);
  EXPECT_EQ(ti.stored_bytes, 4u + 6u);
  EXPECT_EQ(shrink_rt_tensor_info_get(m, 9, &ti), SHRINK_RT_INVALID_ARGUMENT);
  shrink_rt_op_info oi;
  ASSERT_EQ(shrink_rt_op_info_get(m, 3, &oi), SHRINK_RT_OK);
  EXPECT_STREQ(oi.op, "Linear");
  EXPECT_EQ(oi.weight, 6);
  EXPECT_EQ(oi.bias, -1);
  EXPECT_EQ(shrink_rt_op_input(m, 3, 0), 5);
  shrink_rt_free(m);
}

TEST(Loader, CApiReportsFailuresWithAMessage) {
  std::vector<uint8_t> bytes = TinyShr().build();
  bytes[0] = 'X';
  shrink_rt_model* m = reinterpret_cast<shrink_rt_model*>(&bytes);  // must be reset to NULL
  char err[16];
  EXPECT_EQ(shrink_rt_load(bytes.data(), bytes.size(), &m, err, sizeof err), SHRINK_RT_NOT_A_MODEL);
  EXPECT_EQ(m, nullptr);
  EXPECT_EQ(std::string(err), "not a .shr mode");  // truncated to the buffer, NUL-terminated
  EXPECT_EQ(shrink_rt_load(bytes.data(), bytes.size(), nullptr, nullptr, 0), SHRINK_RT_INVALID_ARGUMENT);
  EXPECT_EQ(shrink_rt_load(nullptr, 10, &m, nullptr, 0), SHRINK_RT_INVALID_ARGUMENT);
  shrink_rt_free(nullptr);
}

TEST(Loader, LoadsFromAFileAndNamesMissingOrCutFiles) {
  const std::vector<uint8_t> bytes = TinyShr().build();
  const std::string path = ::testing::TempDir() + "tiny_loader_test.shr";
  for (size_t size : {bytes.size(), bytes.size() - 64}) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(bytes.data(), 1, size, f);
    std::fclose(f);
    shrink_rt_model* m = nullptr;
    char err[256];
    const shrink_rt_status s = shrink_rt_load_file(path.c_str(), &m, err, sizeof err);
    if (size == bytes.size()) {
      ASSERT_EQ(s, SHRINK_RT_OK) << err;
      EXPECT_EQ(shrink_rt_tensor_count(m), 9);
      shrink_rt_free(m);
    } else {
      EXPECT_EQ(s, SHRINK_RT_CORRUPT_MODEL);
      EXPECT_NE(std::string(err).find("truncated"), std::string::npos) << err;
    }
  }
  std::remove(path.c_str());
  shrink_rt_model* m = nullptr;
  char err[256];
  EXPECT_EQ(shrink_rt_load_file((path + ".missing").c_str(), &m, err, sizeof err), SHRINK_RT_IO_ERROR);
  EXPECT_NE(std::string(err).find(".missing"), std::string::npos) << err;
}

TEST(Loader, RejectsAnUnalignedBuffer) {
  const std::vector<uint8_t> bytes = TinyShr().build();
  std::vector<uint8_t> shifted(bytes.size() + 8);
  std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
  Model m;
  expect_status(load_model(shifted.data() + 1, bytes.size(), m), SHRINK_RT_INVALID_ARGUMENT, "aligned");
}

// --- header, sections, CRC, padding -------------------------------------------------------------

TEST(Loader, WrongMagicIsNotAModel) {
  std::vector<uint8_t> bytes = TinyShr().build();
  bytes[1] = 'Z';
  Model m;
  expect_status(load(bytes, m), SHRINK_RT_NOT_A_MODEL, "magic");
  expect_status(load_model(bytes.data(), 0, m), SHRINK_RT_NOT_A_MODEL, "empty");
}

TEST(Loader, NewerVersionIsRefusedWithBothNumbers) {
  expect_status(load_patched([](TinyShr::Records& r) { r.header.version = 7; }), SHRINK_RT_UNSUPPORTED,
                "format version 7 is newer than this runtime's version 1");
  expect_status(load_patched([](TinyShr::Records& r) { r.header.version = 0; }), SHRINK_RT_CORRUPT_MODEL, "version 0");
}

TEST(Loader, CrcMismatchesAreChecksumErrors) {
  const std::vector<uint8_t> good = TinyShr().build();
  Model m;
  std::vector<uint8_t> bytes;
  // One byte flipped inside each section in turn (located through the section table).
  for (uint32_t i = 0; i < 9; ++i) {
    shr::SectionEntry e;
    std::memcpy(&e, good.data() + 64 + 32 * i, sizeof e);
    if (e.size == 0) continue;
    bytes = good;
    bytes[e.offset + e.size / 2] ^= 0x40;
    expect_status(load(bytes, m), SHRINK_RT_CHECKSUM_MISMATCH, "CRC-32 mismatch");
  }
  bytes = good;
  bytes[20] ^= 0x01;  // header reserved field: covered by the header CRC
  expect_status(load(bytes, m), SHRINK_RT_CHECKSUM_MISMATCH, "header CRC-32");
  bytes = good;
  bytes[64 + 8] ^= 0x01;  // section table entry 0 offset
  expect_status(load(bytes, m), SHRINK_RT_CHECKSUM_MISMATCH, "header CRC-32");
}

TEST(Loader, NonzeroPaddingIsCorrupt) {
  const std::vector<uint8_t> good = TinyShr().build();
  shr::SectionEntry strings;
  std::memcpy(&strings, good.data() + 64, sizeof strings);
  ASSERT_NE(strings.size % 64, 0u);
  Model m;
  std::vector<uint8_t> bytes = good;
  bytes[strings.offset + strings.size] = 0xAA;  // right after the Strings section
  expect_status(load(bytes, m), SHRINK_RT_CORRUPT_MODEL, "padding byte");
  bytes = good;
  bytes[64 + 32 * 9] = 1;  // between the section table and the first section
  expect_status(load(bytes, m), SHRINK_RT_CORRUPT_MODEL, "padding byte");
}

TEST(Loader, HeaderAndSectionTableChecks) {
  expect_status(load_patched([](TinyShr::Records& r) { r.header.flags |= 0x80; }), SHRINK_RT_UNSUPPORTED, "unknown flags");
  expect_status(load_patched([](TinyShr::Records& r) { r.header.section_count = 40; }), SHRINK_RT_CORRUPT_MODEL,
                "section_count 40");
  expect_status(load_patched([](TinyShr::Records& r) { r.header.section_count = 8; }), SHRINK_RT_CORRUPT_MODEL,
                "section Strings: offset 384, expected 320");
  expect_status(load_patched([](TinyShr::Records& r) { r.header.file_size = 1 << 20; }), SHRINK_RT_CORRUPT_MODEL,
                "truncated: the file has 2816 bytes, the header says 1048576");
  expect_status(load_patched([](TinyShr::Records& r) { r.header.reserved1[3] = 1; }), SHRINK_RT_CORRUPT_MODEL, "reserved");
}

TEST(Loader, TrailingBytesAreCorrupt) {
  std::vector<uint8_t> bytes = TinyShr().build();
  bytes.resize(bytes.size() + 64, 0);
  Model m;
  expect_status(load(bytes, m), SHRINK_RT_CORRUPT_MODEL, "trailing bytes");
}

TEST(Loader, EveryTruncationIsRefusedWithoutACrash) {
  const std::vector<uint8_t> bytes = TinyShr().build();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(n));  // its own allocation
    Model m;
    Status s = load_model(cut.empty() ? bytes.data() : cut.data(), n, m);
    ASSERT_FALSE(s.ok()) << "a file cut to " << n << " of " << bytes.size() << " bytes loaded";
    EXPECT_TRUE(s.code == SHRINK_RT_CORRUPT_MODEL || s.code == SHRINK_RT_NOT_A_MODEL) << n << ": " << s.message;
    EXPECT_FALSE(s.message.empty());
  }
}

TEST(Loader, EverySingleBitFlipIsDetected) {
  const std::vector<uint8_t> good = TinyShr().build();
  std::vector<uint8_t> bytes = good;
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      bytes[i] ^= static_cast<uint8_t>(1u << bit);
      Model m;
      Status s = load(bytes, m);
      ASSERT_FALSE(s.ok()) << "bit " << bit << " of byte " << i << " flipped and the model still loaded";
      bytes[i] = good[i];
    }
  }
}

TEST(Loader, RandomMultiByteDamageNeverCrashes) {
  const std::vector<uint8_t> good = TinyShr().build();
  std::mt19937_64 rng(42);
  int loaded = 0;
  for (int it = 0; it < 3000; ++it) {
    std::vector<uint8_t> bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < flips; ++k) bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    Model m;
    loaded += load(bytes, m).ok();
  }
  EXPECT_EQ(loaded, 0);
}

// With valid CRCs: random damage to the records themselves. The loader must answer with a status
// and never read out of bounds (run under ASan / UBSan in CI); most variants are refused.
TEST(Loader, RandomRecordDamageWithValidCrcsNeverCrashes) {
  std::mt19937_64 rng(7);
  int refused = 0;
  const int runs = 3000;
  for (int it = 0; it < runs; ++it) {
    TinyShr t;
    t.patch = [&](TinyShr::Records& r) {
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) {
        const size_t which = rng() % 3;
        uint8_t* p;
        size_t n;
        if (which == 0) {
          p = reinterpret_cast<uint8_t*>(r.tensors.data());
          n = r.tensors.size() * sizeof(shr::TensorRecord);
        } else if (which == 1) {
          p = reinterpret_cast<uint8_t*>(r.ops.data());
          n = r.ops.size() * sizeof(shr::OpRecord);
        } else {
          p = reinterpret_cast<uint8_t*>(&r.meta);
          n = sizeof r.meta;
        }
        p[rng() % n] = static_cast<uint8_t>(rng());
      }
    };
    Model m;
    Status s = load(t.build(), m);
    if (!s.ok()) {
      ++refused;
      EXPECT_FALSE(s.message.empty());
    }
  }
  EXPECT_GT(refused, runs * 9 / 10);
}

// --- record checks -------------------------------------------------------------------------------

TEST(Loader, TensorIdOutOfRange) {
  expect_status(load_patched([](TinyShr::Records& r) { r.ops[2].output = 9; }), SHRINK_RT_CORRUPT_MODEL,
                "op 2 'flatten': output tensor id 9, but there are 9 tensors");
  expect_status(load_patched([](TinyShr::Records& r) { r.op_inputs[1] = 1000; }), SHRINK_RT_CORRUPT_MODEL, "tensor id 1000");
  expect_status(load_patched([](TinyShr::Records& r) { r.ops[1].bias = 77; }), SHRINK_RT_CORRUPT_MODEL, "bias tensor id 77");
  expect_status(load_patched([](TinyShr::Records& r) { r.io[1] = 12; }), SHRINK_RT_CORRUPT_MODEL, "graph output 0");
  expect_status(load_patched([](TinyShr::Records& r) { r.ops[3].input_first = 5; }), SHRINK_RT_CORRUPT_MODEL, "OpInputs");
}

TEST(Loader, FormatLimits) {
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[4].fl = 25; }), SHRINK_RT_CORRUPT_MODEL,
                "fl 25 is outside -8..24");
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[4].fl = -9; }), SHRINK_RT_CORRUPT_MODEL, "fl -9");
  expect_status(load_patched([](TinyShr::Records& r) {
                  r.tensors[7].dtype = static_cast<uint8_t>(shr::DType::I16);
                  r.tensors[7].bits = 17;
                }),
                SHRINK_RT_CORRUPT_MODEL, "bits 17 is outside 9..16");
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[7].bits = 1; }), SHRINK_RT_CORRUPT_MODEL, "bits 1");
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[7].bits = 12; }), SHRINK_RT_CORRUPT_MODEL,
                "outside 2..8 for i8");
  // A per-channel FL out of range (in the Data section).
  TinyShr t;
  t.conv_fls = {6, 25};
  Model m;
  expect_status(load(t.build(), m), SHRINK_RT_CORRUPT_MODEL, "channel FL 25");
  // A weight outside its bit width: 127 does not fit in 6 bits.
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[2].bits = 6; }), SHRINK_RT_CORRUPT_MODEL,
                "outside the 6-bit range -32..31");
}

TEST(Loader, UnknownEnumValuesAreUnsupported) {
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[4].dtype = 9; }), SHRINK_RT_UNSUPPORTED, "unknown dtype 9");
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[2].encoding = shr::kLastEncoding + 1; }),
                SHRINK_RT_UNSUPPORTED, "unknown encoding 2");
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[2].storage = shr::kLastStorage + 1; }), SHRINK_RT_UNSUPPORTED,
                "unknown storage 4");
  expect_status(load_patched([](TinyShr::Records& r) { r.ops[1].opcode = 300; }), SHRINK_RT_UNSUPPORTED, "unknown opcode 300");
}

TEST(Loader, ShapeChecks) {
  expect_status(load_patched([](TinyShr::Records& r) {
                  r.tensors[4].dims[0] = 65536;
                  r.tensors[4].dims[1] = 65536;
                }),
                SHRINK_RT_CORRUPT_MODEL, "more than 2147483647 elements");
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[4].dims[1] = 0; }), SHRINK_RT_CORRUPT_MODEL, "dims[1] is 0");
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[4].rank = 5; }), SHRINK_RT_CORRUPT_MODEL, "rank 5");
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[4].dims[3] = 2; }), SHRINK_RT_CORRUPT_MODEL, "beyond rank");
  // Output shape inconsistent with the conv window.
  expect_status(load_patched([](TinyShr::Records& r) {
                  r.tensors[4].dims[1] = r.tensors[4].dims[2] = 3;
                  r.tensors[5].dims[0] = 18;
                }),
                SHRINK_RT_CORRUPT_MODEL, "op 1 'conv' (Conv2d): output [2, 3, 3] disagrees with input [1, 4, 4]");
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[5].dims[0] = 9; }), SHRINK_RT_CORRUPT_MODEL,
                "differ in size");
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[7].dims[0] = 4; }), SHRINK_RT_CORRUPT_MODEL,
                "expected weight [out, in]");
}

TEST(Loader, CsrChecks) {
  Model m;
  TinyShr t;
  t.conv_row_ptr = {0, 3, 2};
  expect_status(load(t.build(), m), SHRINK_RT_CORRUPT_MODEL, "row_ptr is not monotone");
  t = TinyShr();
  t.conv_row_ptr = {0, 3, 4};
  expect_status(load(t.build(), m), SHRINK_RT_CORRUPT_MODEL, "row_ptr[rows] is 4, expected nnz 5");
  t = TinyShr();
  t.conv_row_ptr = {1, 3, 5};
  expect_status(load(t.build(), m), SHRINK_RT_CORRUPT_MODEL, "row_ptr[0] is 1");
  t = TinyShr();
  t.conv_cols = {0, 4, 9, 1, 7};
  expect_status(load(t.build(), m), SHRINK_RT_CORRUPT_MODEL, "column index 9 (entry 2, row 0) is not below 9 columns");
  t = TinyShr();
  t.conv_cols = {0, 4, 4, 1, 7};
  expect_status(load(t.build(), m), SHRINK_RT_CORRUPT_MODEL, "not strictly increasing");
  // nnz disagreeing with the stored arrays.
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[2].nnz = 4; }), SHRINK_RT_CORRUPT_MODEL,
                "values (part 0) has 5 bytes, expected 4");
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[2].nnz = 19; }), SHRINK_RT_CORRUPT_MODEL,
                "nnz 19 exceeds the 18 elements");
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[2].col_type = 3; }), SHRINK_RT_CORRUPT_MODEL,
                "column index type 3");
}

TEST(Loader, CodebookChecks) {
  Model m;
  TinyShr t;
  t.centroids = {0, 16, -16};  // 3 centroids: index 3 is out of range
  Status s = load(t.build(), m);
  expect_status(s, SHRINK_RT_CORRUPT_MODEL, "codebook index 3 of element");
  t = TinyShr();
  t.centroids = {0, 16, -16, 32, 1};  // 5 > 2^2
  expect_status(load(t.build(), m), SHRINK_RT_CORRUPT_MODEL, "centroid_count 5 is outside 1..4");
  t = TinyShr();
  t.centroids = {3, 16, -16, 32};
  expect_status(load(t.build(), m), SHRINK_RT_CORRUPT_MODEL, "zero_reserved is set but centroid 0 is 3");
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[6].index_bits = 9; }), SHRINK_RT_CORRUPT_MODEL,
                "index_bits 9");
  // index_bits 3 with the same part: the packed size no longer matches (24 * 3 bits = 9 bytes).
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[6].index_bits = 3; }), SHRINK_RT_CORRUPT_MODEL,
                "has 6 bytes, expected 9");
}

TEST(Loader, CodebookUnusedBitsMustBeZero) {
  Model m;
  TinyShr t;
  t.conv_codebook = true;  // 18 indices of 2 bits: 36 bits in 5 bytes
  const std::vector<uint8_t> bytes = t.build();  // the model views these bytes: keep them alive
  Status s = load(bytes, m);
  ASSERT_TRUE(s.ok()) << s.message;
  const double centroids[4] = {0, 10, -20, 30};
  for (int i = 0; i < 18; ++i) EXPECT_EQ(m.tensors[2].value_at(i), centroids[i % 4]) << i;
  t.conv_codebook_last_or = 0x10;
  expect_status(load(t.build(), m), SHRINK_RT_CORRUPT_MODEL, "unused bits of the last codebook index byte");
}

TEST(Loader, UnpackIndexReadsAcrossByteBoundaries) {
  const uint8_t packed[2] = {0xFF, 0x01};  // 3-bit indices: index 2 is bits 6, 7 of byte 0 and bit 0 of byte 1
  EXPECT_EQ(unpack_index(packed, 3, 0), 7u);
  EXPECT_EQ(unpack_index(packed, 3, 1), 7u);
  EXPECT_EQ(unpack_index(packed, 3, 2), 7u);
  const uint8_t five[2] = {0xA0, 0x03};  // 5-bit indices: index 0 = 0b00000, index 1 = bits 5..9 = 0b11101
  EXPECT_EQ(unpack_index(five, 5, 0), 0u);
  EXPECT_EQ(unpack_index(five, 5, 1), 0x1Du);
}

TEST(Loader, GraphChecks) {
  // Ops out of order: the conv reads a tensor no earlier op produced.
  expect_status(load_patched([](TinyShr::Records& r) { std::swap(r.ops[0], r.ops[1]); }), SHRINK_RT_CORRUPT_MODEL,
                "is not a graph input and no earlier op produces it");
  // Bias FL not FL_x + FL_w.
  TinyShr t;
  t.conv_bias_fls = {10, 10};
  Model m;
  expect_status(load(t.build(), m), SHRINK_RT_CORRUPT_MODEL, "bias FL 10 of channel 1 is not FL_x + FL_w = 4 + 5");
  // Clamp disagreeing with the fused ReLU.
  expect_status(load_patched([](TinyShr::Records& r) { r.ops[1].clamp_lo = -128; }), SHRINK_RT_CORRUPT_MODEL,
                "clamp [-128, 127], expected [0, 127]");
  // Flatten must keep the format.
  expect_status(load_patched([](TinyShr::Records& r) { r.tensors[5].fl = 2; }), SHRINK_RT_CORRUPT_MODEL,
                "must have the same format");
  // A float op fed integers.
  expect_status(load_patched([](TinyShr::Records& r) { r.ops[4].opcode = static_cast<uint16_t>(shr::OpCode::Softmax); }),
                SHRINK_RT_CORRUPT_MODEL, "Softmax runs in float");
  // A constant as an activation input, an activation as a weight.
  expect_status(load_patched([](TinyShr::Records& r) { r.op_inputs[2] = 2; }), SHRINK_RT_CORRUPT_MODEL, "is the constant");
  expect_status(load_patched([](TinyShr::Records& r) { r.ops[3].weight = 5; }), SHRINK_RT_CORRUPT_MODEL, "is not a constant");
  // Two ops writing one tensor.
  expect_status(load_patched([](TinyShr::Records& r) { r.ops[2].output = 4; }), SHRINK_RT_CORRUPT_MODEL,
                "output of an earlier op");
  // Normalization with 3 values for 1 input channel.
  TinyShr n;
  n.norm = {0.1f, 0.2f, 0.3f, 1.0f};
  n.patch = [](TinyShr::Records& r) { r.meta.mean_count = 3; };
  expect_status(load(n.build(), m), SHRINK_RT_CORRUPT_MODEL, "3 values, expected 0, 1 or 1");
}

TEST(Loader, Acc32RuleAtItsLimits) {
  EXPECT_TRUE(shr::acc32_safe(60, 8, 100));
  EXPECT_TRUE(shr::acc32_safe(65535, 16, 32767));   // 65535 * 2^15 + 32767 = 2^31 - 1
  EXPECT_FALSE(shr::acc32_safe(65535, 16, 32768));  // = 2^31
  EXPECT_FALSE(shr::acc32_safe(65536, 16, 0));
  EXPECT_FALSE(shr::acc32_safe(uint64_t{1} << 50, 8, 0));
}

TEST(Loader, FalseAcc32ClaimIsRefused) {
  // A bias of 2^31 - 1 on channel 0: sum|q_w| * 2^7 + |q_b| >= 2^31.
  TinyShr t;
  t.conv_bias = {2147483647, -50};
  Model m;
  expect_status(load(t.build(), m), SHRINK_RT_CORRUPT_MODEL, "the acc32 flag is set but channel 0");
  t.patch = [](TinyShr::Records& r) { r.ops[1].flags = 0; };
  EXPECT_TRUE(load(t.build(), m).ok());
}


// --- Regressions of the fuzzing work (fuzz/shr_loader_fuzzer.cc, docs/fuzzing.md) -------------

/// The tiny model with conv pads `pad` and stride `stride` on both axes and a [2, 3, 3] conv
/// output (Flatten [18], Linear weight [3, 18]).
TinyShr tiny_with_conv_window(uint32_t pad, uint32_t stride) {
  TinyShr t;
  t.indices.assign(3 * 18, 1);
  t.patch = [pad, stride](TinyShr::Records& r) {
    for (uint32_t& p : r.ops[1].pads) p = pad;
    r.ops[1].stride[0] = r.ops[1].stride[1] = stride;
    r.tensors[4].dims[1] = r.tensors[4].dims[2] = 3;
    r.tensors[5].dims[0] = 18;
    r.tensors[6].dims[1] = 18;
  };
  return t;
}

TEST(LoaderFuzzRegression, WindowPositionsPastInt32AreRefused) {
  // Pads and stride 2^31 - 1 give a 3x3 output whose last window starts at 2 * stride - pad,
  // past INT32_MAX in the kernels' int arithmetic: replayed by the fuzz target, UBSan reported a
  // signed overflow in im2col_row (the same sum is in for_each_tap and the pooling windows).
  const TinyShr bad = tiny_with_conv_window(0x7FFFFFFFu, 0x7FFFFFFFu);
  Model m;
  expect_status(load(bad.build(), m), SHRINK_RT_CORRUPT_MODEL,
                "input 4 + pads 2147483647 + 2147483647 + stride 2147483647 along axis 1 exceed 2^31 - 1");
  // At the limit (4 + 2 * 715827881 + 715827881 = 2^31 - 1) the model loads and runs: the middle
  // window row starts at stride - pad = 0.
  const TinyShr edge = tiny_with_conv_window(715827881u, 715827881u);
  const std::vector<uint8_t> bytes = edge.build();
  shrink_rt_model* cm = nullptr;
  char err[256] = "";
  ASSERT_EQ(shrink_rt_load(bytes.data(), bytes.size(), &cm, err, sizeof err), SHRINK_RT_OK) << err;
  std::vector<uint8_t> arena(shrink_rt_arena_size(cm));
  std::vector<float> x(16, 1.0f), y(3);
  ASSERT_EQ(shrink_rt_set_input_f32(cm, arena.data(), arena.size(), 0, x.data(), x.size()), SHRINK_RT_OK);
  EXPECT_EQ(shrink_rt_run(cm, arena.data(), arena.size()), SHRINK_RT_OK);
  EXPECT_EQ(shrink_rt_get_output_f32(cm, arena.data(), 0, y.data(), y.size()), SHRINK_RT_OK);
  shrink_rt_free(cm);
}

}  // namespace
}  // namespace shrink::rt
