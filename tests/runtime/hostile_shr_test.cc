// Hostile .shr files (issue 9, item 3): every case is a crafted or randomly damaged model that
// the C API (load + arena plan) must refuse with a status and a message, never a crash. CRCs are
// recomputed (tiny_shr.h fix_crcs) where the damage must reach the checks behind them. The
// fuzz build (fuzz/, ASan + UBSan) replays the same kinds of damage; docs/security.md lists
// what the loader checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "runtime/src/model.h"
#include "shr_format.h"
#include "shrink_rt.h"
#include "tests/runtime/tiny_shr.h"

namespace shrink::test {
namespace {

struct Loaded {
  shrink_rt_status code = SHRINK_RT_OK;
  std::string message;
  std::vector<float> y;  ///< output 0 of a run on a fixed input, when the model loads and runs
  int tensors = 0, ops = 0;
};

/// Loads and plans `bytes` through the C API; runs the model once when it loads.
Loaded load(const std::vector<uint8_t>& bytes) {
  shrink_rt_model* m = nullptr;
  char msg[512] = "";
  Loaded r;
  r.code = shrink_rt_load(bytes.data(), bytes.size(), &m, msg, sizeof msg);
  r.message = msg;
  if (r.code != SHRINK_RT_OK) {
    EXPECT_EQ(m, nullptr);
    return r;
  }
  const size_t n = shrink_rt_arena_size(m);
  if (n <= (size_t{64} << 20)) {
    std::vector<uint8_t> arena(n);
    std::vector<float> x(16);
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f * static_cast<float>(i) - 1.0f;
    std::vector<float> y(3);
    if (shrink_rt_set_input_f32(m, arena.data(), n, 0, x.data(), x.size()) == SHRINK_RT_OK &&
        shrink_rt_run(m, arena.data(), n) == SHRINK_RT_OK &&
        shrink_rt_get_output_f32(m, arena.data(), 0, y.data(), y.size()) == SHRINK_RT_OK)
      r.y = y;
  }
  r.tensors = shrink_rt_tensor_count(m);
  r.ops = shrink_rt_op_count(m);
  shrink_rt_free(m);
  return r;
}

Loaded load_patched(const std::function<void(TinyShr::Records&)>& patch) {
  TinyShr t;
  t.patch = patch;
  return load(t.build());
}

/// The load failed with `code` and a one-line message containing `part`.
void expect_refused(const Loaded& r, shrink_rt_status code, const std::string& part) {
  EXPECT_EQ(r.code, code) << r.message;
  EXPECT_NE(r.message.find(part), std::string::npos) << "message: " << r.message << "\nexpected: " << part;
  EXPECT_EQ(r.message.find('\n'), std::string::npos) << r.message;
}

/// The load failed with some status and a message.
void expect_any_refusal(const Loaded& r, const std::string& what) {
  EXPECT_NE(r.code, SHRINK_RT_OK) << what << " loaded";
  EXPECT_FALSE(r.message.empty()) << what;
}

// --- random damage ------------------------------------------------------------------------------

TEST(HostileShr, TruncationsAtRandomOffsetsAreRefused) {
  const std::vector<uint8_t> good = TinyShr().build();
  std::mt19937_64 rng(91);
  for (int it = 0; it < 300; ++it) {
    const size_t n = static_cast<size_t>(rng() % good.size());
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    if (cut.empty()) cut.reserve(1);  // a valid pointer for the empty buffer
    expect_any_refusal(load(cut), "a cut to " + std::to_string(n) + " bytes");
    if (n < sizeof(shr::FileHeader)) continue;
    // The header then claims the cut size and every CRC matches: the section table must catch it.
    const uint64_t size = n;
    std::memcpy(cut.data() + offsetof(shr::FileHeader, file_size), &size, 8);
    fix_crcs(cut.data(), cut.size());
    expect_any_refusal(load(cut), "a cut to " + std::to_string(n) + " bytes with fixed size and CRCs");
  }
}

TEST(HostileShr, BitFlipsAtRandomOffsetsAreRefused) {
  const std::vector<uint8_t> good = TinyShr().build();
  std::mt19937_64 rng(92);
  for (int it = 0; it < 2000; ++it) {
    std::vector<uint8_t> bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < flips; ++k) bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    if (bytes == good) continue;  // the flips cancelled
    expect_any_refusal(load(bytes), "random bit flips");
  }
}

// Every bit of the header and the section table, CRCs recomputed: refused, or (a section grown
// into its zero padding, the informational flag kFlagInteger) the same model, same outputs.
TEST(HostileShr, HeaderAndSectionTableBitFlipsWithFixedCrcsAreRefusedOrHarmless) {
  const std::vector<uint8_t> good = TinyShr().build();
  const Loaded ref = load(good);
  ASSERT_EQ(ref.y.size(), 3u) << ref.message;
  const size_t table_end = sizeof(shr::FileHeader) + 9 * sizeof(shr::SectionEntry);
  int loaded = 0;
  for (size_t i = 0; i < table_end; ++i) {
    if (i >= shr::kHeaderCrcSpan && i < sizeof(shr::FileHeader)) continue;  // the header CRC
    const size_t in_entry = (i - sizeof(shr::FileHeader)) % sizeof(shr::SectionEntry);
    if (i >= sizeof(shr::FileHeader) && in_entry >= offsetof(shr::SectionEntry, crc) &&
        in_entry < offsetof(shr::SectionEntry, crc) + 4)
      continue;  // a section CRC
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> bytes = good;
      bytes[i] ^= static_cast<uint8_t>(1u << bit);
      fix_crcs(bytes.data(), bytes.size());
      const Loaded r = load(bytes);
      if (r.code == SHRINK_RT_OK) {
        ++loaded;
        EXPECT_EQ(r.y, ref.y) << "bit " << bit << " of byte " << i;
        EXPECT_EQ(r.tensors, ref.tensors);
        EXPECT_EQ(r.ops, ref.ops);
      } else {
        EXPECT_FALSE(r.message.empty());
      }
    }
  }
  // Measured: 8 of 2,496 load (the flags bit; Strings, OpInputs and Data sizes grown by 1..32 bytes).
  EXPECT_LT(loaded, 20);
}

