// The .shr runtime file format: the ONE header shared by the writer (export/shr_writer.cc) and
// the reader (runtime/src/loader.cc). Field-by-field documentation with every check the reader
// makes: docs/shr-format.md. C++17, standard library only, header-only.
//
//   shr::FileHeader h{};  std::memcpy(h.magic, shr::kMagic, 8);  h.version = shr::kVersion;
//   uint32_t crc = shr::crc32(bytes, n);                 // CRC-32 (IEEE, as zlib's crc32)
//   size_t off = shr::align_up(end, shr::kSectionAlign);  // where the next section starts
//
// Layout (all integers little-endian, all records packed with natural alignment, no padding):
//   [FileHeader 64 B][SectionEntry 32 B x section_count][zero padding to 64]
//   [section][zero padding to 64][section]...[zero padding to 64] = file_size
// Sections follow each other in table order, each at the first 64-byte boundary after the
// previous one (canonical layout: every byte outside the header, the table and the sections is
// zero, and the reader checks it).
//
// Fixed point (DESIGN.md): a B-bit tensor with fractional length FL holds integers q with
// x = q * 2^-FL; quantize is q = clamp(floor(x * 2^FL + 0.5), -2^(B-1), 2^(B-1) - 1).
//
// Append only: enum values and flags only ever grow at the end; kVersion is bumped on every
// change of a record layout. A reader meets an enum value newer than itself with "unsupported".
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace shrink::shr {

/// 8 bytes: 0x89 'S' 'H' 'R' '\r' '\n' 0x1A '\n' (a non-ASCII first byte and the line-ending
/// bytes catch text-mode transfers, as PNG's signature does).
inline constexpr uint8_t kMagic[8] = {0x89, 'S', 'H', 'R', '\r', '\n', 0x1A, '\n'};
/// Version of the record layouts this header describes. A reader refuses a newer version.
inline constexpr uint32_t kVersion = 1;
inline constexpr uint64_t kSectionAlign = 64;  ///< section offsets (and the file size)
inline constexpr uint64_t kPartAlign = 16;     ///< tensor data parts, relative to the Data section
inline constexpr uint32_t kMaxSections = 32;
inline constexpr uint32_t kMaxRank = 4;
inline constexpr uint32_t kNoTensor = 0xFFFFFFFFu;  ///< an absent weight / bias / lut
/// Largest element count of one tensor (so kernels may index with int32).
inline constexpr uint64_t kMaxElements = (uint64_t{1} << 31) - 1;
/// Fixed-point limits of DESIGN.md for I8 / I16 tensors; I32 (biases) have bits 32 and an FL
/// FL_x + FL_w in [2 * kMinFl, 2 * kMaxFl].
inline constexpr int kMinBits = 2, kMaxBits = 16, kMinFl = -8, kMaxFl = 24;
inline constexpr int kMaxIndexBits = 8;  ///< codebook index width 1..8

/// FileHeader::flags. Unknown bits make the reader answer "unsupported".
enum HeaderFlag : uint32_t {
  kFlagInteger = 1u << 0,  ///< the model has an integer part (a Quantize op)
};
inline constexpr uint32_t kKnownHeaderFlags = kFlagInteger;

enum class SectionType : uint32_t {
  Strings = 1,        ///< blob of NUL-terminated UTF-8 strings, referenced by StrRef
  Meta = 2,           ///< one MetaRecord
  GraphIO = 3,        ///< uint32 tensor ids: the graph inputs, then the graph outputs
  Normalization = 4,  ///< float32: mean[mean_count] then std[std_count] (optional section)
  Labels = 5,         ///< StrRef per class label (optional section)
  Tensors = 6,        ///< TensorRecord per tensor; the tensor id is the record's index
  Ops = 7,            ///< OpRecord per op, in execution (topological) order
  OpInputs = 8,       ///< uint32 tensor ids, the activation inputs of the ops
  Data = 9,           ///< blob of tensor data parts (each 16-byte aligned within the section)
};
inline constexpr uint32_t kLastSectionType = 9;

enum class DType : uint8_t {
  F32 = 0,  ///< IEEE float32
  I8 = 1,   ///< fixed point, bits 2..8
  I16 = 2,  ///< fixed point, bits 9..16
  I32 = 3,  ///< bias of an integer Conv2d / Linear: bits 32, FL = FL_x + FL_w[c]
  U8 = 4,   ///< CSR row pointers / column indices only
  U16 = 5,  ///< CSR index types only
  U32 = 6,  ///< CSR index types only
};
inline constexpr uint8_t kLastDType = 6;

enum class Storage : uint8_t {
  Dense = 0,     ///< part 0: numel values, row-major
  Csr = 1,       ///< rows = dims[0], cols = numel / rows; part 0 values[nnz], part 1 row_ptr[rows + 1], part 2 col_idx[nnz]
  Codebook = 2,  ///< part 0: centroids[centroid_count] (fixed point), part 1: index_bits-bit packed indices
  /// Deep Compression's sparse codebook (needs kTensorZeroReserved): rows = dims[0], cols =
  /// numel / rows; nnz stored entries. Part 0: centroids[centroid_count]; part 1: nnz packed
  /// indices (as Codebook); part 2: row_ptr[rows + 1] of row_ptr_type, then gap[nnz] u8
  /// (col_type U8): an entry's column is the previous entry's column in the row (0 before the
  /// first) plus its gap. Entries of index 0 (the zero centroid) are padding that bridges a gap
  /// above 255, each with gap 255. See docs/shr-format.md and CsrCodebookEncoder below.
  CsrCodebook = 3,
};
inline constexpr uint8_t kLastStorage = 3;

/// How a tensor's index data are encoded (docs/shr-format.md, "Encoding").
enum class Encoding : uint8_t {
  Raw = 0,
  /// Codebook and CsrCodebook only: the index bytes are canonical Huffman streams of byte
  /// symbols (runtime/src/huffman.h). Codebook part 1: one stream of numel symbols (the index
  /// values). CsrCodebook part 1: one stream of nnz symbols (the entries' indices); part 2: the
  /// raw row_ptr[rows + 1], immediately followed (no alignment) by one stream of the nnz gaps.
  /// The reader decodes them once at load into the raw layout, then checks them as raw.
  Huffman = 1,
};
inline constexpr uint8_t kLastEncoding = 1;
/// Encoding::Huffman: the decoded bytes of all tensors of a file are at most this many times the
/// file size (a constant stream decodes to any count from 10 bytes; this bounds the load memory).
inline constexpr uint64_t kMaxDecodedPerFileByte = 64;

/// Operators the runtime executes. Integer ops follow DESIGN.md "Fixed-point arithmetic"; the
/// requantize shifts are computed by the runtime from the tensors' formats.
enum class OpCode : uint16_t {
  Conv2d = 0,         ///< in {C,H,W}, weight {O, C/groups, kh, kw}, optional bias {O}; groups = C: depthwise
  Linear = 1,         ///< in {K}, weight {N, K}, optional bias {N}
  MaxPool = 2,        ///< in {C,H,W}; integer: output format = input format
  AvgPool = 3,        ///< in {C,H,W}; count_include_pad flag
  GlobalAvgPool = 4,  ///< in {C,H,W} -> {C,1,1}
  Add = 5,            ///< >= 2 inputs of one shape, no broadcasting
  Concat = 6,         ///< >= 1 inputs, along `axis` (of the batch-less shape)
  Flatten = 7,        ///< a view: same elements, output shape from the output tensor
  Reshape = 8,        ///< a view, like Flatten
  ReLU = 9,
  ReLU6 = 10,
  LeakyReLU = 11,     ///< float: alpha; integer: lookup table
  Sigmoid = 12,       ///< float: 1 / (1 + exp(-x)); integer: lookup table
  Tanh = 13,          ///< float: tanh; integer: lookup table
  Softmax = 14,       ///< float only, along `axis`
  Quantize = 15,      ///< float32 -> integer with the output's format (quantize rule above)
  Dequantize = 16,    ///< integer -> float32, x = q * 2^-FL (exact)
};
inline constexpr uint16_t kLastOpCode = 16;

/// Fused activation of Conv2d / Linear / Add (and the meaning of the ReLU / ReLU6 ops). Integer
/// ops carry the clamp as integers: None [qmin(B_y), qmax(B_y)], ReLU [0, qmax(B_y)],
/// ReLU6 [0, saturate(floor(6 * 2^FL_y + 0.5))].
enum class Activation : uint8_t { None = 0, ReLU = 1, ReLU6 = 2 };
inline constexpr uint8_t kLastActivation = 2;

/// TensorRecord::flags.
enum TensorFlag : uint8_t {
  kTensorConstant = 1u << 0,      ///< weights, biases, tables: data in the Data section
  kTensorZeroReserved = 1u << 1,  ///< codebook: centroid 0 is the exact value 0 (pruned weights)
};
inline constexpr uint8_t kKnownTensorFlags = kTensorConstant | kTensorZeroReserved;

/// OpRecord::flags.
enum OpFlag : uint8_t {
  kOpCeilMode = 1u << 0,         ///< pooling output size rounds up
  kOpCountIncludePad = 1u << 1,  ///< AvgPool divides by the whole window, padding included
  /// Integer Conv2d / Linear: the writer proved sum|q_w| * 2^(B_x-1) + |q_b| < 2^31 for every
  /// output channel, so an int32 accumulator cannot overflow (the reader re-checks the claim).
  kOpAcc32 = 1u << 2,
};
inline constexpr uint8_t kKnownOpFlags = kOpCeilMode | kOpCountIncludePad | kOpAcc32;

/// A string in the Strings section: bytes [offset, offset + length), followed by a NUL.
struct StrRef {
  uint32_t offset;
  uint32_t length;
};

/// A byte range of the Data section (offset relative to the section, a multiple of kPartAlign).
struct Part {
  uint64_t offset;
  uint64_t size;
};

struct FileHeader {             // 64 bytes at file offset 0
  uint8_t magic[8];             // kMagic
  uint32_t version;             // kVersion of the writer
  uint32_t flags;               // HeaderFlag bits
  uint32_t section_count;       // 1..kMaxSections; the table follows at offset 64
  uint32_t reserved0;           // 0
  uint64_t file_size;           // total bytes, a multiple of 64
  uint8_t reserved1[28];        // 0
  uint32_t header_crc;          // CRC-32 of bytes [0, 60) followed by the section table
};

struct SectionEntry {  // 32 bytes each, at 64 + 32 * i
  uint32_t type;       // SectionType; each type at most once
  uint32_t crc;        // CRC-32 of the section's `size` bytes
  uint64_t offset;     // from the file start, multiple of 64
  uint64_t size;       // bytes (without padding); a multiple of the record size for tables
  uint64_t reserved;   // 0
};

struct MetaRecord {        // 64 bytes, the Meta section
  StrRef name;             // model name
  StrRef producer;         // tool and version that wrote the file, e.g. "shrink 0.1.0"
  uint32_t input_count;    // >= 1 graph inputs (first ids of GraphIO)
  uint32_t output_count;   // >= 1 graph outputs (the following ids)
  uint32_t mean_count;     // 0 (no mean), 1 (all channels) or C (input 0's dims[0])
  uint32_t std_count;      // likewise; x' = (x - mean[c]) / std[c] in float32 before op 0
  uint8_t reserved[32];    // 0
};

struct TensorRecord {         // 128 bytes per tensor
  StrRef name;                // 0
  uint8_t dtype;              // 8  DType
  uint8_t storage;            // 9  Storage
  uint8_t encoding;           // 10 Encoding
  uint8_t rank;               // 11 1..kMaxRank
  uint8_t flags;              // 12 TensorFlag bits
  uint8_t bits;               // 13 F32: 0; I8: 2..8; I16: 9..16; I32: 32
  int8_t fl;                  // 14 the FL when channel_fl_count == 0 (else 0); F32: 0
  uint8_t index_bits;         // 15 Codebook, CsrCodebook: 1..8, else 0
  uint32_t dims[kMaxRank];    // 16 batch-less shape, row-major; dims[i >= rank] = 0
  uint32_t channel_fl_count;  // 32 0 (one FL) or dims[0] (one int8 FL per channel in part 3)
  uint32_t nnz;               // 36 CSR, CsrCodebook: stored entries; else 0
  uint32_t centroid_count;    // 40 Codebook, CsrCodebook: 1..2^index_bits; else 0
  uint8_t row_ptr_type;       // 44 CSR, CsrCodebook: U8 / U16 / U32; else 0
  uint8_t col_type;           // 45 CSR: U8 / U16 / U32; CsrCodebook: U8 (gaps); else 0
  uint8_t reserved0[2];       // 46 0
  Part parts[4];              // 48 see Storage; part 3: channel FLs; unused parts {0, 0}
  uint8_t reserved1[16];      // 112 0
};

struct OpRecord {         // 128 bytes per op
  StrRef name;            // 0  the IR node's name (profiles, dumps)
  uint16_t opcode;        // 8  OpCode
  uint8_t activation;     // 10 Activation (fused clamp)
  uint8_t flags;          // 11 OpFlag bits
  uint32_t input_first;   // 12 first index into OpInputs
  uint32_t input_count;   // 16 activation inputs
  uint32_t output;        // 20 tensor id
  uint32_t weight;        // 24 tensor id or kNoTensor
  uint32_t bias;          // 28 tensor id or kNoTensor
  uint32_t lut;           // 32 tensor id or kNoTensor (integer LeakyReLU / Sigmoid / Tanh)
  uint32_t groups;        // 36 Conv2d: >= 1; else 0
  uint32_t kernel[2];     // 40 h, w (Conv2d, pools); else 0
  uint32_t stride[2];     // 48
  uint32_t dilation[2];   // 56
  uint32_t pads[4];       // 64 top, left, bottom, right
  int32_t axis;           // 80 Concat / Softmax: dim of the batch-less shape; else 0
  int32_t clamp_lo;       // 84 integer ops with a clamp: see Activation; else 0
  int32_t clamp_hi;       // 88
  float alpha;            // 92 float LeakyReLU slope; else 0
  uint8_t reserved[32];   // 96 0
};

#define SHR_CHECK_RECORD(T, size)                                                        \
  static_assert(sizeof(T) == (size), #T " must be " #size " bytes");                     \
  static_assert(std::is_trivially_copyable<T>::value && std::is_standard_layout<T>::value, \
                #T " must be a plain record")
SHR_CHECK_RECORD(StrRef, 8);
SHR_CHECK_RECORD(Part, 16);
SHR_CHECK_RECORD(FileHeader, 64);
SHR_CHECK_RECORD(SectionEntry, 32);
SHR_CHECK_RECORD(MetaRecord, 64);
SHR_CHECK_RECORD(TensorRecord, 128);
SHR_CHECK_RECORD(OpRecord, 128);
#undef SHR_CHECK_RECORD
static_assert(offsetof(FileHeader, file_size) == 24 && offsetof(FileHeader, header_crc) == 60, "FileHeader layout");
static_assert(offsetof(TensorRecord, dims) == 16 && offsetof(TensorRecord, channel_fl_count) == 32 &&
                  offsetof(TensorRecord, row_ptr_type) == 44 && offsetof(TensorRecord, parts) == 48 &&
                  offsetof(TensorRecord, reserved1) == 112,
              "TensorRecord layout");
static_assert(offsetof(OpRecord, input_first) == 12 && offsetof(OpRecord, groups) == 36 &&
                  offsetof(OpRecord, pads) == 64 && offsetof(OpRecord, axis) == 80 &&
                  offsetof(OpRecord, alpha) == 92 && offsetof(OpRecord, reserved) == 96,
              "OpRecord layout");
static_assert(sizeof(float) == 4, "float32 expected");

/// Bytes covered by FileHeader::header_crc before the section table.
inline constexpr size_t kHeaderCrcSpan = offsetof(FileHeader, header_crc);

/// Size of an element of type t (0 for an unknown value).
constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::I8:
    case DType::U8: return 1;
    case DType::I16:
    case DType::U16: return 2;
    case DType::F32:
    case DType::I32:
    case DType::U32: return 4;
  }
  return 0;
}

constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::I8: return "i8";
    case DType::I16: return "i16";
    case DType::I32: return "i32";
    case DType::U8: return "u8";
    case DType::U16: return "u16";
    case DType::U32: return "u32";
  }
  return "?";
}

