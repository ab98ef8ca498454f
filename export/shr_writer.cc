// .shr writer: graph IR -> tensors, ops and data of runtime/format/shr_format.h.
#include "export/shr_writer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "compress/ir/lut.h"
#include "compress/ir/passes.h"
#include "compress/ir/quant_state.h"
#include "export/huffman.h"
#include "runtime/format/shr_format.h"
#include "runtime/include/shrink_fixed_point.h"

#ifndef SHRINK_VERSION
#define SHRINK_VERSION "0.0.0"
#endif

namespace shrink::exporter {

namespace {

using shr::DType;

std::string node_desc(const ir::Node& n) { return detail::concat("node '", n.name, "' (", ir::op_name(n.op), ")"); }

template <class T>
void append_pod(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

DType fixed_dtype(int bits) { return bits <= 8 ? DType::I8 : DType::I16; }

/// Tables of the file under construction.
class Builder {
 public:
  uint32_t str(const std::string& s) {
    auto it = strings_index_.find(s);
    if (it != strings_index_.end()) return it->second;
    const uint32_t off = static_cast<uint32_t>(strings_.size());
    strings_ += s;
    strings_ += '\0';
    strings_index_[s] = off;
    return off;
  }
  shr::StrRef ref(const std::string& s) {
    if (s.size() > std::numeric_limits<uint32_t>::max() / 2 || s.find('\0') != std::string::npos)
      throw BadInput("name '", s.substr(0, 40), "' is too long or contains a NUL byte");
    return {str(s), static_cast<uint32_t>(s.size())};
  }

  /// Appends bytes to the Data section at a 16-byte boundary.
  shr::Part part(const void* p, size_t n) {
    data_.resize(static_cast<size_t>(shr::align_up(data_.size(), shr::kPartAlign)), '\0');
    shr::Part pt{data_.size(), n};
    data_.append(static_cast<const char*>(p), n);
    return pt;
  }
  template <class T>
  shr::Part part(const std::vector<T>& v) {
    return part(v.data(), v.size() * sizeof(T));
  }

  /// A tensor record with name, dtype, shape and format; storage and parts are left dense/empty.
  shr::TensorRecord record(const std::string& name, DType dtype, const ir::Shape& shape, int bits, int fl) {
    if (shape.empty() || shape.size() > shr::kMaxRank)
      throw BadInput("tensor '", name, "' has shape ", ir::shape_str(shape), ": the runtime supports ranks 1..4");
    shr::TensorRecord r{};
    r.name = ref(name);
    r.dtype = static_cast<uint8_t>(dtype);
    r.rank = static_cast<uint8_t>(shape.size());
    uint64_t numel = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] < 1 || static_cast<uint64_t>(shape[i]) > shr::kMaxElements)
        throw BadInput("tensor '", name, "' has shape ", ir::shape_str(shape), ": dims must be 1..2^31-1");
      numel *= static_cast<uint64_t>(shape[i]);
      if (numel > shr::kMaxElements)
        throw BadInput("tensor '", name, "' has shape ", ir::shape_str(shape), ": more than 2^31-1 elements");
      r.dims[i] = static_cast<uint32_t>(shape[i]);
    }
    r.bits = static_cast<uint8_t>(bits);
    r.fl = static_cast<int8_t>(fl);
    return r;
  }

  uint32_t add_tensor(const shr::TensorRecord& r) {
    tensors_.push_back(r);
    return static_cast<uint32_t>(tensors_.size() - 1);
  }

  /// An activation: float (f32) or fixed point in the given format.
  uint32_t activation(const std::string& name, const ir::Shape& shape, std::optional<quant::QFormat> f) {
    return add_tensor(f ? record(name, fixed_dtype(f->bits), shape, f->bits, f->fl) : record(name, DType::F32, shape, 0, 0));
  }

  uint32_t add_op(shr::OpRecord r, const std::vector<uint32_t>& inputs) {
    r.input_first = static_cast<uint32_t>(op_inputs_.size());
    r.input_count = static_cast<uint32_t>(inputs.size());
    op_inputs_.insert(op_inputs_.end(), inputs.begin(), inputs.end());
    ops_.push_back(r);
    return static_cast<uint32_t>(ops_.size() - 1);
  }