// Anywhere, CRCs recomputed: many flips make another valid model (a weight or a name changed),
// but none may crash the loader, the planner or a run (ASan / UBSan in the fuzz build).
TEST(HostileShr, BitFlipsAnywhereWithFixedCrcsGiveAStatusOrARunnableModel) {
  const std::vector<uint8_t> good = TinyShr().build();
  std::mt19937_64 rng(93);
  int refused = 0, tried = 0;
  for (int it = 0; it < 2000; ++it) {
    std::vector<uint8_t> bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    fix_crcs(bytes.data(), bytes.size());
    if (bytes == good) continue;
    ++tried;
    const Loaded r = load(bytes);
    if (r.code != SHRINK_RT_OK) {
      ++refused;
      EXPECT_FALSE(r.message.empty());
      EXPECT_EQ(r.message.find('\n'), std::string::npos) << r.message;
    }
  }
  // Measured: 1,948 of 1,991 refused; the rest are flips in names, labels or weight values.
  EXPECT_GT(refused, tried * 9 / 10) << refused << " of " << tried;
}

// --- header -----------------------------------------------------------------------------------------

TEST(HostileShr, WrongMagic) {
  std::vector<uint8_t> bytes = TinyShr().build();
  bytes[3] = 'X';
  fix_crcs(bytes.data(), bytes.size());
  expect_refused(load(bytes), SHRINK_RT_NOT_A_MODEL, "not a .shr model");
  const std::vector<uint8_t> text = {'{', '"', 'a', '"', ':', '1', '}', '\n'};
  expect_refused(load(text), SHRINK_RT_NOT_A_MODEL, "not a .shr model");
}

TEST(HostileShr, NewerVersion) {
  expect_refused(load_patched([](TinyShr::Records& r) { r.header.version = 2; }), SHRINK_RT_UNSUPPORTED,
                 "format version 2 is newer");
  expect_refused(load_patched([](TinyShr::Records& r) { r.header.version = 0xFFFFFFFFu; }), SHRINK_RT_UNSUPPORTED,
                 "format version 4294967295 is newer");
}

// --- enums ------------------------------------------------------------------------------------------