constexpr const char* storage_name(Storage s) {
  switch (s) {
    case Storage::Dense: return "dense";
    case Storage::Csr: return "csr";
    case Storage::Codebook: return "codebook";
    case Storage::CsrCodebook: return "csr-codebook";
  }
  return "?";
}

constexpr const char* op_name(OpCode op) {
  switch (op) {
    case OpCode::Conv2d: return "Conv2d";
    case OpCode::Linear: return "Linear";
    case OpCode::MaxPool: return "MaxPool";
    case OpCode::AvgPool: return "AvgPool";
    case OpCode::GlobalAvgPool: return "GlobalAvgPool";
    case OpCode::Add: return "Add";
    case OpCode::Concat: return "Concat";
    case OpCode::Flatten: return "Flatten";
    case OpCode::Reshape: return "Reshape";
    case OpCode::ReLU: return "ReLU";
    case OpCode::ReLU6: return "ReLU6";
    case OpCode::LeakyReLU: return "LeakyReLU";
    case OpCode::Sigmoid: return "Sigmoid";
    case OpCode::Tanh: return "Tanh";
    case OpCode::Softmax: return "Softmax";
    case OpCode::Quantize: return "Quantize";
    case OpCode::Dequantize: return "Dequantize";
  }
  return "?";
}

