// The .shr reader: header, section table, CRCs, padding, records and tensor data, checked in that
// order before anything is used (docs/shr-format.md lists every check). Graph-level checks are
// in validate_graph.cc. No exceptions escape: allocation failures become "out of memory".
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <new>

#include "check.h"
#include "huffman.h"

// Status sites with a tensor / op context (tfail, ofail below; terse builds: the site only).
#define SHRINK_RT_TFAIL(t, code, ...) SHRINK_RT_MESSAGE(code, tfail(t, code, __VA_ARGS__))
#define SHRINK_RT_OFAIL(i, o, code, ...) SHRINK_RT_MESSAGE(code, ofail(i, o, code, __VA_ARGS__))

namespace shrink::rt {

namespace {

using shr::DType;
using shr::Storage;
using ull = unsigned long long;
using ll = long long;

const char* section_name(uint32_t type) {
  static const char* const kNames[] = {"?",      "Strings", "Meta", "GraphIO",  "Normalization",
                                       "Labels", "Tensors", "Ops",  "OpInputs", "Data"};
  return type <= shr::kLastSectionType ? kNames[type] : "?";
}

bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

bool all_zero(const uint8_t* p, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}

template <class T>
bool zero_record_bytes(const T& field) {
  return all_zero(reinterpret_cast<const uint8_t*>(&field), sizeof field);
}

struct Section {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  bool present = false;
};

class Loader {
 public:
  Loader(const uint8_t* data, size_t size, Model& m) : p_(data), size_(size), m_(m) {}

  Status run() {
    SHRINK_RT_TRY(header());
    SHRINK_RT_TRY(sections());
    SHRINK_RT_TRY(meta());
    SHRINK_RT_TRY(tensors());
    SHRINK_RT_TRY(ops());
    return validate_graph(m_);
  }

 private:
  const uint8_t* p_;
  uint64_t size_;
  Model& m_;
  shr::FileHeader h_{};
  Section sec_[shr::kLastSectionType + 1];

  Section& sec(shr::SectionType t) { return sec_[static_cast<uint32_t>(t)]; }