TEST(HostileShr, UnknownDtype) {
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[4].dtype = shr::kLastDType + 1; }),
                 SHRINK_RT_UNSUPPORTED, "tensor 4 'conv': unknown dtype 7");
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[0].dtype = 255; }), SHRINK_RT_UNSUPPORTED,
                 "unknown dtype 255");
  // A known dtype where it does not belong: u16 is for CSR indices only.
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[5].dtype = uint8_t(shr::DType::U16); }),
                 SHRINK_RT_CORRUPT_MODEL, "only for CSR indices");
}

TEST(HostileShr, UnknownOpcode) {
  expect_refused(load_patched([](TinyShr::Records& r) { r.ops[2].opcode = shr::kLastOpCode + 1; }),
                 SHRINK_RT_UNSUPPORTED, "op 2 'flatten': unknown opcode 17");
  expect_refused(load_patched([](TinyShr::Records& r) { r.ops[0].opcode = 0xFFFF; }), SHRINK_RT_UNSUPPORTED,
                 "unknown opcode 65535");
}

// --- tensor ids -------------------------------------------------------------------------------------

/// A tensor id `id` in each place a file names a tensor: op input, op output, weight, bias, lut,
/// graph input and graph output.
void expect_id_refused(uint32_t id) {
  const std::string n = std::to_string(id);
  expect_refused(load_patched([id](TinyShr::Records& r) { r.op_inputs[1] = id; }), SHRINK_RT_CORRUPT_MODEL,
                 "input 0 is tensor id " + n + ", but there are 9 tensors");
  expect_refused(load_patched([id](TinyShr::Records& r) { r.ops[2].output = id; }), SHRINK_RT_CORRUPT_MODEL,
                 "output tensor id " + n);
  if (id == shr::kNoTensor) {  // -1 means "none" in the weight / bias / lut slots: a conv needs its weight
    expect_refused(load_patched([](TinyShr::Records& r) { r.ops[1].weight = shr::kNoTensor; }), SHRINK_RT_CORRUPT_MODEL,
                   "op 1 'conv' (Conv2d): has no weight");
  } else {
    for (int slot = 0; slot < 3; ++slot)
      expect_refused(load_patched([id, slot](TinyShr::Records& r) {
                       uint32_t* fields[3] = {&r.ops[1].weight, &r.ops[1].bias, &r.ops[3].lut};
                       *fields[slot] = id;
                     }),
                     SHRINK_RT_CORRUPT_MODEL, "tensor id " + n + ", but there are 9 tensors");
  }
  expect_refused(load_patched([id](TinyShr::Records& r) { r.io[0] = id; }), SHRINK_RT_CORRUPT_MODEL,
                 "graph input 0 is tensor id " + n);
  expect_refused(load_patched([id](TinyShr::Records& r) { r.io[1] = id; }), SHRINK_RT_CORRUPT_MODEL,
                 "graph output 0 is tensor id " + n);
}

TEST(HostileShr, TensorIndexMinusOne) { expect_id_refused(0xFFFFFFFFu); }
TEST(HostileShr, TensorIndex2Pow31) { expect_id_refused(0x80000000u); }

// --- shapes -----------------------------------------------------------------------------------------

void set_dims(shr::TensorRecord& t, std::initializer_list<uint32_t> dims) {
  t.rank = static_cast<uint8_t>(dims.size());
  std::fill(std::begin(t.dims), std::end(t.dims), 0u);
  std::copy(dims.begin(), dims.end(), t.dims);
}

TEST(HostileShr, DimZero) {
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[1].dims[1] = 0; }), SHRINK_RT_CORRUPT_MODEL,
                 "tensor 1 'input:q': dims[1] is 0, expected 1..2147483647");
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[6].dims[0] = 0; }), SHRINK_RT_CORRUPT_MODEL,
                 "dims[0] is 0");
}

TEST(HostileShr, DimNegative) {
  // Dims are u32 in the file; as int32 these are -1 and INT32_MIN.
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[4].dims[2] = 0xFFFFFFFFu; }), SHRINK_RT_CORRUPT_MODEL,
                 "dims[2] is 4294967295, expected 1..2147483647");
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[4].dims[0] = 0x80000000u; }), SHRINK_RT_CORRUPT_MODEL,
                 "dims[0] is 2147483648, expected 1..2147483647");
}