/// The narrowest CSR index type holding values 0..max_value.
constexpr DType index_type_for(uint64_t max_value) {
  return max_value <= 0xFFu ? DType::U8 : (max_value <= 0xFFFFu ? DType::U16 : DType::U32);
}

/// Bytes of `count` codebook indices of `bits` bits, packed LSB first: index i occupies bits
/// [i * bits, (i + 1) * bits) of the stream, stream bit k being bit (k % 8) of byte k / 8;
/// the unused high bits of the last byte are zero.
constexpr uint64_t packed_index_bytes(uint64_t count, int bits) {
  return (count * static_cast<uint64_t>(bits) + 7) / 8;
}

/// Packs indices of `bits` bits (1..8) in the packed_index_bytes layout.
inline std::vector<uint8_t> pack_indices(const uint32_t* idx, size_t n, int bits) {
  std::vector<uint8_t> out(static_cast<size_t>(packed_index_bytes(n, bits)), 0);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t bit = i * static_cast<uint64_t>(bits);
    const uint32_t v = idx[i] << (bit % 8);
    out[bit / 8] |= static_cast<uint8_t>(v & 0xFFu);
    if ((bit % 8) + static_cast<uint64_t>(bits) > 8) out[bit / 8 + 1] |= static_cast<uint8_t>(v >> 8);
  }
  return out;
}