  Status header() {
    // The magic first (so "not a model" is told apart from a truncated model), then the
    // version (so a newer file is named as such even if its layout changed), then the CRC.
    const uint64_t have = std::min<uint64_t>(size_, 8);
    if (size_ == 0) return SHRINK_RT_FAIL(SHRINK_RT_NOT_A_MODEL, "not a .shr model: the buffer is empty");
    if (std::memcmp(p_, shr::kMagic, static_cast<size_t>(have)) != 0)
      return SHRINK_RT_FAIL(SHRINK_RT_NOT_A_MODEL, "not a .shr model: the first bytes are not the .shr magic 89 53 48 52 0D 0A 1A 0A");
    if (size_ < sizeof(shr::FileHeader))
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "truncated: the file has %llu bytes, less than the 64-byte header", ull(size_));
    Cursor c(p_, size_);
    c.read(h_);
    if (h_.version > shr::kVersion)
      return SHRINK_RT_FAIL(SHRINK_RT_UNSUPPORTED, "format version %" PRIu32 " is newer than this runtime's version %" PRIu32 " (shrink-rt %s); update the runtime",
                  h_.version, shr::kVersion, shrink_rt_version());
    if (h_.version == 0) return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "header: format version 0 is invalid (versions start at 1)");
    if (h_.section_count < 1 || h_.section_count > shr::kMaxSections)
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "header: section_count %" PRIu32 " is outside 1..%" PRIu32, h_.section_count, shr::kMaxSections);
    const uint64_t table_end = sizeof(shr::FileHeader) + uint64_t{h_.section_count} * sizeof(shr::SectionEntry);
    if (table_end > size_)
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "truncated: the section table ends at byte %llu but the file has %llu bytes",
                  ull(table_end), ull(size_));
    uint32_t crc = shr::crc32(p_, shr::kHeaderCrcSpan);
    crc = shr::crc32_update(crc, p_ + sizeof(shr::FileHeader), static_cast<size_t>(table_end - sizeof(shr::FileHeader)));
    if (crc != h_.header_crc)
      return SHRINK_RT_FAIL(SHRINK_RT_CHECKSUM_MISMATCH, "header CRC-32 mismatch: stored %" PRIu32 ", computed %" PRIu32, h_.header_crc, crc);
    if (h_.reserved0 != 0 || !zero_record_bytes(h_.reserved1))
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "header: reserved bytes are not zero");
    if (h_.flags & ~shr::kKnownHeaderFlags)
      return SHRINK_RT_FAIL(SHRINK_RT_UNSUPPORTED, "header: unknown flags 0x%" PRIx32 " (known: 0x%x)", h_.flags, unsigned{shr::kKnownHeaderFlags});
    if (h_.file_size != size_)
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "%s: the file has %llu bytes, the header says %llu",
                  h_.file_size > size_ ? "truncated" : "trailing bytes", ull(size_), ull(h_.file_size));
    if (h_.file_size % shr::kSectionAlign != 0)
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "header: file_size %llu is not a multiple of 64", ull(h_.file_size));
    m_.data = p_;
    m_.size = static_cast<size_t>(size_);
    m_.version = h_.version;
    m_.flags = h_.flags;
    return {};
  }

  Status sections() {
    Cursor c(p_, size_);
    c.seek(sizeof(shr::FileHeader));
    uint64_t expect = shr::align_up(sizeof(shr::FileHeader) + uint64_t{h_.section_count} * sizeof(shr::SectionEntry),
                                    shr::kSectionAlign);
    uint64_t gap_begin = c.pos() + uint64_t{h_.section_count} * sizeof(shr::SectionEntry);
    std::vector<shr::SectionEntry> entries(h_.section_count);  // <= kMaxSections
    for (uint32_t i = 0; i < h_.section_count; ++i) {
      shr::SectionEntry& e = entries[i];
      c.read(e);  // in range: checked by header()
      if (e.type < 1 || e.type > shr::kLastSectionType)
        return SHRINK_RT_FAIL(SHRINK_RT_UNSUPPORTED, "section %" PRIu32 ": unknown section type %" PRIu32, i, e.type);
      Section& s = sec_[e.type];
      [[maybe_unused]] const char* name = section_name(e.type);  // messages only
      if (s.present) return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "section %" PRIu32 ": a second %s section", i, name);
      if (e.reserved != 0) return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "section %s: reserved field is not zero", name);
      if (e.offset != expect)
        return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL,
                    "section %s: offset %llu, expected %llu (sections follow each other at 64-byte boundaries)", name,
                    ull(e.offset), ull(expect));
      if (!in_range(e.offset, e.size, size_))
        return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "section %s: bytes %llu + %llu run past the end of the file (%llu bytes)", name,
                    ull(e.offset), ull(e.size), ull(size_));
      SHRINK_RT_TRY(zero_gap(gap_begin, e.offset));
      s.data = p_ + e.offset;
      s.size = e.size;
      s.present = true;
      gap_begin = e.offset + e.size;
      expect = shr::align_up(gap_begin, shr::kSectionAlign);
    }
    if (expect != size_)
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "the last section ends at byte %llu, so the file should have %llu bytes, not %llu",
                  ull(gap_begin), ull(expect), ull(size_));
    SHRINK_RT_TRY(zero_gap(gap_begin, size_));
    for (const shr::SectionEntry& e : entries) {
      const uint32_t crc = shr::crc32(p_ + e.offset, static_cast<size_t>(e.size));
      if (crc != e.crc)
        return SHRINK_RT_FAIL(SHRINK_RT_CHECKSUM_MISMATCH, "section %s: CRC-32 mismatch: stored %" PRIu32 ", computed %" PRIu32, section_name(e.type),
                    e.crc, crc);
    }
    for (shr::SectionType t : {shr::SectionType::Strings, shr::SectionType::Meta, shr::SectionType::GraphIO,
                               shr::SectionType::Tensors, shr::SectionType::Ops, shr::SectionType::OpInputs,
                               shr::SectionType::Data})
      if (!sec(t).present)
        return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "the file has no %s section", section_name(static_cast<uint32_t>(t)));
    return {};
  }

  Status zero_gap(uint64_t begin, uint64_t end) {
    for (uint64_t i = begin; i < end; ++i)
      if (p_[i] != 0) return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "padding byte %llu is %u, expected 0", ull(i), unsigned{p_[i]});
    return {};
  }

  /// A string of the Strings section (followed by its NUL, no NUL inside).
  Status str(const shr::StrRef& r, std::string_view& out, const char* what) {
    const Section& s = sec(shr::SectionType::Strings);
    if (!in_range(r.offset, uint64_t{r.length} + 1, s.size))
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "%s: string at %" PRIu32 " of length %" PRIu32 " runs past the Strings section (%llu bytes)", what,
                  r.offset, r.length, ull(s.size));
    const char* b = reinterpret_cast<const char*>(s.data + r.offset);
    if (b[r.length] != '\0' || std::memchr(b, 0, r.length) != nullptr)
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "%s: string at %" PRIu32 " is not NUL-terminated at length %" PRIu32, what, r.offset, r.length);
    out = std::string_view(b, r.length);
    return {};
  }

  template <class T>
  Status table(shr::SectionType t, std::vector<T>& out) {
    const Section& s = sec(t);
    if (s.size % sizeof(T) != 0)
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "section %s: %llu bytes is not a multiple of its %zu-byte records",
                  section_name(static_cast<uint32_t>(t)), ull(s.size), sizeof(T));
    out.resize(static_cast<size_t>(s.size / sizeof(T)));  // bounded by the file size
    if (s.size) std::memcpy(out.data(), s.data, static_cast<size_t>(s.size));
    return {};
  }

  Status meta() {
    const Section& ms = sec(shr::SectionType::Meta);
    if (ms.size != sizeof(shr::MetaRecord))
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "section Meta: %llu bytes, expected 64", ull(ms.size));
    shr::MetaRecord r;
    std::memcpy(&r, ms.data, sizeof r);
    if (!zero_record_bytes(r.reserved)) return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "Meta: reserved bytes are not zero");
    SHRINK_RT_TRY(str(r.name, m_.name, "Meta name"));
    SHRINK_RT_TRY(str(r.producer, m_.producer, "Meta producer"));
    if (r.input_count < 1 || r.output_count < 1)
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "Meta: %" PRIu32 " inputs and %" PRIu32 " outputs, expected at least one of each", r.input_count,
                  r.output_count);
    std::vector<uint32_t> io;
    SHRINK_RT_TRY(table(shr::SectionType::GraphIO, io));
    if (io.size() != uint64_t{r.input_count} + r.output_count)
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "section GraphIO: %zu ids, expected %" PRIu32 " inputs + %" PRIu32 " outputs", io.size(),
                  r.input_count, r.output_count);
    m_.inputs.assign(io.begin(), io.begin() + r.input_count);
    m_.outputs.assign(io.begin() + r.input_count, io.end());
    std::vector<float> norm;
    if (sec(shr::SectionType::Normalization).present) SHRINK_RT_TRY(table(shr::SectionType::Normalization, norm));
    if (norm.size() != uint64_t{r.mean_count} + r.std_count)
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "section Normalization: %zu values, expected %" PRIu32 " means + %" PRIu32 " stds", norm.size(),
                  r.mean_count, r.std_count);
    m_.mean.assign(norm.begin(), norm.begin() + r.mean_count);
    m_.std.assign(norm.begin() + r.mean_count, norm.end());
    for (float v : m_.mean)
      if (!std::isfinite(v)) return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "Normalization: mean %g is not finite", double{v});
    for (float v : m_.std)
      if (!std::isfinite(v) || v == 0.0f)
        return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "Normalization: std %g must be finite and nonzero", double{v});
    std::vector<shr::StrRef> labels;
    if (sec(shr::SectionType::Labels).present) SHRINK_RT_TRY(table(shr::SectionType::Labels, labels));
    m_.labels.resize(labels.size());
    for (size_t i = 0; i < labels.size(); ++i) SHRINK_RT_TRY(str(labels[i], m_.labels[i], "label"));
    return {};
  }

  // --- tensors -------------------------------------------------------------------------------

  struct TensorCtx {
    uint32_t id;
    std::string_view name;
  };

  __attribute__((format(printf, 3, 4))) static Status tfail(const TensorCtx& t, shrink_rt_status code, const char* fmt, ...) {
    char prefix[160];
    std::snprintf(prefix, sizeof prefix, "tensor %u '%.100s': ", static_cast<unsigned>(t.id), t.name.data());
    va_list ap;
    va_start(ap, fmt);
    Status s = fail_with(code, prefix, fmt, ap);
    va_end(ap);
    return s;
  }

  /// Part k of a tensor: 16-byte aligned, inside the Data section, exactly `expect` bytes.
  Status part(const TensorCtx& t, const shr::TensorRecord& r, int k, uint64_t expect, const uint8_t*& out) {
    [[maybe_unused]] static const char* const kPart[] = {"values", "part 1", "part 2", "channel FLs"};
    const shr::Part& pt = r.parts[k];
    if (pt.size != expect)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "%s (part %d) has %llu bytes, expected %llu", kPart[k], k, ull(pt.size),
                   ull(expect));
    return part_span(t, r, k, out);
  }

  /// Part k's bytes whatever their size (Huffman parts): aligned and inside the Data section.
  Status part_span(const TensorCtx& t, const shr::TensorRecord& r, int k, const uint8_t*& out) {
    const shr::Part& pt = r.parts[k];
    const Section& d = sec(shr::SectionType::Data);
    if (pt.offset % shr::kPartAlign != 0)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "part %d offset %llu is not a multiple of 16", k, ull(pt.offset));
    if (!in_range(pt.offset, pt.size, d.size))
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "part %d bytes %llu + %llu run past the Data section (%llu bytes)", k,
                   ull(pt.offset), ull(pt.size), ull(d.size));
    out = d.data + pt.offset;
    return {};
  }

  Status unused_part(const TensorCtx& t, const shr::TensorRecord& r, int k) {
    if (r.parts[k].offset != 0 || r.parts[k].size != 0)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "part %d is unused for this storage but is not {0, 0}", k);
    return {};
  }

  /// Fixed-point integers of `n` elements at p must fit in `bits` bits.
  Status int_range(const TensorCtx& t, const TensorDesc& d, const uint8_t* p, uint64_t n, const char* what) {
    if (d.dtype != DType::I8 && d.dtype != DType::I16) return {};
    const int64_t lo = -(int64_t{1} << (d.bits - 1)), hi = (int64_t{1} << (d.bits - 1)) - 1;
    for (uint64_t i = 0; i < n; ++i) {
      const int64_t v = static_cast<int64_t>(element(d.dtype, p, i));
      if (v < lo || v > hi)
        return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "%s %llu is %lld, outside the %d-bit range %lld..%lld", what, ull(i),
                     ll(v), d.bits, ll(lo), ll(hi));
    }
    return {};
  }

  Status fl_range(const TensorCtx& t, DType dtype, int fl, const char* what) {
    const int lo = dtype == DType::I32 ? 2 * shr::kMinFl : shr::kMinFl;
    const int hi = dtype == DType::I32 ? 2 * shr::kMaxFl : shr::kMaxFl;
    if (fl < lo || fl > hi)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "%s %d is outside %d..%d for %s", what, fl, lo, hi, shr::dtype_name(dtype));
    return {};
  }

  Status tensor(uint32_t id, const shr::TensorRecord& r, TensorDesc& d) {
    TensorCtx t{id, {}};
    SHRINK_RT_TRY(str(r.name, d.name, "tensor name"));
    t.name = d.name;
    if (r.dtype > shr::kLastDType) return SHRINK_RT_TFAIL(t, SHRINK_RT_UNSUPPORTED, "unknown dtype %u", unsigned{r.dtype});
    if (r.storage > shr::kLastStorage) return SHRINK_RT_TFAIL(t, SHRINK_RT_UNSUPPORTED, "unknown storage %u", unsigned{r.storage});
    if (r.encoding > shr::kLastEncoding) return SHRINK_RT_TFAIL(t, SHRINK_RT_UNSUPPORTED, "unknown encoding %u", unsigned{r.encoding});
    if (r.flags & ~shr::kKnownTensorFlags) return SHRINK_RT_TFAIL(t, SHRINK_RT_UNSUPPORTED, "unknown flags 0x%x", unsigned{r.flags});
    if (!zero_record_bytes(r.reserved0) || !zero_record_bytes(r.reserved1))
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "reserved bytes are not zero");
    d.dtype = static_cast<DType>(r.dtype);
    d.storage = static_cast<Storage>(r.storage);
    d.encoding = static_cast<shr::Encoding>(r.encoding);
    d.constant = (r.flags & shr::kTensorConstant) != 0;
    d.zero_reserved = (r.flags & shr::kTensorZeroReserved) != 0;

    // Shape.
    if (r.rank < 1 || r.rank > shr::kMaxRank)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "rank %u is outside 1..4", unsigned{r.rank});
    d.rank = r.rank;
    uint64_t numel = 1;
    for (uint32_t i = 0; i < shr::kMaxRank; ++i) {
      const uint32_t v = r.dims[i];
      if (i >= r.rank) {
        if (v != 0) return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "dims[%" PRIu32 "] is %" PRIu32 " beyond rank %u, expected 0", i, v, unsigned{r.rank});
        continue;
      }
      if (v < 1 || v > shr::kMaxElements)
        return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "dims[%" PRIu32 "] is %" PRIu32 ", expected 1..%llu", i, v, ull(shr::kMaxElements));
      if (!mul_u64(numel, v, numel) || numel > shr::kMaxElements)
        return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "shape has more than %llu elements (dims[%" PRIu32 "] = %" PRIu32 ")", ull(shr::kMaxElements), i, v);
      d.dims[i] = static_cast<int32_t>(v);
    }
    d.numel = static_cast<int64_t>(numel);

    // Format.
    d.bits = r.bits;
    d.fl = r.fl;
    switch (d.dtype) {
      case DType::F32:
        if (r.bits != 0 || r.fl != 0 || r.channel_fl_count != 0)
          return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "f32 tensor with bits %u, fl %d, %" PRIu32 " channel FLs (expected 0, 0, 0)",
                       unsigned{r.bits}, int{r.fl}, r.channel_fl_count);
        break;
      case DType::I8:
      case DType::I16: {
        const int lo = d.dtype == DType::I8 ? shr::kMinBits : 9, hi = d.dtype == DType::I8 ? 8 : shr::kMaxBits;
        if (r.bits < lo || r.bits > hi)
          return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "bits %u is outside %d..%d for %s", unsigned{r.bits}, lo, hi,
                       shr::dtype_name(d.dtype));
        SHRINK_RT_TRY(fl_range(t, d.dtype, r.fl, "fl"));
        break;
      }
      case DType::I32:
        if (r.bits != 32) return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "bits %u, expected 32 for i32", unsigned{r.bits});
        SHRINK_RT_TRY(fl_range(t, d.dtype, r.fl, "fl"));
        if (!d.constant) return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "i32 is for constant biases only");
        break;
      default:
        return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "dtype %s is only for CSR indices", shr::dtype_name(d.dtype));
    }
    if (r.channel_fl_count != 0) {
      if (!d.constant) return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "an activation cannot have per-channel FLs");
      if (r.channel_fl_count != r.dims[0])
        return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "%" PRIu32 " channel FLs, expected dims[0] = %" PRIu32, r.channel_fl_count, r.dims[0]);
      if (r.fl != 0) return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "fl is %d with per-channel FLs, expected 0", int{r.fl});
    }

    // Activations: no data.
    const bool codebook = d.storage == Storage::Codebook || d.storage == Storage::CsrCodebook,
               csr = d.storage == Storage::Csr || d.storage == Storage::CsrCodebook;
    if (!codebook && (r.index_bits || r.centroid_count || d.zero_reserved))
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "codebook fields are set for %s storage", shr::storage_name(d.storage));
    if (d.encoding == shr::Encoding::Huffman && !codebook)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "huffman encoding is only defined for codebook storages, not %s",
                   shr::storage_name(d.storage));
    if (!csr && (r.nnz || r.row_ptr_type || r.col_type))
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "CSR fields are set for %s storage", shr::storage_name(d.storage));
    if (!d.constant) {
      if (d.storage != Storage::Dense)
        return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "an activation must be dense, not %s", shr::storage_name(d.storage));
      for (int k = 0; k < 4; ++k) SHRINK_RT_TRY(unused_part(t, r, k));
      return {};
    }

    // Constants: per-channel FLs (part 3), then the storage.
    if (r.channel_fl_count) {
      const uint8_t* fls;
      SHRINK_RT_TRY(part(t, r, 3, r.channel_fl_count, fls));
      d.channel_fl = reinterpret_cast<const int8_t*>(fls);
      d.channel_fl_count = static_cast<int32_t>(r.channel_fl_count);
      for (int32_t c = 0; c < d.channel_fl_count; ++c) SHRINK_RT_TRY(fl_range(t, d.dtype, d.channel_fl[c], "channel FL"));
    } else {
      SHRINK_RT_TRY(unused_part(t, r, 3));
    }
    const uint64_t esize = shr::dtype_size(d.dtype);
    switch (d.storage) {
      case Storage::Dense:
        SHRINK_RT_TRY(part(t, r, 0, numel * esize, d.values));  // numel < 2^31: no overflow
        SHRINK_RT_TRY(unused_part(t, r, 1));
        SHRINK_RT_TRY(unused_part(t, r, 2));
        SHRINK_RT_TRY(int_range(t, d, d.values, numel, "value"));
        break;
      case Storage::Csr:
        SHRINK_RT_TRY(csr_storage(t, r, d));
        break;
      case Storage::Codebook:
        SHRINK_RT_TRY(codebook_storage(t, r, d));
        break;
      case Storage::CsrCodebook:
        SHRINK_RT_TRY(csr_codebook_storage(t, r, d));
        break;
    }
    for (const shr::Part& pt : r.parts) d.stored_bytes += pt.size;
    return {};
  }

  Status index_type(const TensorCtx& t, uint8_t v, uint64_t max_value, const char* what, DType& out) {
    if (v != static_cast<uint8_t>(DType::U8) && v != static_cast<uint8_t>(DType::U16) && v != static_cast<uint8_t>(DType::U32))
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "%s type %u is not u8, u16 or u32", what, unsigned{v});
    out = static_cast<DType>(v);
    const uint64_t cap = (uint64_t{1} << (8 * shr::dtype_size(out))) - 1;
    if (max_value > cap)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "%s type %s cannot hold %llu", what, shr::dtype_name(out), ull(max_value));
    return {};
  }

  Status csr_storage(const TensorCtx& t, const shr::TensorRecord& r, TensorDesc& d) {
    if (d.dtype == DType::I32) return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "CSR values must be f32, i8 or i16");
    SHRINK_RT_TRY(csr_shape(t, r, d));
    SHRINK_RT_TRY(index_type(t, r.col_type, static_cast<uint64_t>(d.cols - 1), "column index", d.col_type));
    const uint64_t esize = shr::dtype_size(d.dtype);
    SHRINK_RT_TRY(part(t, r, 0, uint64_t{d.nnz} * esize, d.values));
    SHRINK_RT_TRY(part(t, r, 1, static_cast<uint64_t>(d.rows + 1) * shr::dtype_size(d.row_ptr_type), d.row_ptr));
    SHRINK_RT_TRY(part(t, r, 2, uint64_t{d.nnz} * shr::dtype_size(d.col_type), d.col_idx));
    SHRINK_RT_TRY(row_ptrs(t, d));
    for (int64_t row = 0; row < d.rows; ++row) {
      const uint32_t b = d.row_ptr_at(row), e = d.row_ptr_at(row + 1);
      for (uint32_t k = b; k < e; ++k) {
        const uint32_t col = d.col_at(k);
        if (col >= d.cols)
          return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "CSR column index %" PRIu32 " (entry %" PRIu32 ", row %lld) is not below %lld columns", col,
                       k, ll(row), ll(d.cols));
        if (k > b && col <= d.col_at(k - 1))
          return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "CSR columns of row %lld are not strictly increasing at entry %" PRIu32, ll(row), k);
      }
    }
    return int_range(t, d, d.values, d.nnz, "value");
  }

  /// CSR and CsrCodebook: rows = dims[0], cols = numel / rows, nnz <= numel (columns strictly
  /// increase within a row), a row pointer type that holds nnz.
  Status csr_shape(const TensorCtx& t, const shr::TensorRecord& r, TensorDesc& d) {
    d.rows = d.dims[0];
    d.cols = d.numel / d.rows;
    d.nnz = r.nnz;
    if (d.nnz > static_cast<uint64_t>(d.numel))
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "nnz %" PRIu32 " exceeds the %lld elements", d.nnz, ll(d.numel));
    return index_type(t, r.row_ptr_type, d.nnz, "row pointer", d.row_ptr_type);
  }

  /// CSR row pointers (d.row_ptr, d.rows, d.nnz set): row_ptr[0] = 0, non-decreasing within
  /// 0..nnz, row_ptr[rows] = nnz.
  Status row_ptrs(const TensorCtx& t, const TensorDesc& d) {
    if (d.row_ptr_at(0) != 0) return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "CSR row_ptr[0] is %" PRIu32 ", expected 0", d.row_ptr_at(0));
    for (int64_t row = 0; row < d.rows; ++row) {
      const uint32_t b = d.row_ptr_at(row), e = d.row_ptr_at(row + 1);
      if (e < b || e > d.nnz)
        return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL,
                     "CSR row_ptr is not monotone within 0..nnz: row_ptr[%lld] = %" PRIu32 ", row_ptr[%lld] = %" PRIu32 ", nnz %" PRIu32, ll(row), b,
                     ll(row + 1), e, d.nnz);
    }
    if (d.row_ptr_at(d.rows) != d.nnz)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "CSR row_ptr[rows] is %" PRIu32 ", expected nnz %" PRIu32, d.row_ptr_at(d.rows), d.nnz);
    return {};
  }

  /// Codebook and CsrCodebook: the index width, the centroids (part 0) and `count` packed
  /// indices (part 1), each below centroid_count, the unused bits of the last byte zero.
  Status codebook_parts(const TensorCtx& t, const shr::TensorRecord& r, TensorDesc& d, uint64_t count) {
    if (d.dtype != DType::I8 && d.dtype != DType::I16)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "codebook centroids must be i8 or i16 fixed point, not %s", shr::dtype_name(d.dtype));
    if (r.index_bits < 1 || r.index_bits > shr::kMaxIndexBits)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "index_bits %u is outside 1..8", unsigned{r.index_bits});
    d.index_bits = r.index_bits;
    const uint32_t k_max = 1u << d.index_bits;
    if (r.centroid_count < 1 || r.centroid_count > k_max)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "centroid_count %" PRIu32 " is outside 1..%" PRIu32 " (2^index_bits)", r.centroid_count, k_max);
    d.centroid_count = r.centroid_count;
    SHRINK_RT_TRY(part(t, r, 0, uint64_t{d.centroid_count} * shr::dtype_size(d.dtype), d.values));
    const uint64_t bytes = shr::packed_index_bytes(count, d.index_bits);
    if (d.encoding == shr::Encoding::Huffman)
      SHRINK_RT_TRY(huffman_indices(t, r, d, count));
    else
      SHRINK_RT_TRY(part(t, r, 1, bytes, d.indices));
    SHRINK_RT_TRY(int_range(t, d, d.values, d.centroid_count, "centroid"));
    if (d.zero_reserved && element(d.dtype, d.values, 0) != 0)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "zero_reserved is set but centroid 0 is %g", element(d.dtype, d.values, 0));
    for (uint64_t i = 0; i < count; ++i) {
      const uint32_t idx = d.index_at(static_cast<int64_t>(i));
      if (idx >= d.centroid_count) return bad_index(t, d, idx, i);
    }
    const uint64_t used_bits = count * static_cast<uint64_t>(d.index_bits);
    if (used_bits % 8 && (d.indices[bytes - 1] >> (used_bits % 8)) != 0)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "the unused bits of the last codebook index byte are not zero");
    return {};
  }

  /// Encoding::Huffman: decodes the stream that fills exactly [p, p + size) into `count` symbols,
  /// placed after `extra` bytes of a new load-time block (sized from the header first): one byte
  /// each, or with packed_bits packed that wide (codebook indices, each below centroid_count).
  Status huffman_block(const TensorCtx& t, TensorDesc& d, const char* what, const uint8_t* p, uint64_t size,
                       uint64_t count, uint64_t extra, uint8_t*& block, int packed_bits = 0) {
    HuffmanHeader h;
    int st = huffman_read_header(p, static_cast<size_t>(size), &h);
    if (st == kHuffmanOk && h.stream_bytes != size)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "the Huffman stream of %s has %llu bytes, its part %llu", what,
                   ull(h.stream_bytes), ull(size));
    if (st == kHuffmanOk && h.count != count)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "the Huffman stream of %s decodes to %" PRIu32 " symbols, expected %llu", what,
                   h.count, ull(count));
    if (st == kHuffmanOk) {
      // count < 2^31, extra < 2^35: no overflow
      const uint64_t n = extra + (packed_bits ? shr::packed_index_bytes(count, packed_bits) : count);
      if (m_.decoded_bytes + n > shr::kMaxDecodedPerFileByte * size_)
        return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "Huffman data decode to more than %llu times the file size",
                     ull(shr::kMaxDecodedPerFileByte));
      m_.decoded.emplace_back(new uint8_t[n ? n : 1]);  // bad_alloc: out of memory (load_model)
      block = m_.decoded.back().get();
      m_.decoded_bytes += n;
      d.decoded_bytes += n;
      size_t used = 0;
      HuffmanBadSymbol bad;
      st = packed_bits ? huffman_decode_packed(p, static_cast<size_t>(size), block + extra, static_cast<size_t>(count),
                                               packed_bits, d.centroid_count, &used, &bad)
                       : huffman_decode(p, static_cast<size_t>(size), block + extra, static_cast<size_t>(count), &used);
      if (st == kHuffmanSymbolOutOfRange) return bad_index(t, d, bad.value, bad.index);  // the raw file's message
    }
    if (st != kHuffmanOk)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "the Huffman stream of %s is invalid: %s", what, huffman_status_str(st));
    return {};
  }

  /// Encoding::Huffman, part 1: `count` index symbols, each below centroid_count, decoded straight
  /// into the raw packed layout: the load-time block is as large as the raw indices would be.
  Status huffman_indices(const TensorCtx& t, const shr::TensorRecord& r, TensorDesc& d, uint64_t count) {
    const uint8_t* p;
    SHRINK_RT_TRY(part_span(t, r, 1, p));
    uint8_t* packed;
    SHRINK_RT_TRY(huffman_block(t, d, "the indices (part 1)", p, r.parts[1].size, count, 0, packed, d.index_bits));
    d.indices = packed;
    return {};
  }

  Status bad_index(const TensorCtx& t, const TensorDesc& d, uint32_t idx, uint64_t i) {
    return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "codebook index %" PRIu32 " of %s %llu is not below the %" PRIu32 " centroids", idx,
                 d.storage == Storage::Codebook ? "element" : "entry", ull(i), d.centroid_count);
  }

  Status codebook_storage(const TensorCtx& t, const shr::TensorRecord& r, TensorDesc& d) {
    SHRINK_RT_TRY(codebook_parts(t, r, d, static_cast<uint64_t>(d.numel)));
    return unused_part(t, r, 2);
  }

  /// CsrCodebook (docs/shr-format.md): centroids, nnz packed indices, then row_ptr and the u8
  /// column gaps in part 2. Padding entries (index 0) need zero_reserved and have gap 255.
  Status csr_codebook_storage(const TensorCtx& t, const shr::TensorRecord& r, TensorDesc& d) {
    if (!d.zero_reserved)
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "csr-codebook storage needs zero_reserved");
    SHRINK_RT_TRY(csr_shape(t, r, d));
    if (r.col_type != static_cast<uint8_t>(DType::U8))
      return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "csr-codebook col_type %u is not u8", unsigned{r.col_type});
    d.col_type = DType::U8;
    SHRINK_RT_TRY(codebook_parts(t, r, d, d.nnz));
    const uint64_t ptr_bytes = static_cast<uint64_t>(d.rows + 1) * shr::dtype_size(d.row_ptr_type);
    const uint8_t* structure;
    if (d.encoding == shr::Encoding::Huffman) {  // raw row_ptr, then the stream of the gaps
      SHRINK_RT_TRY(part_span(t, r, 2, structure));
      if (r.parts[2].size < ptr_bytes)
        return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "part 2 has %llu bytes, fewer than the %llu of row_ptr",
                     ull(r.parts[2].size), ull(ptr_bytes));
      uint8_t* block;
      SHRINK_RT_TRY(huffman_block(t, d, "the column gaps (part 2)", structure + ptr_bytes, r.parts[2].size - ptr_bytes,
                                  d.nnz, ptr_bytes, block));
      std::memcpy(block, structure, ptr_bytes);
      structure = block;
    } else {
      SHRINK_RT_TRY(part(t, r, 2, ptr_bytes + d.nnz, structure));
    }
    d.row_ptr = structure;
    d.col_idx = structure + ptr_bytes;  // the gaps
    SHRINK_RT_TRY(row_ptrs(t, d));
    for (int64_t row = 0; row < d.rows; ++row) {
      int64_t col = 0;
      for (uint32_t k = d.row_ptr_at(row), e = d.row_ptr_at(row + 1); k < e; ++k) {
        const uint32_t gap = d.col_idx[k];
        if (gap == 0 && k != d.row_ptr_at(row))  // the same messages as CSR's
          return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "CSR columns of row %lld are not strictly increasing at entry %" PRIu32, ll(row), k);
        col += gap;
        if (col >= d.cols)
          return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "CSR column index %" PRIu32 " (entry %" PRIu32 ", row %lld) is not below %lld columns",
                       static_cast<uint32_t>(col), k, ll(row), ll(d.cols));
        if (d.index_at(k) == 0 && gap != shr::kMaxCsrCodebookGap)
          return SHRINK_RT_TFAIL(t, SHRINK_RT_CORRUPT_MODEL, "csr-codebook entry %" PRIu32 " (row %lld): padding (index 0) with gap %" PRIu32 ", not 255", k,
                       ll(row), gap);
      }
    }
    return {};
  }

  Status tensors() {
    std::vector<shr::TensorRecord> recs;
    SHRINK_RT_TRY(table(shr::SectionType::Tensors, recs));
    if (recs.size() >= shr::kNoTensor) return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "too many tensors");
    m_.tensors.resize(recs.size());
    for (size_t i = 0; i < recs.size(); ++i) SHRINK_RT_TRY(tensor(static_cast<uint32_t>(i), recs[i], m_.tensors[i]));
    return {};
  }

  // --- ops -----------------------------------------------------------------------------------

  __attribute__((format(printf, 4, 5))) static Status ofail(size_t i, const OpDesc& o, shrink_rt_status code, const char* fmt,
                                                            ...) {
    char prefix[160];
    std::snprintf(prefix, sizeof prefix, "op %zu '%.100s': ", i, o.name.data());
    va_list ap;
    va_start(ap, fmt);
    Status s = fail_with(code, prefix, fmt, ap);
    va_end(ap);
    return s;
  }

  Status ops() {
    std::vector<shr::OpRecord> recs;
    SHRINK_RT_TRY(table(shr::SectionType::Ops, recs));
    const Section& in = sec(shr::SectionType::OpInputs);
    if (in.size % 4 != 0)
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "section OpInputs: %llu bytes is not a multiple of 4", ull(in.size));
    const uint64_t n_inputs = in.size / 4, n_tensors = m_.tensors.size();
    m_.ops.resize(recs.size());
    for (size_t i = 0; i < recs.size(); ++i) {
      const shr::OpRecord& r = recs[i];
      OpDesc& o = m_.ops[i];
      SHRINK_RT_TRY(str(r.name, o.name, "op name"));
      if (r.opcode > shr::kLastOpCode) return SHRINK_RT_OFAIL(i, o, SHRINK_RT_UNSUPPORTED, "unknown opcode %u", unsigned{r.opcode});
      if (r.activation > shr::kLastActivation)
        return SHRINK_RT_OFAIL(i, o, SHRINK_RT_UNSUPPORTED, "unknown activation %u", unsigned{r.activation});
      if (r.flags & ~shr::kKnownOpFlags) return SHRINK_RT_OFAIL(i, o, SHRINK_RT_UNSUPPORTED, "unknown flags 0x%x", unsigned{r.flags});
      if (!zero_record_bytes(r.reserved)) return SHRINK_RT_OFAIL(i, o, SHRINK_RT_CORRUPT_MODEL, "reserved bytes are not zero");
      o.code = static_cast<shr::OpCode>(r.opcode);
      o.activation = static_cast<shr::Activation>(r.activation);
      o.ceil_mode = (r.flags & shr::kOpCeilMode) != 0;
      o.count_include_pad = (r.flags & shr::kOpCountIncludePad) != 0;
      o.acc32 = (r.flags & shr::kOpAcc32) != 0;
      if (r.input_count < 1 || !in_range(r.input_first, r.input_count, n_inputs))
        return SHRINK_RT_OFAIL(i, o, SHRINK_RT_CORRUPT_MODEL,
                     "inputs %" PRIu32 " + %" PRIu32 " are not within the %llu entries of OpInputs (at least one input)", r.input_first,
                     r.input_count, ull(n_inputs));
      o.inputs = reinterpret_cast<const uint32_t*>(in.data) + r.input_first;
      o.input_count = r.input_count;
      for (uint32_t k = 0; k < o.input_count; ++k)
        if (o.input(k) >= n_tensors)
          return SHRINK_RT_OFAIL(i, o, SHRINK_RT_CORRUPT_MODEL, "input %" PRIu32 " is tensor id %" PRIu32 ", but there are %llu tensors", k, o.input(k),
                       ull(n_tensors));
      [[maybe_unused]] const char* const kSlot[] = {"output", "weight", "bias", "lut"};
      const uint32_t slots[] = {r.output, r.weight, r.bias, r.lut};
      for (int k = 0; k < 4; ++k)
        if ((k == 0 || slots[k] != shr::kNoTensor) && slots[k] >= n_tensors)
          return SHRINK_RT_OFAIL(i, o, SHRINK_RT_CORRUPT_MODEL, "%s tensor id %" PRIu32 ", but there are %llu tensors", kSlot[k], slots[k],
                       ull(n_tensors));
      o.output = r.output;
      o.weight = r.weight;
      o.bias = r.bias;
      o.lut = r.lut;
      const uint32_t params[] = {r.groups,      r.kernel[0], r.kernel[1], r.stride[0], r.stride[1], r.dilation[0],
                                 r.dilation[1], r.pads[0],   r.pads[1],   r.pads[2],   r.pads[3]};
      for (uint32_t v : params)
        if (v > static_cast<uint32_t>(std::numeric_limits<int32_t>::max()))
          return SHRINK_RT_OFAIL(i, o, SHRINK_RT_CORRUPT_MODEL, "window parameter %" PRIu32 " exceeds 2^31 - 1", v);
      o.groups = static_cast<int32_t>(r.groups);
      for (int k = 0; k < 2; ++k) {
        o.kernel[k] = static_cast<int32_t>(r.kernel[k]);
        o.stride[k] = static_cast<int32_t>(r.stride[k]);
        o.dilation[k] = static_cast<int32_t>(r.dilation[k]);
      }
      for (int k = 0; k < 4; ++k) o.pads[k] = static_cast<int32_t>(r.pads[k]);
      o.axis = r.axis;
      o.clamp_lo = r.clamp_lo;
      o.clamp_hi = r.clamp_hi;
      o.alpha = r.alpha;
    }
    return {};
  }
};

}  // namespace