/// The tiny model reduced to graph inputs 0..n-1 of f32 [len] and ops `make_ops` producing f32
/// [len] tensors (names and the strings reused; no normalization).
TinyShr float_graph(uint32_t inputs, uint32_t len, const std::function<void(TinyShr::Records&)>& make_ops) {
  TinyShr t;
  t.norm.clear();
  t.patch = [=](TinyShr::Records& r) {
    shr::TensorRecord x = r.tensors[0];
    set_dims(x, {len});
    r.tensors.assign(inputs, x);
    r.io.clear();
    for (uint32_t i = 0; i < inputs; ++i) r.io.push_back(i);
    r.meta.input_count = inputs;
    r.meta.mean_count = r.meta.std_count = 0;
    r.header.flags = 0;
    r.ops.resize(1);
    r.op_inputs.clear();
    make_ops(r);
  };
  return t;
}

TEST(HostileShr, DimInt32Max) {
  // Alone, [2^31 - 1] is a legal element count (8 GB of f32): the Quantize op's shapes disagree.
  expect_refused(load_patched([](TinyShr::Records& r) {
                   set_dims(r.tensors[0], {0x7FFFFFFFu});
                 }),
                 SHRINK_RT_CORRUPT_MODEL, "input [2147483647] and output [1, 4, 4] differ");
  // A consistent graph of two such tensors loads its records, but its 16 GB arena is refused.
  const TinyShr relu = float_graph(1, 0x7FFFFFFFu, [](TinyShr::Records& r) {
    shr::TensorRecord y = r.tensors[0];
    r.tensors.push_back(y);
    r.ops[0] = op_record(r.ops[0].name, shr::OpCode::ReLU, r.op_inputs, {0}, 1);
    r.ops[0].activation = uint8_t(shr::Activation::ReLU);
    r.io.push_back(1);
  });
  expect_refused(load(relu.build()), SHRINK_RT_OUT_OF_MEMORY, "the arena of 17179869184 bytes exceeds the runtime's limit of 4294967296 bytes");
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[1].dims[0] = 0x7FFFFFFFu; }), SHRINK_RT_CORRUPT_MODEL,
                 "shape has more than 2147483647 elements");
}

TEST(HostileShr, ElementCountPast2Pow32) {
  expect_refused(load_patched([](TinyShr::Records& r) { set_dims(r.tensors[4], {65536, 65536, 2}); }),
                 SHRINK_RT_CORRUPT_MODEL, "tensor 4 'conv': shape has more than 2147483647 elements (dims[1] = 65536)");
  expect_refused(load_patched([](TinyShr::Records& r) { set_dims(r.tensors[6], {65537, 65537}); }),
                 SHRINK_RT_CORRUPT_MODEL, "shape has more than 2147483647 elements");
}

TEST(HostileShr, ElementCountPast2Pow64) {
  // (2^31 - 1)^4 > 2^123; the product is checked after each dim, so it never wraps.
  expect_refused(load_patched([](TinyShr::Records& r) {
                   set_dims(r.tensors[2], {0x7FFFFFFFu, 0x7FFFFFFFu, 0x7FFFFFFFu, 0x7FFFFFFFu});
                 }),
                 SHRINK_RT_CORRUPT_MODEL, "shape has more than 2147483647 elements (dims[1] = 2147483647)");
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[7].dims[0] = 0xFFFFFFFFu; }), SHRINK_RT_CORRUPT_MODEL,
                 "dims[0] is 4294967295");
}

// --- arena ------------------------------------------------------------------------------------------

TEST(HostileShr, ArenaOf100GBIsRefusedAtLoad) {
  // 13 graph inputs of 2e9 floats summed by one Add: 14 buffers of 8 GB live together (112 GB).
  const TinyShr add = float_graph(13, 2000000000u, [](TinyShr::Records& r) {
    r.tensors.push_back(r.tensors[0]);
    std::vector<uint32_t> in(13);
    for (uint32_t i = 0; i < 13; ++i) in[i] = i;
    r.ops[0] = op_record(r.ops[0].name, shr::OpCode::Add, r.op_inputs, in, 13);
    r.io.push_back(13);
  });
  const std::vector<uint8_t> bytes = add.build();
  // Everything up to the plan is valid: the records load.
  shrink::rt::Model m;
  ASSERT_TRUE(shrink::rt::load_model(bytes.data(), bytes.size(), m).ok());
  expect_refused(load(bytes), SHRINK_RT_OUT_OF_MEMORY, "the arena of 112000000000 bytes exceeds");
}

// --- CSR --------------------------------------------------------------------------------------------