/// Largest column gap of one CsrCodebook entry (u8); a longer run of zeros takes padding entries.
inline constexpr uint32_t kMaxCsrCodebookGap = 255;

/// Builds the CsrCodebook form of a rows x cols matrix of codebook indices in which index 0 is
/// the reserved zero: the nonzero indices row by row, each with its column gap, and a padding
/// entry (index 0, gap 255) wherever the next nonzero lies more than 255 columns further on.
///
///   CsrCodebookEncoder e(rows, cols, [&](uint64_t i) { return idx[i]; });
///   e.row_ptr.size() == rows + 1;  e.gaps.size() == e.indices.size() == nnz
///   std::vector<uint8_t> part2 = e.structure(e.row_ptr_type());   // row_ptr then gaps
struct CsrCodebookEncoder {
  std::vector<uint32_t> row_ptr{0};
  std::vector<uint8_t> gaps;
  std::vector<uint32_t> indices;

  template <class IndexOf>
  CsrCodebookEncoder(uint64_t rows, uint64_t cols, IndexOf index_of) {
    for (uint64_t r = 0; r < rows; ++r) {
      uint64_t prev = 0;  // the column the next gap counts from
      for (uint64_t c = 0; c < cols; ++c) {
        const uint32_t k = static_cast<uint32_t>(index_of(r * cols + c));
        if (k == 0) continue;
        for (; c - prev > kMaxCsrCodebookGap; prev += kMaxCsrCodebookGap) add(kMaxCsrCodebookGap, 0);
        add(static_cast<uint8_t>(c - prev), k);
        prev = c;
      }
      row_ptr.push_back(static_cast<uint32_t>(indices.size()));
    }
  }
  uint64_t nnz() const { return indices.size(); }
  DType row_ptr_type() const { return index_type_for(nnz()); }
  /// Part 2: row_ptr in `t` (U8 / U16 / U32, little-endian host), then the gaps.
  std::vector<uint8_t> structure(DType t) const {
    const size_t w = dtype_size(t);
    std::vector<uint8_t> out(row_ptr.size() * w + gaps.size());
    for (size_t i = 0; i < row_ptr.size(); ++i)
      for (size_t b = 0; b < w; ++b) out[i * w + b] = static_cast<uint8_t>(row_ptr[i] >> (8 * b));
    for (size_t i = 0; i < gaps.size(); ++i) out[row_ptr.size() * w + i] = gaps[i];
    return out;
  }
  /// Bytes of parts 1 and 2 for `index_bits`-bit indices (the centroids are extra).
  uint64_t bytes(int index_bits) const {
    return packed_index_bytes(nnz(), index_bits) + row_ptr.size() * dtype_size(row_ptr_type()) + gaps.size();
  }