double TensorDesc::value_at(int64_t i) const {
  if (!values || i < 0 || i >= numel) return 0;
  switch (storage) {
    case shr::Storage::Dense: return element(dtype, values, static_cast<uint64_t>(i));
    case shr::Storage::Codebook: return element(dtype, values, index_at(i));
    case shr::Storage::Csr: {
      const int64_t row = i / cols, col = i % cols;
      const uint32_t e = row_ptr_at(row + 1);
      for (uint32_t k = row_ptr_at(row); k < e; ++k)
        if (col_at(k) == col) return element(dtype, values, k);
      return 0;
    }
    case shr::Storage::CsrCodebook: {
      const int64_t row = i / cols, col = i % cols;
      int64_t at = 0;
      for (uint32_t k = row_ptr_at(row), e = row_ptr_at(row + 1); k < e && at <= col; ++k)
        if ((at += col_at(k)) == col) return element(dtype, values, index_at(k));
      return 0;
    }
  }
  return 0;
}

Status load_model(const void* data, size_t size, Model& out) noexcept {
  try {
    out = Model{};
    if (data == nullptr) return SHRINK_RT_FAIL(SHRINK_RT_INVALID_ARGUMENT, "no model bytes (null pointer)");
    if (reinterpret_cast<uintptr_t>(data) % kBufferAlignment != 0)
      return SHRINK_RT_FAIL(SHRINK_RT_INVALID_ARGUMENT, "the model buffer must be aligned to %zu bytes (its address is %zu mod 64)",
                  kBufferAlignment, static_cast<size_t>(reinterpret_cast<uintptr_t>(data) % 64));
    if (!host_is_little_endian()) return SHRINK_RT_FAIL(SHRINK_RT_UNSUPPORTED, "the runtime reads .shr files on little-endian hosts only");
    Loader l(static_cast<const uint8_t*>(data), size, out);
    Status s = l.run();
    if (!s.ok()) out = Model{};
    return s;
  } catch (const std::bad_alloc&) {
    out = Model{};
    return SHRINK_RT_FAIL(SHRINK_RT_OUT_OF_MEMORY, "out of memory while loading the model description");
  } catch (...) {
    out = Model{};
    return SHRINK_RT_FAIL(SHRINK_RT_OUT_OF_MEMORY, "unexpected failure while loading the model");
  }
}

}  // namespace shrink::rt
