// A tiny .shr model assembled by hand from runtime/format/shr_format.h, independently of the
// exporter, so the loader's tests run in a runtime-only build and can corrupt any field:
//
//   input f32 [1,4,4] -> Quantize (i8, fl 4) -> Conv2d 2@3x3 (CSR i8 weights, or codebook /
//   CSR codebook ones, per-channel FL 6/5, i32 bias, fused ReLU) -> Flatten [8] -> Linear 8->3 (2-bit codebook, zero reserved) -> Dequantize
//
//   test::TinyShr t;                                   // the valid model
//   t.patch = [](test::TinyShr::Records& r) { r.tensors[4].fl = 25; };   // a record edited
//   std::vector<uint8_t> bytes = t.build();            // CRCs computed after the patch
//
// layout_sections, write_header and op_record build any other model the same way
// (fuzz/make_corpus.cc); fix_crcs recomputes the CRCs of a damaged image so that the damage
// reaches the checks behind them (fuzz/shr_loader_fuzzer.cc, tests/runtime/hostile_shr_test.cc).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "shr_format.h"

namespace shrink::test {

/// The canonical .shr layout of `secs` (in this order): a zero 64-byte header, the section table
/// (offsets, sizes, CRCs), each section at the next 64-byte boundary, zero padding to 64.
inline std::vector<uint8_t> layout_sections(const std::vector<std::pair<shr::SectionType, std::string>>& secs) {
  std::vector<uint8_t> out(shr::align_up(64 + 32 * secs.size(), 64), 0);
  for (size_t i = 0; i < secs.size(); ++i) {
    shr::SectionEntry e{};
    e.type = static_cast<uint32_t>(secs[i].first);
    e.offset = out.size();
    e.size = secs[i].second.size();
    e.crc = shr::crc32(secs[i].second.data(), secs[i].second.size());
    std::memcpy(&out[64 + 32 * i], &e, sizeof e);
    out.insert(out.end(), secs[i].second.begin(), secs[i].second.end());
    out.resize(shr::align_up(out.size(), 64), 0);
  }
  return out;
}

/// An op record reading `in` (appended to op_inputs) into `out`, without weight, bias or table.
inline shr::OpRecord op_record(shr::StrRef name, shr::OpCode code, std::vector<uint32_t>& op_inputs,
                               const std::vector<uint32_t>& in, uint32_t out) {
  shr::OpRecord r{};
  r.name = name;
  r.opcode = static_cast<uint16_t>(code);
  r.input_first = static_cast<uint32_t>(op_inputs.size());
  r.input_count = static_cast<uint32_t>(in.size());
  op_inputs.insert(op_inputs.end(), in.begin(), in.end());
  r.output = out;
  r.weight = r.bias = r.lut = shr::kNoTensor;
  return r;
}

/// Writes header h into bytes 0..63 of a layout_sections image of `entries` table entries; a
/// file_size or header_crc of 0 is replaced by the real value (tests set others to corrupt them).
inline void write_header(std::vector<uint8_t>& out, shr::FileHeader h, size_t entries) {
  if (h.file_size == 0) h.file_size = out.size();
  std::memcpy(out.data(), &h, sizeof h);
  uint32_t crc = shr::crc32(out.data(), shr::kHeaderCrcSpan);
  crc = shr::crc32_update(crc, out.data() + 64, 32 * std::min<size_t>(h.section_count, entries));
  if (h.header_crc == 0) std::memcpy(&out[60], &crc, 4);
}

/// Recomputes the section CRCs and the header CRC of a .shr image in place, as far as the header
/// and the table allow (entries out of range are left alone). Returns whether a byte changed.
inline bool fix_crcs(uint8_t* p, size_t n) {
  if (n < sizeof(shr::FileHeader) || std::memcmp(p, shr::kMagic, 8) != 0) return false;
  shr::FileHeader h;
  std::memcpy(&h, p, sizeof h);
  const uint32_t count = std::min(h.section_count, shr::kMaxSections);
  const size_t table = sizeof(shr::FileHeader) + size_t{count} * sizeof(shr::SectionEntry);
  if (table > n) return false;
  bool changed = false;
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t* at = p + sizeof(shr::FileHeader) + size_t{i} * sizeof(shr::SectionEntry);
    shr::SectionEntry e;
    std::memcpy(&e, at, sizeof e);
    if (e.offset > n || e.size > n - e.offset) continue;
    const uint32_t crc = shr::crc32(p + e.offset, static_cast<size_t>(e.size));
    if (crc != e.crc) {
      std::memcpy(at + offsetof(shr::SectionEntry, crc), &crc, 4);
      changed = true;
    }
  }
  uint32_t crc = shr::crc32(p, shr::kHeaderCrcSpan);
  crc = shr::crc32_update(crc, p + sizeof(shr::FileHeader), table - sizeof(shr::FileHeader));
  if (crc != h.header_crc) {
    std::memcpy(p + offsetof(shr::FileHeader, header_crc), &crc, 4);
    changed = true;
  }
  return changed;
}