TEST(HostileShr, CsrNonMonotoneRowPointers) {
  TinyShr t;
  t.conv_row_ptr = {0, 2, 1};
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL,
                 "tensor 2 'conv.weight': CSR row_ptr is not monotone within 0..nnz: row_ptr[1] = 2, row_ptr[2] = 1");
  t.conv_row_ptr = {0, 6, 5};  // past nnz
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL, "row_ptr[0] = 0, row_ptr[1] = 6, nnz 5");
}

TEST(HostileShr, CsrColumnNotBelowCols) {
  TinyShr t;
  t.conv_cols = {0, 4, 8, 1, 9};
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL, "CSR column index 9 (entry 4, row 1) is not below 9 columns");
  t.conv_cols = {255, 4, 8, 1, 7};
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL, "CSR column index 255 (entry 0, row 0)");
}

TEST(HostileShr, CsrNnzMismatch) {
  TinyShr t;
  t.conv_row_ptr = {0, 3, 4};
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL, "CSR row_ptr[rows] is 4, expected nnz 5");
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[2].nnz = 6; }), SHRINK_RT_CORRUPT_MODEL,
                 "values (part 0) has 5 bytes, expected 6");
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[2].nnz = 0xFFFFFFFFu; }), SHRINK_RT_CORRUPT_MODEL,
                 "nnz 4294967295 exceeds the 18 elements");
}

// --- fixed point ------------------------------------------------------------------------------------

TEST(HostileShr, FlOutsideTheLegalRange) {
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[4].fl = shr::kMaxFl + 1; }), SHRINK_RT_CORRUPT_MODEL,
                 "tensor 4 'conv': fl 25 is outside -8..24 for i8");
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[6].fl = -128; }), SHRINK_RT_CORRUPT_MODEL,
                 "fl -128 is outside -8..24");
  TinyShr t;
  t.conv_fls = {6, -9};
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL, "channel FL -9 is outside -8..24 for i8");
  t = TinyShr();
  t.conv_bias_fls = {49, 9};
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL, "channel FL 49 is outside -16..48 for i32");
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[1].bits = 1; }), SHRINK_RT_CORRUPT_MODEL,
                 "bits 1 is outside 2..8 for i8");
}

TEST(HostileShr, CodebookIndexNotBelowCentroids) {
  // 3 centroids, 2-bit indices: the stored index 3 has no centroid.
  TinyShr t;
  t.centroids = {0, 16, -16};
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL, "codebook index 3 of element 1 is not below the 3 centroids");
  // More centroids than 2^index_bits, and index widths outside 1..8.
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[6].centroid_count = 5; }), SHRINK_RT_CORRUPT_MODEL,
                 "centroid_count 5 is outside 1..4 (2^index_bits)");
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[6].index_bits = 9; }), SHRINK_RT_CORRUPT_MODEL,
                 "index_bits 9 is outside 1..8");
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[6].index_bits = 0; }), SHRINK_RT_CORRUPT_MODEL,
                 "index_bits 0 is outside 1..8");
}

// --- CSR codebook -----------------------------------------------------------------------------------

/// The tiny model with a csr-codebook conv weight; `huffman`: its indices and gaps and fc.weight's
/// indices Huffman-coded (encoding 1).
TinyShr csr_codebook(bool huffman = false) {
  TinyShr t;
  t.conv_csr_codebook = true;
  t.huffman = huffman;
  return t;
}

TEST(HostileShr, CsrCodebookValidModelRunsLikeTheCsrOne) {
  // The same integers as the CSR conv weight: the same outputs, bit for bit.
  const Loaded csr = load(TinyShr().build()), cb = load(csr_codebook().build());
  ASSERT_EQ(cb.code, SHRINK_RT_OK) << cb.message;
  ASSERT_EQ(csr.y.size(), 3u);
  EXPECT_EQ(cb.y, csr.y);
}

TEST(HostileShr, CsrCodebookNonMonotoneRowPointers) {
  TinyShr t = csr_codebook();
  t.conv_row_ptr = {0, 4, 3};
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL,
                 "tensor 2 'conv.weight': CSR row_ptr is not monotone within 0..nnz: row_ptr[1] = 4, row_ptr[2] = 3");
}

