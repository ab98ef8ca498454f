// The in-memory description of a loaded .shr model (C++ side of the runtime; the C API wraps
// it). Everything here is checked by load_model() before it is returned: tensor ids are in
// range, shapes agree with every op, formats are legal, CSR and codebook data are well formed.
// Tensor data are views into the caller's buffer (nothing is copied, except Huffman-encoded
// index data, decoded once at load into Model::decoded); the buffer must outlive the Model.
//
//   shrink::rt::Model m;
//   shrink::rt::Status s = shrink::rt::load_model(bytes, size, m);
//   if (!s.ok()) std::fprintf(stderr, "%s: %s\n", shrink_rt_status_str(s.code), s.message.c_str());
//   const shrink::rt::TensorDesc& w = m.tensors[m.ops[0].weight];   // w.values, w.fl_of(c), ...
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shr_format.h"
#include "shrink_rt.h"

namespace shrink::rt {

/// A status code and, when not ok, a one-line message naming the field, the value and the rule.
struct Status {
  shrink_rt_status code = SHRINK_RT_OK;
  std::string message;
  bool ok() const { return code == SHRINK_RT_OK; }
};

/// Reads an unsigned index of type t (U8 / U16 / U32) at element i of p (little-endian host).
inline uint32_t read_index(const uint8_t* p, shr::DType t, uint64_t i) {
  switch (t) {
    case shr::DType::U8: return p[i];
    case shr::DType::U16: {
      uint16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      return v;
    }
    default: {
      uint32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      return v;
    }
  }
}

/// Index i of a codebook stored with `bits` bits per index (shr::packed_index_bytes layout).
inline uint32_t unpack_index(const uint8_t* packed, int bits, uint64_t i) {
  const uint64_t bit = i * static_cast<uint64_t>(bits);
  const uint64_t byte = bit / 8;
  const unsigned shift = static_cast<unsigned>(bit % 8);
  // bits <= 8 and shift <= 7: the index spans at most two bytes.
  uint32_t v = packed[byte] >> shift;
  if (shift + static_cast<unsigned>(bits) > 8) v |= static_cast<uint32_t>(packed[byte + 1]) << (8 - shift);
  return v & ((1u << bits) - 1u);
}

/// Element k of an array of dtype t (F32, I8, I16, I32, U8, U16, U32) as a double.
inline double element(shr::DType t, const uint8_t* p, uint64_t k) {
  switch (t) {
    case shr::DType::F32: {
      float v;
      std::memcpy(&v, p + 4 * k, 4);
      return v;
    }
    case shr::DType::I8: return static_cast<int8_t>(p[k]);
    case shr::DType::I16: {
      int16_t v;
      std::memcpy(&v, p + 2 * k, 2);
      return v;
    }
    case shr::DType::I32: {
      int32_t v;
      std::memcpy(&v, p + 4 * k, 4);
      return v;
    }
    default: return read_index(p, t, k);
  }
}

struct TensorDesc {
  std::string_view name;  ///< NUL-terminated in the buffer
  shr::DType dtype = shr::DType::F32;
  shr::Storage storage = shr::Storage::Dense;
  shr::Encoding encoding = shr::Encoding::Raw;
  bool constant = false;
  bool zero_reserved = false;           ///< codebook: centroid 0 is exactly 0
  int rank = 0;
  std::array<int32_t, shr::kMaxRank> dims{};  ///< dims[i >= rank] = 0
  int64_t numel = 0;
  int bits = 0;                         ///< 0 for F32
  int fl = 0;                           ///< the FL when channel_fl_count == 0
  const int8_t* channel_fl = nullptr;   ///< channel_fl_count FLs (one per dims[0]), or null
  int32_t channel_fl_count = 0;
  int fl_of(int64_t channel) const { return channel_fl_count ? channel_fl[channel] : fl; }
  bool is_float() const { return dtype == shr::DType::F32; }

  /// Dense: numel values; CSR: nnz values; (CSR) codebook: centroid_count centroids. Null for activations.
  const uint8_t* values = nullptr;
  uint64_t stored_bytes = 0;            ///< all parts of the tensor in the file
  uint64_t decoded_bytes = 0;           ///< Huffman: bytes decoded at load (Model::decoded); raw: 0
  template <class T>
  const T* values_as() const { return reinterpret_cast<const T*>(values); }