  std::string finish(const ir::Metadata& meta, uint32_t flags, const std::vector<uint32_t>& inputs,
                     const std::vector<uint32_t>& outputs) {
    shr::MetaRecord m{};
    m.name = ref(meta.name);
    m.producer = ref(std::string("shrink ") + SHRINK_VERSION);
    m.input_count = static_cast<uint32_t>(inputs.size());
    m.output_count = static_cast<uint32_t>(outputs.size());
    m.mean_count = static_cast<uint32_t>(meta.mean.size());
    m.std_count = static_cast<uint32_t>(meta.std.size());
    std::vector<uint32_t> io = inputs;
    io.insert(io.end(), outputs.begin(), outputs.end());
    std::vector<float> norm = meta.mean;
    norm.insert(norm.end(), meta.std.begin(), meta.std.end());
    std::vector<shr::StrRef> labels;
    for (const auto& l : meta.labels) labels.push_back(ref(l));

    struct Sec {
      shr::SectionType type;
      std::string bytes;
    };
    auto bytes_of = [](const auto& v) {
      return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(v[0]));
    };
    std::string meta_bytes;
    append_pod(meta_bytes, m);
    // Every ref() has been made above, so the Strings section is complete.
    std::vector<Sec> secs;
    secs.push_back({shr::SectionType::Strings, strings_});
    secs.push_back({shr::SectionType::Meta, meta_bytes});
    secs.push_back({shr::SectionType::GraphIO, bytes_of(io)});
    secs.push_back({shr::SectionType::Normalization, bytes_of(norm)});
    secs.push_back({shr::SectionType::Labels, bytes_of(labels)});
    secs.push_back({shr::SectionType::Tensors, bytes_of(tensors_)});
    secs.push_back({shr::SectionType::Ops, bytes_of(ops_)});
    secs.push_back({shr::SectionType::OpInputs, bytes_of(op_inputs_)});
    secs.push_back({shr::SectionType::Data, std::move(data_)});

    std::vector<shr::SectionEntry> table(secs.size());
    uint64_t pos = shr::align_up(sizeof(shr::FileHeader) + secs.size() * sizeof(shr::SectionEntry), shr::kSectionAlign);
    for (size_t i = 0; i < secs.size(); ++i) {
      table[i].type = static_cast<uint32_t>(secs[i].type);
      table[i].offset = pos;
      table[i].size = secs[i].bytes.size();
      table[i].crc = shr::crc32(secs[i].bytes.data(), secs[i].bytes.size());
      pos = shr::align_up(pos + secs[i].bytes.size(), shr::kSectionAlign);
    }
    shr::FileHeader h{};
    std::memcpy(h.magic, shr::kMagic, sizeof h.magic);
    h.version = shr::kVersion;
    h.flags = flags;
    h.section_count = static_cast<uint32_t>(secs.size());
    h.file_size = pos;

    std::string out;
    out.reserve(static_cast<size_t>(pos));
    append_pod(out, h);
    for (const auto& e : table) append_pod(out, e);
    for (size_t i = 0; i < secs.size(); ++i) {
      out.resize(static_cast<size_t>(table[i].offset), '\0');
      out += secs[i].bytes;
    }
    out.resize(static_cast<size_t>(pos), '\0');
    uint32_t crc = shr::crc32(out.data(), shr::kHeaderCrcSpan);
    crc = shr::crc32_update(crc, out.data() + sizeof h, table.size() * sizeof(shr::SectionEntry));
    std::memcpy(&out[offsetof(shr::FileHeader, header_crc)], &crc, sizeof crc);
    return out;
  }

 private:
  std::string strings_;
  std::map<std::string, uint32_t> strings_index_;
  std::string data_;
  std::vector<shr::TensorRecord> tensors_;
  std::vector<shr::OpRecord> ops_;
  std::vector<uint32_t> op_inputs_;
};