 private:
  void add(uint32_t gap, uint32_t index) {
    gaps.push_back(static_cast<uint8_t>(gap));
    indices.push_back(index);
  }
};

/// Output size of a Conv2d / pooling window along one axis (PyTorch / ONNX rule, pads may be
/// asymmetric): floor_or_ceil((in + pad_begin + pad_end - dilation * (k - 1) - 1) / stride) + 1;
/// with ceil_mode a last window that would start inside the end padding is dropped. Returns
/// -1 when no window fits (or an argument is < 1 / pads < 0). Arguments must be below 2^31.
constexpr int64_t window_out(int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t pad_begin,
                             int64_t pad_end, bool ceil_mode) {
  if (in < 1 || k < 1 || stride < 1 || dilation < 1 || pad_begin < 0 || pad_end < 0) return -1;
  const int64_t avail = in + pad_begin + pad_end - (dilation * (k - 1) + 1);
  if (avail < 0) return -1;
  int64_t out = (ceil_mode ? (avail + stride - 1) / stride : avail / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out < 1 ? -1 : out;
}

/// The int32-accumulator rule of kOpAcc32 for one output channel: sum_abs_w = sum |q_w| of the
/// channel, x_bits = B_x (max |q_x| = 2^(B_x - 1)), abs_bias = |q_b|. sum_abs_w < 2^47 and
/// x_bits <= 16 keep the product below 2^62.
constexpr bool acc32_safe(uint64_t sum_abs_w, int x_bits, uint64_t abs_bias) {
  return sum_abs_w < (uint64_t{1} << 47) && abs_bias < (uint64_t{1} << 32) &&
         sum_abs_w * (uint64_t{1} << (x_bits - 1)) + abs_bias < (uint64_t{1} << 31);
}

/// CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF;
/// the same value as zlib's crc32). crc32("123456789") == 0xCBF43926.
namespace detail {
constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
inline constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();
}  // namespace detail

/// Continues a CRC: crc32_update(crc32(a, n), b, m) == crc32(a ++ b). Start with crc = 0.
inline uint32_t crc32_update(uint32_t crc, const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
  for (size_t i = 0; i < n; ++i) c = detail::kCrcTable[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
  return ~c;
}
inline uint32_t crc32(const void* data, size_t n) { return crc32_update(0, data, n); }

}  // namespace shrink::shr