TEST(HostileShr, CsrCodebookColumnPastCols) {
  TinyShr t = csr_codebook();
  t.conv_gaps = {0, 4, 4, 1, 8};  // row 1: columns 1, 9 of 9
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL, "CSR column index 9 (entry 4, row 1) is not below 9 columns");
  t.conv_gaps = {0, 4, 0, 1, 6};  // a repeated column
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL, "CSR columns of row 0 are not strictly increasing at entry 2");
}

TEST(HostileShr, CsrCodebookIndexNotBelowCentroids) {
  TinyShr t = csr_codebook();
  t.conv_cb_indices = {1, 2, 6, 4, 5};  // 6 centroids
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL, "codebook index 6 of entry 2 is not below the 6 centroids");
}

TEST(HostileShr, CsrCodebookNnzMismatch) {
  TinyShr t = csr_codebook();
  t.conv_row_ptr = {0, 3, 4};
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL, "CSR row_ptr[rows] is 4, expected nnz 5");
  // nnz 6 with 5 entries stored: 18 bits of indices need 3 bytes, the file has 2.
  TinyShr u = csr_codebook();
  u.patch = [](TinyShr::Records& r) { r.tensors[2].nnz = 6; };
  expect_refused(load(u.build()), SHRINK_RT_CORRUPT_MODEL, "part 1 (part 1) has 2 bytes, expected 3");
  // nnz 4 with 5 stored: the indices still take 2 bytes (the 5th, 0, lies in the unused bits);
  // row_ptr (3) + gaps (4) = 7 bytes, the file has 8.
  u.conv_cb_indices = {1, 2, 3, 4, 0};
  u.patch = [](TinyShr::Records& r) { r.tensors[2].nnz = 4; };
  expect_refused(load(u.build()), SHRINK_RT_CORRUPT_MODEL, "part 2 (part 2) has 8 bytes, expected 7");
  u.patch = [](TinyShr::Records& r) { r.tensors[2].nnz = 0xFFFFFFFFu; };
  expect_refused(load(u.build()), SHRINK_RT_CORRUPT_MODEL, "nnz 4294967295 exceeds the 18 elements");
}

TEST(HostileShr, CsrCodebookPaddingOnlyAsZeroReservedBridges) {
  TinyShr t = csr_codebook();
  t.conv_cb_indices = {1, 0, 3, 4, 5};  // index 0 with gap 4: not a bridge
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL,
                 "csr-codebook entry 1 (row 0): padding (index 0) with gap 4, not 255");
  TinyShr u = csr_codebook();
  u.patch = [](TinyShr::Records& r) { r.tensors[2].flags &= static_cast<uint8_t>(~shr::kTensorZeroReserved); };
  expect_refused(load(u.build()), SHRINK_RT_CORRUPT_MODEL, "tensor 2 'conv.weight': csr-codebook storage needs zero_reserved");
  u.patch = [](TinyShr::Records& r) { r.tensors[2].col_type = static_cast<uint8_t>(shr::DType::U16); };
  expect_refused(load(u.build()), SHRINK_RT_CORRUPT_MODEL, "csr-codebook col_type 5 is not u8");
}

// --- Huffman encoding (1) -----------------------------------------------------------------------------

TEST(HostileShr, HuffmanTensorsDecodeToTheRawModel) {
  // fc.weight (codebook) and conv.weight (csr-codebook: indices and gaps) Huffman-coded: the
  // same outputs, bit for bit, as the raw file; the decoded bytes are the raw index bytes.
  const Loaded raw = load(csr_codebook().build()), h = load(csr_codebook(true).build());
  ASSERT_EQ(h.code, SHRINK_RT_OK) << h.message;
  ASSERT_EQ(raw.y.size(), 3u);
  EXPECT_EQ(h.y, raw.y);
  shrink::rt::Model m;
  const std::vector<uint8_t> bytes = csr_codebook(true).build();
  ASSERT_TRUE(shrink::rt::load_model(bytes.data(), bytes.size(), m).ok());
  EXPECT_EQ(m.tensors[6].encoding, shr::Encoding::Huffman);
  // Decoded straight into the packed layout: no more memory than the raw indices.
  EXPECT_EQ(m.tensors[6].decoded_bytes, shr::packed_index_bytes(24, m.tensors[6].index_bits));  // 24 x 2 bits: 6
  EXPECT_EQ(m.tensors[6].decoded_bytes, 6u);
  EXPECT_EQ(m.tensors[2].decoded_bytes, shr::packed_index_bytes(5, m.tensors[2].index_bits) + 3u + 5u);  // + row_ptr, gaps
  EXPECT_EQ(m.decoded_bytes, m.tensors[6].decoded_bytes + m.tensors[2].decoded_bytes);
  for (int64_t i = 0; i < 24; ++i) EXPECT_EQ(m.tensors[6].index_at(i), TinyShr().indices[static_cast<size_t>(i)]) << i;
}