/// Fills the storage of a weight with values v (row-major, rows = dims[0]): CSR when allowed,
/// the tensor has zeros and CSR is smaller, else dense.
template <class T>
void store_values(Builder& b, shr::TensorRecord& r, const std::vector<T>& v, int64_t rows, bool allow_csr) {
  const int64_t n = static_cast<int64_t>(v.size()), cols = n / rows;
  const uint64_t nnz = static_cast<uint64_t>(std::count_if(v.begin(), v.end(), [](T x) { return x != T(0); }));
  const DType row_t = shr::index_type_for(nnz), col_t = shr::index_type_for(static_cast<uint64_t>(cols - 1));
  const uint64_t dense = v.size() * sizeof(T);
  const uint64_t csr = nnz * (sizeof(T) + shr::dtype_size(col_t)) + static_cast<uint64_t>(rows + 1) * shr::dtype_size(row_t);
  if (!allow_csr || nnz == v.size() || csr >= dense) {
    r.storage = static_cast<uint8_t>(shr::Storage::Dense);
    r.parts[0] = b.part(v);
    return;
  }
  std::vector<T> values;
  std::vector<uint32_t> row_ptr{0}, col;
  values.reserve(nnz);
  col.reserve(nnz);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const T x = v[static_cast<size_t>(i * cols + j)];
      if (x != T(0)) {
        values.push_back(x);
        col.push_back(static_cast<uint32_t>(j));
      }
    }
    row_ptr.push_back(static_cast<uint32_t>(values.size()));
  }
  auto narrow = [&](const std::vector<uint32_t>& x, DType t) {
    if (t == DType::U8) return b.part(std::vector<uint8_t>(x.begin(), x.end()));
    if (t == DType::U16) return b.part(std::vector<uint16_t>(x.begin(), x.end()));
    return b.part(x);
  };
  r.storage = static_cast<uint8_t>(shr::Storage::Csr);
  r.nnz = static_cast<uint32_t>(nnz);
  r.row_ptr_type = static_cast<uint8_t>(row_t);
  r.col_type = static_cast<uint8_t>(col_t);
  r.parts[0] = b.part(values);
  r.parts[1] = narrow(row_ptr, row_t);
  r.parts[2] = narrow(col, col_t);
}

/// Fixed-point integers in the narrowest container of their width.
template <class F>
void store_ints(Builder& b, shr::TensorRecord& r, int bits, size_t n, F value, int64_t rows, bool allow_csr) {
  if (bits <= 8) {
    std::vector<int8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<int8_t>(value(i));
    store_values(b, r, v, rows, allow_csr);
  } else {
    std::vector<int16_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<int16_t>(value(i));
    store_values(b, r, v, rows, allow_csr);
  }
}

/// Per-channel FLs in part 3 (or the one FL in the record).
void store_fls(Builder& b, shr::TensorRecord& r, const std::vector<int>& fls) {
  if (fls.size() == 1) {
    r.fl = static_cast<int8_t>(fls[0]);
    return;
  }
  std::vector<int8_t> v(fls.begin(), fls.end());
  r.channel_fl_count = static_cast<uint32_t>(v.size());
  r.fl = 0;
  r.parts[3] = b.part(v);
}