/// A Huffman stream (docs/shr-format.md, encoding 1) of symbols below 2^k with the fixed-length
/// code: every one of the 2^k symbols has length k (a complete code), so symbol s's code is s in
/// k bits, MSB first. Independent of the exporter's encoder (export/huffman.h).
inline std::vector<uint8_t> fixed_huffman(const std::vector<uint32_t>& symbols, int k) {
  const uint32_t n = static_cast<uint32_t>(symbols.size()), payload = (n * static_cast<uint32_t>(k) + 7) / 8;
  std::vector<uint8_t> out(8);
  std::memcpy(out.data(), &n, 4);
  std::memcpy(out.data() + 4, &payload, 4);
  out.push_back(static_cast<uint8_t>((1u << k) - 1));
  out.push_back(static_cast<uint8_t>(k));
  out.resize(out.size() + ((1u << k) + 1) / 2, static_cast<uint8_t>(k * 0x11));
  const size_t at = out.size();
  out.resize(at + payload, 0);
  for (uint32_t i = 0; i < n; ++i)
    for (int b = 0; b < k; ++b)
      if ((symbols[i] >> (k - 1 - b)) & 1u) {
        const uint32_t bit = i * static_cast<uint32_t>(k) + static_cast<uint32_t>(b);
        out[at + bit / 8] |= static_cast<uint8_t>(0x80u >> (bit % 8));
      }
  return out;
}

struct TinyShr {
  // Data of the constants (edited by tests before build()).
  std::vector<int8_t> conv_values{10, -20, 30, -128, 127};  // row 0: cols 0, 4, 8; row 1: cols 1, 7
  std::vector<uint8_t> conv_row_ptr{0, 3, 5};
  std::vector<uint8_t> conv_cols{0, 4, 8, 1, 7};
  std::vector<int8_t> conv_fls{6, 5};
  std::vector<int32_t> conv_bias{100, -50};
  std::vector<int8_t> conv_bias_fls{10, 9};        // FL_x 4 + FL_w[c]
  std::vector<int8_t> centroids{0, 16, -16, 32};   // fl 5, centroid 0 reserved for zero
  std::vector<uint32_t> indices = default_indices();  // 24 indices of 2 bits
  std::vector<float> norm{0.5f, 0.25f};             // mean, std
  bool conv_codebook = false;      ///< store the conv weight as a 2-bit codebook {0, 10, -20, 30} instead
  uint8_t conv_codebook_last_or = 0;  ///< ORed into its last packed byte (18 * 2 bits: the top 4 bits are unused)
  /// Store the conv weight as CsrCodebook instead: the same integers as the CSR weight, 3-bit
  /// indices into conv_cb_centroids, conv_row_ptr (u8) and u8 column gaps.
  bool conv_csr_codebook = false;
  std::vector<int8_t> conv_cb_centroids{0, 10, -20, 30, -128, 127};
  std::vector<uint32_t> conv_cb_indices{1, 2, 3, 4, 5};
  std::vector<uint8_t> conv_gaps{0, 4, 4, 1, 6};   // columns 0, 4, 8 | 1, 7
  /// Encoding 1 (Huffman) for fc.weight's indices (2-bit fixed code) and, with
  /// conv_csr_codebook, the conv weight's indices and gaps (3-bit fixed codes).
  bool huffman = false;
  std::function<void(std::vector<uint8_t>&)> edit_fc_stream;  ///< damages fc.weight's stream

  struct Records {
    shr::FileHeader header{};
    shr::MetaRecord meta{};
    std::vector<uint32_t> io;
    std::vector<shr::TensorRecord> tensors;
    std::vector<shr::OpRecord> ops;
    std::vector<uint32_t> op_inputs;
    std::vector<shr::StrRef> labels;
  };
  std::function<void(Records&)> patch;  ///< applied to the records before the CRCs

  static std::vector<uint32_t> default_indices() {
    std::vector<uint32_t> v(24);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint32_t>((i * 7 + i / 5) % 4);
    return v;
  }