  // CSR and CsrCodebook: rows = dims[0], cols = numel / rows.
  int64_t rows = 0, cols = 0;
  uint32_t nnz = 0;
  shr::DType row_ptr_type = shr::DType::U32, col_type = shr::DType::U32;
  const uint8_t* row_ptr = nullptr;
  const uint8_t* col_idx = nullptr;     ///< CSR: absolute columns; CsrCodebook: u8 column gaps
  uint32_t row_ptr_at(int64_t r) const { return read_index(row_ptr, row_ptr_type, static_cast<uint64_t>(r)); }
  uint32_t col_at(int64_t k) const { return read_index(col_idx, col_type, static_cast<uint64_t>(k)); }

  // Codebook and CsrCodebook (values = the centroids).
  int index_bits = 0;
  uint32_t centroid_count = 0;
  const uint8_t* indices = nullptr;     ///< packed (numel, resp. nnz), see shr::packed_index_bytes
  uint32_t index_at(int64_t i) const { return unpack_index(indices, index_bits, static_cast<uint64_t>(i)); }

  /// The integer (fixed-point tensors) or float value of element i of a constant, whatever its
  /// storage (CSR: a search in the row). For inspection and tests, not for kernels.
  double value_at(int64_t i) const;
};

struct OpDesc {
  std::string_view name;
  shr::OpCode code = shr::OpCode::Conv2d;
  shr::Activation activation = shr::Activation::None;
  bool ceil_mode = false, count_include_pad = false, acc32 = false;
  const uint32_t* inputs = nullptr;  ///< input_count activation tensor ids (view into the buffer)
  uint32_t input_count = 0;
  uint32_t output = 0;
  uint32_t weight = shr::kNoTensor, bias = shr::kNoTensor, lut = shr::kNoTensor;
  int32_t groups = 0;
  std::array<int32_t, 2> kernel{}, stride{}, dilation{};
  std::array<int32_t, 4> pads{};  ///< top, left, bottom, right
  int32_t axis = 0;                ///< dim of the batch-less shape
  int32_t clamp_lo = 0, clamp_hi = 0;
  float alpha = 0;
  uint32_t input(uint32_t i) const {
    uint32_t v;
    std::memcpy(&v, inputs + i, 4);
    return v;
  }
};

struct Plan;  // interpreter.h

struct Model {
  const uint8_t* data = nullptr;  ///< the whole file (not owned)
  size_t size = 0;
  uint32_t version = 0, flags = 0;
  std::string_view name, producer;
  std::vector<uint32_t> inputs, outputs;  ///< graph input / output tensor ids
  std::vector<float> mean, std;           ///< 0, 1 or C values each
  std::vector<std::string_view> labels;
  std::vector<TensorDesc> tensors;
  std::vector<OpDesc> ops;
  /// Load-time blocks holding the raw layout of Huffman-encoded tensors (TensorDesc pointers
  /// point into them; moving the Model keeps them valid). Nothing else is ever copied.
  std::vector<std::unique_ptr<uint8_t[]>> decoded;
  uint64_t decoded_bytes = 0;  ///< their total size
};

/// Parses and validates a whole .shr file. `data` must stay alive and unchanged while `out` is
/// used, and be aligned to kBufferAlignment. Never throws: every problem is a status (corrupt
/// model, unsupported version / value, out of memory, invalid argument) with a message.
Status load_model(const void* data, size_t size, Model& out) noexcept;

/// Alignment load_model requires of the buffer (every data part is then naturally aligned).
inline constexpr size_t kBufferAlignment = 8;

/// A file's bytes in a 64-byte aligned buffer.
struct FileBytes {
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> data;
  size_t size = 0;
};
/// Reads a file whole (io error with the path and reason on failure). Reads the header first and
/// refuses files whose header disagrees with their size before allocating for them.
Status read_model_file(const char* path, FileBytes& out) noexcept;

}  // namespace shrink::rt

/// The C API's model handle (opaque in shrink_rt.h). The interpreter adds its plan here.
struct shrink_rt_model {
  shrink::rt::FileBytes owned;  ///< set by shrink_rt_load_file; empty for shrink_rt_load
  shrink::rt::Model model;
  std::unique_ptr<shrink::rt::Plan> plan;  ///< arena plan (interpreter.h), made at load
};