/// The indices of a k-means weight (rows = dims[0], parts 1 and 2; part 0, the centroids, is the
/// caller's), the smallest of: Codebook (every index packed); Deep Compression's CsrCodebook
/// (the nonzero indices in CSR with u8 column gaps) when CSR is allowed and index 0 is the
/// reserved zero; with `entropy`, either of them Huffman-coded (docs/shr-format.md, "Encoding").
/// A second part costs up to 15 bytes of alignment padding; ties keep the earlier form.
void store_codebook_indices(Builder& b, shr::TensorRecord& r, const quant::Codebook& cb, int64_t rows,
                            const ShrOptions& o) {
  const int bits = cb.index_bits;
  const std::vector<uint8_t> idx(cb.indices.begin(), cb.indices.end());  // indices < 2^8
  const uint64_t n = idx.size(), packed = shr::packed_index_bytes(n, bits);
  const bool csr_ok = o.allow_csr && cb.zero_reserved;
  const shr::CsrCodebookEncoder e(csr_ok ? static_cast<uint64_t>(rows) : 0, n / static_cast<uint64_t>(rows),
                                  [&](uint64_t i) { return idx[static_cast<size_t>(i)]; });
  const std::vector<uint8_t> e_idx(e.indices.begin(), e.indices.end());
  const uint64_t ptr_bytes = e.row_ptr.size() * shr::dtype_size(e.row_ptr_type()), pad = shr::kPartAlign - 1;
  // Huffman costs, and whether the decoded bytes stay within the loader's bound.
  auto huff = [](const std::vector<uint8_t>& v) { return huffman_encoded_size(v.data(), v.size()); };
  auto decodable = [](uint64_t decoded, uint64_t stored) { return decoded <= shr::kMaxDecodedPerFileByte * stored; };
  enum Form { kCodebook, kCsr, kHuffCodebook, kHuffCsr };
  uint64_t cost[4] = {packed, UINT64_MAX, UINT64_MAX, UINT64_MAX};
  if (csr_ok) cost[kCsr] = e.bytes(bits) + pad;
  if (o.entropy) {
    const uint64_t h = huff(idx);
    if (decodable(n, h)) cost[kHuffCodebook] = h;
    if (csr_ok) {
      const uint64_t hc = huff(e_idx) + ptr_bytes + huff(e.gaps) + pad;
      if (decodable(ptr_bytes + 2 * e.nnz(), hc)) cost[kHuffCsr] = hc;
    }
  }
  const Form f = static_cast<Form>(std::min_element(cost, cost + 4) - cost);
  const bool huffman = f == kHuffCodebook || f == kHuffCsr;
  if (huffman) r.encoding = static_cast<uint8_t>(shr::Encoding::Huffman);
  if (f == kCodebook || f == kHuffCodebook) {
    r.storage = static_cast<uint8_t>(shr::Storage::Codebook);
    const std::vector<uint32_t> wide(idx.begin(), idx.end());
    r.parts[1] = huffman ? b.part(huffman_encode(idx.data(), n)) : b.part(shr::pack_indices(wide.data(), n, bits));
    return;
  }
  r.storage = static_cast<uint8_t>(shr::Storage::CsrCodebook);
  r.nnz = static_cast<uint32_t>(e.nnz());
  r.row_ptr_type = static_cast<uint8_t>(e.row_ptr_type());
  r.col_type = static_cast<uint8_t>(DType::U8);
  if (!huffman) {
    r.parts[1] = b.part(shr::pack_indices(e.indices.data(), e.indices.size(), bits));
    r.parts[2] = b.part(e.structure(e.row_ptr_type()));
    return;
  }
  r.parts[1] = b.part(huffman_encode(e_idx.data(), e_idx.size()));
  std::vector<uint8_t> part2 = e.structure(e.row_ptr_type());
  part2.resize(static_cast<size_t>(ptr_bytes));  // raw row_ptr, then the gaps' stream
  const std::vector<uint8_t> gaps = huffman_encode(e.gaps.data(), e.gaps.size());
  part2.insert(part2.end(), gaps.begin(), gaps.end());
  r.parts[2] = b.part(part2);
}

int64_t clamp_hi(shr::Activation a, quant::QFormat y) {
  return a == shr::Activation::ReLU6 ? fx::relu6_max(y.bits, y.fl) : fx::qmax(y.bits);
}

class GraphWriter {
 public:
  GraphWriter(const ir::Graph& g, const ShrOptions& o) : g_(g), o_(o) {}

  std::string run() {
    quantized_ = quant::is_quantized(g_);
    if (quantized_) mq_ = quant::read_model_quant(g_);
    for (const auto& n : g_.nodes)
      if (n.op == ir::Op::BatchNorm)
        throw BadInput(node_desc(n), ": the runtime has no BatchNorm and it could not be folded into a Conv2d / Linear");

    const uint32_t x = b_.activation(ir::Graph::kInput, g_.meta.input_shape, std::nullopt);
    float_[ir::Graph::kInput] = x;
    if (quantized_) {
      const uint32_t q = b_.activation("input:q", g_.meta.input_shape, mq_.input);
      b_.add_op(op_record("input:quantize", shr::OpCode::Quantize, q), {x});
      int_[ir::Graph::kInput] = q;
    }
    for (const auto& n : g_.nodes)
      if (!fused_.count(n.name)) node(n);
    std::vector<uint32_t> outputs;
    for (const auto& name : g_.outputs) outputs.push_back(float_value(name));
    return b_.finish(g_.meta, quantized_ ? shr::kFlagInteger : 0u, {x}, outputs);
  }

 private:
  const ir::Graph& g_;
  const ShrOptions& o_;
  bool quantized_ = false;
  quant::ModelQuant mq_;
  Builder b_;
  std::map<std::string, uint32_t> int_, float_;  // node name -> tensor id of its value
  std::set<std::string> fused_;                  // ReLU nodes folded into their producer

  shr::OpRecord op_record(const std::string& name, shr::OpCode code, uint32_t output) {
    shr::OpRecord r{};
    r.name = b_.ref(name);
    r.opcode = static_cast<uint16_t>(code);
    r.output = output;
    r.weight = r.bias = r.lut = shr::kNoTensor;
    return r;
  }

  bool is_int(const std::string& name) const { return quantized_ && (name == ir::Graph::kInput || mq_.nodes.count(name)); }