  std::vector<uint8_t> build() const {
    std::string strings, data;
    auto str = [&](const std::string& s) {
      shr::StrRef r{static_cast<uint32_t>(strings.size()), static_cast<uint32_t>(s.size())};
      strings += s;
      strings += '\0';
      return r;
    };
    auto part = [&](const void* p, size_t n) {
      data.resize(shr::align_up(data.size(), 16), '\0');
      shr::Part pt{data.size(), n};
      data.append(static_cast<const char*>(p), n);
      return pt;
    };
    auto tensor = [&](const char* name, shr::DType t, std::vector<uint32_t> dims, int bits, int fl, bool constant) {
      shr::TensorRecord r{};
      r.name = str(name);
      r.dtype = static_cast<uint8_t>(t);
      r.rank = static_cast<uint8_t>(dims.size());
      for (size_t i = 0; i < dims.size(); ++i) r.dims[i] = dims[i];
      r.bits = static_cast<uint8_t>(bits);
      r.fl = static_cast<int8_t>(fl);
      r.flags = constant ? shr::kTensorConstant : 0;
      return r;
    };
    Records rec;
    using D = shr::DType;
    rec.tensors.push_back(tensor("input", D::F32, {1, 4, 4}, 0, 0, false));       // 0
    rec.tensors.push_back(tensor("input:q", D::I8, {1, 4, 4}, 8, 4, false));      // 1
    auto pack2 = [](const std::vector<uint32_t>& idx) {
      std::vector<uint8_t> packed(shr::packed_index_bytes(idx.size(), 2), 0);
      for (size_t i = 0; i < idx.size(); ++i) packed[i / 4] |= static_cast<uint8_t>((idx[i] & 3u) << (2 * (i % 4)));
      return packed;
    };
    shr::TensorRecord w = tensor("conv.weight", D::I8, {2, 1, 3, 3}, 8, 0, true);  // 2
    if (conv_codebook) {
      static const int8_t kCentroids[4] = {0, 10, -20, 30};
      std::vector<uint32_t> idx(18);
      for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<uint32_t>(i % 4);
      std::vector<uint8_t> packed = pack2(idx);
      packed.back() |= conv_codebook_last_or;
      w.storage = static_cast<uint8_t>(shr::Storage::Codebook);
      w.index_bits = 2;
      w.centroid_count = 4;
      w.parts[0] = part(kCentroids, 4);
      w.parts[1] = part(packed.data(), packed.size());
    } else if (conv_csr_codebook) {
      w.storage = static_cast<uint8_t>(shr::Storage::CsrCodebook);
      w.flags |= shr::kTensorZeroReserved;
      w.index_bits = 3;
      w.centroid_count = static_cast<uint32_t>(conv_cb_centroids.size());
      w.nnz = static_cast<uint32_t>(conv_cb_indices.size());
      w.row_ptr_type = w.col_type = static_cast<uint8_t>(D::U8);
      w.parts[0] = part(conv_cb_centroids.data(), conv_cb_centroids.size());
      const std::vector<uint8_t> packed =
          huffman ? fixed_huffman(conv_cb_indices, 3) : shr::pack_indices(conv_cb_indices.data(), conv_cb_indices.size(), 3);
      w.parts[1] = part(packed.data(), packed.size());
      std::vector<uint8_t> structure(conv_row_ptr);
      const std::vector<uint8_t> gaps =
          huffman ? fixed_huffman(std::vector<uint32_t>(conv_gaps.begin(), conv_gaps.end()), 3) : conv_gaps;
      structure.insert(structure.end(), gaps.begin(), gaps.end());
      if (huffman) w.encoding = static_cast<uint8_t>(shr::Encoding::Huffman);
      w.parts[2] = part(structure.data(), structure.size());
    } else {
      w.storage = static_cast<uint8_t>(shr::Storage::Csr);
      w.nnz = static_cast<uint32_t>(conv_values.size());
      w.row_ptr_type = w.col_type = static_cast<uint8_t>(D::U8);
      w.parts[0] = part(conv_values.data(), conv_values.size());
      w.parts[1] = part(conv_row_ptr.data(), conv_row_ptr.size());
      w.parts[2] = part(conv_cols.data(), conv_cols.size());
    }
    w.channel_fl_count = static_cast<uint32_t>(conv_fls.size());
    w.parts[3] = part(conv_fls.data(), conv_fls.size());
    rec.tensors.push_back(w);
    shr::TensorRecord b = tensor("conv.bias", D::I32, {2}, 32, 0, true);  // 3
    b.parts[0] = part(conv_bias.data(), conv_bias.size() * 4);
    b.channel_fl_count = static_cast<uint32_t>(conv_bias_fls.size());
    b.parts[3] = part(conv_bias_fls.data(), conv_bias_fls.size());
    rec.tensors.push_back(b);
    rec.tensors.push_back(tensor("conv", D::I8, {2, 2, 2}, 8, 3, false));  // 4
    rec.tensors.push_back(tensor("flat", D::I8, {8}, 8, 3, false));        // 5
    shr::TensorRecord cb = tensor("fc.weight", D::I8, {3, 8}, 8, 5, true);  // 6
    cb.storage = static_cast<uint8_t>(shr::Storage::Codebook);
    cb.flags |= shr::kTensorZeroReserved;
    cb.index_bits = 2;
    cb.centroid_count = static_cast<uint32_t>(centroids.size());
    cb.parts[0] = part(centroids.data(), centroids.size());
    std::vector<uint8_t> packed = huffman ? fixed_huffman(indices, 2) : pack2(indices);
    if (huffman) cb.encoding = static_cast<uint8_t>(shr::Encoding::Huffman);
    if (edit_fc_stream) edit_fc_stream(packed);
    cb.parts[1] = part(packed.data(), packed.size());
    rec.tensors.push_back(cb);
    rec.tensors.push_back(tensor("fc", D::I8, {3}, 8, 2, false));      // 7
    rec.tensors.push_back(tensor("fc:f32", D::F32, {3}, 0, 0, false));  // 8

    auto op = [&](const char* name, shr::OpCode code, std::vector<uint32_t> in, uint32_t out) {
      return op_record(str(name), code, rec.op_inputs, in, out);
    };
    rec.ops.push_back(op("input:quantize", shr::OpCode::Quantize, {0}, 1));
    shr::OpRecord conv = op("conv", shr::OpCode::Conv2d, {1}, 4);
    conv.weight = 2;
    conv.bias = 3;
    conv.groups = 1;
    conv.kernel[0] = conv.kernel[1] = 3;
    conv.stride[0] = conv.stride[1] = 1;
    conv.dilation[0] = conv.dilation[1] = 1;
    conv.activation = static_cast<uint8_t>(shr::Activation::ReLU);
    conv.flags = shr::kOpAcc32;
    conv.clamp_lo = 0;
    conv.clamp_hi = 127;
    rec.ops.push_back(conv);
    rec.ops.push_back(op("flatten", shr::OpCode::Flatten, {4}, 5));
    shr::OpRecord fc = op("fc", shr::OpCode::Linear, {5}, 7);
    fc.weight = 6;
    fc.clamp_lo = -128;
    fc.clamp_hi = 127;
    rec.ops.push_back(fc);
    rec.ops.push_back(op("fc:dequantize", shr::OpCode::Dequantize, {7}, 8));

    rec.meta.name = str("tiny");
    rec.meta.producer = str("tests/runtime/tiny_shr.h");
    rec.meta.input_count = 1;
    rec.meta.output_count = 1;
    rec.meta.mean_count = 1;
    rec.meta.std_count = 1;
    rec.io = {0, 8};
    rec.labels = {str("a"), str("b"), str("c")};
    std::memcpy(rec.header.magic, shr::kMagic, 8);
    rec.header.version = shr::kVersion;
    rec.header.flags = shr::kFlagInteger;
    rec.header.section_count = 9;
    if (patch) patch(rec);

    auto raw = [](const auto& v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(v[0])); };
    const std::vector<std::pair<shr::SectionType, std::string>> secs = {
        {shr::SectionType::Strings, strings},
        {shr::SectionType::Meta, std::string(reinterpret_cast<const char*>(&rec.meta), sizeof rec.meta)},
        {shr::SectionType::GraphIO, raw(rec.io)},
        {shr::SectionType::Normalization, raw(norm)},
        {shr::SectionType::Labels, raw(rec.labels)},
        {shr::SectionType::Tensors, raw(rec.tensors)},
        {shr::SectionType::Ops, raw(rec.ops)},
        {shr::SectionType::OpInputs, raw(rec.op_inputs)},
        {shr::SectionType::Data, data},
    };
    std::vector<uint8_t> out = layout_sections(secs);
    write_header(out, rec.header, secs.size());
    return out;
  }
};

}  // namespace shrink::test