TEST(HostileShr, HuffmanTruncatedStream) {
  TinyShr t = csr_codebook(true);
  t.edit_fc_stream = [](std::vector<uint8_t>& s) { s.pop_back(); };
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL,
                 "tensor 6 'fc.weight': the Huffman stream of the indices (part 1) is invalid: truncated");
}

TEST(HostileShr, HuffmanStreamOfTheWrongCount) {
  TinyShr t = csr_codebook(true);
  t.edit_fc_stream = [](std::vector<uint8_t>& s) { s[0] = 23; };
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL,
                 "the Huffman stream of the indices (part 1) decodes to 23 symbols, expected 24");
  t.edit_fc_stream = [](std::vector<uint8_t>& s) { s.push_back(0); };  // a byte after the stream
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL,
                 "the Huffman stream of the indices (part 1) has 18 bytes, its part 19");
  TinyShr u = csr_codebook(true);
  u.conv_row_ptr = {0, 3, 4};  // row_ptr[rows] 4 but the gap stream holds 5 symbols
  u.patch = [](TinyShr::Records& r) { r.tensors[2].nnz = 4; };
  expect_refused(load(u.build()), SHRINK_RT_CORRUPT_MODEL,
                 "tensor 2 'conv.weight': the Huffman stream of the indices (part 1) decodes to 5 symbols, expected 4");
}

TEST(HostileShr, HuffmanDecodedIndexNotBelowCentroids) {
  TinyShr t = csr_codebook(true);
  t.centroids = {0, 16, -16};  // the decoded index 3 has no centroid: the raw file's message
  expect_refused(load(t.build()), SHRINK_RT_CORRUPT_MODEL,
                 "codebook index 3 of element 1 is not below the 3 centroids");
  TinyShr u = csr_codebook(true);
  u.conv_cb_indices = {1, 2, 6, 4, 5};
  expect_refused(load(u.build()), SHRINK_RT_CORRUPT_MODEL, "codebook index 6 of entry 2 is not below the 6 centroids");
  TinyShr v = csr_codebook(true);  // a decoded gap breaks the column rule as a raw one does
  v.conv_gaps = {0, 4, 4, 1, 0};
  expect_refused(load(v.build()), SHRINK_RT_CORRUPT_MODEL,
                 "CSR columns of row 1 are not strictly increasing at entry 4");
}

TEST(HostileShr, HuffmanEncodingOnlyForCodebooks) {
  // (An unknown encoding, 2, is `unsupported`: Loader.UnknownEnumValuesAreUnsupported.)
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[3].encoding = 1; }), SHRINK_RT_CORRUPT_MODEL,
                 "tensor 3 'conv.bias': huffman encoding is only defined for codebook storages, not dense");
  // A raw stream read as Huffman: a bad header, refused, never decoded past the part.
  expect_refused(load_patched([](TinyShr::Records& r) { r.tensors[6].encoding = 1; }), SHRINK_RT_CORRUPT_MODEL,
                 "the Huffman stream of the indices (part 1) is invalid: truncated");
}

// --- messages ---------------------------------------------------------------------------------------

TEST(HostileShr, ControlBytesInANameGiveAOneLineMessage) {
  TinyShr t;
  t.conv_bias_fls = {49, 9};  // refused, naming tensor 3 'conv.bias'
  std::vector<uint8_t> bytes = t.build();
  const std::string name = "conv.bias";
  const auto at = std::search(bytes.begin(), bytes.end(), name.begin(), name.end());
  ASSERT_NE(at, bytes.end());
  at[4] = '\n';
  at[5] = '\r';
  fix_crcs(bytes.data(), bytes.size());
  expect_refused(load(bytes), SHRINK_RT_CORRUPT_MODEL, "tensor 3 'conv??ias': channel FL 49");
}

}  // namespace
}  // namespace shrink::test