  /// The value of `name` as a float tensor (dequantized once if it is an integer tensor).
  uint32_t float_value(const std::string& name) {
    auto it = float_.find(name);
    if (it != float_.end()) return it->second;
    const uint32_t q = int_.at(name);
    const uint32_t f = b_.activation(name + ":f32", g_.shape_of(name), std::nullopt);
    b_.add_op(op_record(name + ":dequantize", shr::OpCode::Dequantize, f), {q});
    float_[name] = f;
    return f;
  }

  /// A ReLU / ReLU6 that is the only consumer of n (and n is not a graph output) is fused.
  const ir::Node* fusable_relu(const ir::Node& n) const {
    if (n.op != ir::Op::Conv2d && n.op != ir::Op::Linear && n.op != ir::Op::Add) return nullptr;
    if (std::find(g_.outputs.begin(), g_.outputs.end(), n.name) != g_.outputs.end()) return nullptr;
    const auto cons = g_.consumers(n.name);
    if (cons.size() != 1) return nullptr;
    const ir::Node* r = g_.find(cons[0]);
    if (r->op != ir::Op::ReLU && r->op != ir::Op::ReLU6) return nullptr;
    if (is_int(n.name) != is_int(r->name)) return nullptr;
    if (is_int(n.name) && !(mq_.nodes.at(r->name).output == mq_.nodes.at(n.name).output)) return nullptr;
    return r;
  }

  void node(const ir::Node& n) {
    const bool integer = is_int(n.name);
    std::vector<uint32_t> in;
    for (const auto& i : n.inputs) {
      if (integer) {
        auto it = int_.find(i);
        if (it == int_.end())
          throw BadInput(node_desc(n), " is integer but its input '", i, "' is float (only a final Softmax may stay float)");
        in.push_back(it->second);
      } else {
        in.push_back(float_value(i));
      }
    }
    std::optional<quant::QFormat> fmt;
    if (integer) fmt = mq_.nodes.at(n.name).output;
    const ir::Node* relu = fusable_relu(n);
    const std::string& out_name = relu ? relu->name : n.name;
    const uint32_t y = b_.activation(out_name, n.shape, fmt);
    (integer ? int_ : float_)[out_name] = y;
    if (relu) fused_.insert(relu->name);

    shr::OpRecord r = op_record(n.name, opcode(n), y);
    if (relu) r.activation = static_cast<uint8_t>(relu->op == ir::Op::ReLU6 ? shr::Activation::ReLU6 : shr::Activation::ReLU);
    switch (n.op) {
      case ir::Op::Conv2d:
      case ir::Op::Linear:
        weights(n, integer ? std::optional<quant::QFormat>(format_of(n.inputs[0])) : std::nullopt, r);
        if (n.op == ir::Op::Conv2d) window(n, r, true);
        break;
      case ir::Op::MaxPool:
      case ir::Op::AvgPool:
        window(n, r, false);
        if (n.ceil_mode) r.flags |= shr::kOpCeilMode;
        if (n.op == ir::Op::AvgPool && n.count_include_pad) r.flags |= shr::kOpCountIncludePad;
        if (n.op == ir::Op::MaxPool && integer) same_format(n);
        break;
      case ir::Op::ReLU:
        r.activation = static_cast<uint8_t>(shr::Activation::ReLU);
        if (integer) same_format(n);
        break;
      case ir::Op::ReLU6:
        r.activation = static_cast<uint8_t>(shr::Activation::ReLU6);
        if (integer) same_format(n);
        break;
      case ir::Op::Flatten:
      case ir::Op::Reshape:
        if (integer) same_format(n);
        break;
      case ir::Op::Concat:
      case ir::Op::Softmax: {
        const int64_t rank = static_cast<int64_t>(g_.shape_of(n.inputs[0]).size());
        const int64_t full = n.axis < 0 ? n.axis + rank + 1 : n.axis;
        if (full < 1 || full > rank) throw BadInput(node_desc(n), ": axis ", n.axis, " is out of range");
        r.axis = static_cast<int32_t>(full - 1);
        break;
      }
      case ir::Op::LeakyReLU:
      case ir::Op::Sigmoid:
      case ir::Op::Tanh:
        if (integer) {
          const quant::Lut t = quant::build_lut(n, format_of(n.inputs[0]), *fmt);
          shr::TensorRecord lr = b_.record(n.name + ".lut", fixed_dtype(fmt->bits), {static_cast<int64_t>(t.table.size())},
                                          fmt->bits, fmt->fl);
          lr.flags = shr::kTensorConstant;
          store_ints(b_, lr, fmt->bits, t.table.size(), [&](size_t i) { return t.table[i]; }, 1, false);
          r.lut = b_.add_tensor(lr);
        } else if (n.op == ir::Op::LeakyReLU) {
          r.alpha = n.alpha;
        }
        break;
      case ir::Op::GlobalAvgPool:
      case ir::Op::Add:
        break;
      default:
        throw BadInput(node_desc(n), ": the runtime has no such op");
    }
    if (integer && (n.op == ir::Op::Conv2d || n.op == ir::Op::Linear || n.op == ir::Op::Add || n.op == ir::Op::ReLU ||
                    n.op == ir::Op::ReLU6)) {
      const auto act = static_cast<shr::Activation>(r.activation);
      r.clamp_lo = static_cast<int32_t>(act == shr::Activation::None ? fx::qmin(fmt->bits) : 0);
      r.clamp_hi = static_cast<int32_t>(clamp_hi(act, *fmt));
    }
    b_.add_op(r, in);
  }

  quant::QFormat format_of(const std::string& name) const { return mq_.format_of(name); }

  void same_format(const ir::Node& n) const {
    if (!(format_of(n.inputs[0]) == format_of(n.name)))
      throw BadInput(node_desc(n), ": the quantization state gives its output another format than its input's (",
                     format_of(n.name).bits, "-bit fl ", format_of(n.name).fl, " vs ", format_of(n.inputs[0]).bits,
                     "-bit fl ", format_of(n.inputs[0]).fl, "); this op passes integers through unchanged");
  }

  static shr::OpCode opcode(const ir::Node& n) {
    switch (n.op) {
      case ir::Op::Conv2d: return shr::OpCode::Conv2d;
      case ir::Op::Linear: return shr::OpCode::Linear;
      case ir::Op::MaxPool: return shr::OpCode::MaxPool;
      case ir::Op::AvgPool: return shr::OpCode::AvgPool;
      case ir::Op::GlobalAvgPool: return shr::OpCode::GlobalAvgPool;
      case ir::Op::Add: return shr::OpCode::Add;
      case ir::Op::Concat: return shr::OpCode::Concat;
      case ir::Op::Flatten: return shr::OpCode::Flatten;
      case ir::Op::Reshape: return shr::OpCode::Reshape;
      case ir::Op::ReLU: return shr::OpCode::ReLU;
      case ir::Op::ReLU6: return shr::OpCode::ReLU6;
      case ir::Op::LeakyReLU: return shr::OpCode::LeakyReLU;
      case ir::Op::Sigmoid: return shr::OpCode::Sigmoid;
      case ir::Op::Tanh: return shr::OpCode::Tanh;
      case ir::Op::Softmax: return shr::OpCode::Softmax;
      default: throw BadInput(node_desc(n), ": the runtime has no such op (remove Identity / fold BatchNorm first)");
    }
  }

  void window(const ir::Node& n, shr::OpRecord& r, bool conv) const {
    if (conv) r.groups = static_cast<uint32_t>(n.groups);
    for (int k = 0; k < 2; ++k) {
      r.kernel[k] = static_cast<uint32_t>(n.kernel[k]);
      r.stride[k] = static_cast<uint32_t>(n.stride[k]);
      r.dilation[k] = static_cast<uint32_t>(n.dilation[k]);
    }
    for (int k = 0; k < 4; ++k) r.pads[k] = static_cast<uint32_t>(n.pads[k]);
    if (n.op == ir::Op::AvgPool && (n.dilation[0] != 1 || n.dilation[1] != 1))
      throw BadInput(node_desc(n), ": dilation ", n.dilation[0], "x", n.dilation[1], " is not supported for AvgPool");
  }

  /// Weight and bias constants of a Conv2d / Linear; x = the input's format for integer ops.
  void weights(const ir::Node& n, std::optional<quant::QFormat> x, shr::OpRecord& r) {
    const ir::Tensor* w = n.tensor("weight");
    if (!w) throw BadInput(node_desc(n), ": has no weight");
    const int64_t oc = w->shape[0], per = w->numel() / oc;
    const ir::Tensor* bias = n.has_bias ? n.tensor("bias") : nullptr;
    if (!x) {
      shr::TensorRecord wr = b_.record(n.name + ".weight", DType::F32, w->shape, 0, 0);
      wr.flags = shr::kTensorConstant;
      store_values(b_, wr, w->data, oc, o_.allow_csr);
      r.weight = b_.add_tensor(wr);
      if (bias) {
        shr::TensorRecord br = b_.record(n.name + ".bias", DType::F32, bias->shape, 0, 0);
        br.flags = shr::kTensorConstant;
        br.parts[0] = b_.part(bias->data);
        r.bias = b_.add_tensor(br);
      }
      return;
    }
    const quant::NodeQuant& nq = mq_.nodes.at(n.name);
    const int bits = nq.weight_bits;
    shr::TensorRecord wr = b_.record(n.name + ".weight", fixed_dtype(bits), w->shape, bits, 0);
    wr.flags = shr::kTensorConstant;
    std::vector<int64_t> q(static_cast<size_t>(w->numel()));  // integer weights, for the acc32 proof
    if (nq.codebook) {
      const quant::Codebook& cb = *nq.codebook;
      for (size_t i = 0; i < q.size(); ++i) q[i] = cb.centroids_q[static_cast<size_t>(cb.indices[i])];
      wr.index_bits = static_cast<uint8_t>(cb.index_bits);
      wr.centroid_count = static_cast<uint32_t>(cb.centroids_q.size());
      if (cb.zero_reserved) wr.flags |= shr::kTensorZeroReserved;
      if (bits <= 8) wr.parts[0] = b_.part(std::vector<int8_t>(cb.centroids_q.begin(), cb.centroids_q.end()));
      else wr.parts[0] = b_.part(std::vector<int16_t>(cb.centroids_q.begin(), cb.centroids_q.end()));
      store_codebook_indices(b_, wr, cb, oc, o_);
    } else {
      for (int64_t c = 0; c < oc; ++c)
        for (int64_t k = 0; k < per; ++k) {
          const size_t i = static_cast<size_t>(c * per + k);
          q[i] = fx::quantize(w->data[i], bits, nq.weight_fl_of(c));
        }
      store_ints(b_, wr, bits, q.size(), [&](size_t i) { return q[i]; }, oc, o_.allow_csr);
    }
    store_fls(b_, wr, nq.weight_fl);
    r.weight = b_.add_tensor(wr);

    std::vector<int64_t> qb(static_cast<size_t>(oc), 0);
    if (bias) {
      std::vector<int> fls;
      for (int fl : nq.weight_fl) fls.push_back(x->fl + fl);
      std::vector<int32_t> v(static_cast<size_t>(oc));
      for (int64_t c = 0; c < oc; ++c) {
        qb[static_cast<size_t>(c)] = fx::quantize(bias->data[static_cast<size_t>(c)], 32, x->fl + nq.weight_fl_of(c));
        v[static_cast<size_t>(c)] = static_cast<int32_t>(qb[static_cast<size_t>(c)]);
      }
      shr::TensorRecord br = b_.record(n.name + ".bias", DType::I32, bias->shape, 32, 0);
      br.flags = shr::kTensorConstant;
      br.parts[0] = b_.part(v);
      store_fls(b_, br, fls);
      r.bias = b_.add_tensor(br);
    }
    bool safe = true;
    for (int64_t c = 0; c < oc && safe; ++c) {
      uint64_t sum = 0;
      for (int64_t k = 0; k < per; ++k) sum += static_cast<uint64_t>(std::llabs(q[static_cast<size_t>(c * per + k)]));
      safe = shr::acc32_safe(sum, x->bits, static_cast<uint64_t>(std::llabs(qb[static_cast<size_t>(c)])));
    }
    if (safe) r.flags |= shr::kOpAcc32;
  }
};

}  // namespace

std::string write_shr(const ir::Graph& in, const ShrOptions& o) {
  ir::Graph g = in;
  if (!quant::is_quantized(g)) {  // quantize_model folded already
    ir::fold_batchnorm(g);
    ir::batchnorm_to_conv(g);      // the rest (e.g. after an activation) as depthwise 1x1 convs
  }
  ir::remove_identities(g);
  g.infer_shapes();
  return GraphWriter(g, o).run();
}

void export_shr(const ir::Graph& g, const std::string& path, const ShrOptions& o) {
  ir::write_file_atomic(path, write_shr(g, o));
}

}  // namespace shrink::exporter
