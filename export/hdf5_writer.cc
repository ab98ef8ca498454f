#include "export/hdf5_writer.h"

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "compress/ir/error.h"
#include "compress/ir/h5_memory.h"
#include "compress/ir/passes.h"
#include "compress/ir/quant_state.h"
#include "runtime/include/shrink_fixed_point.h"

namespace shrink::exporter {

namespace {

/// An HDF5 id closed by its H5?close function at scope end.
struct Id {
  hid_t id;
  herr_t (*close)(hid_t);
  Id(hid_t i, herr_t (*c)(hid_t), const std::string& what) : id(i), close(c) {
    if (id < 0) throw InternalError("export --format hdf5: HDF5 cannot ", what);
  }
  ~Id() { close(id); }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
};

/// The HDF5 file type (little-endian) and memory type of T.
template <typename T>
std::pair<hid_t, hid_t> h5_types() {
  if constexpr (std::is_same_v<T, int8_t>) return {H5T_STD_I8LE, H5T_NATIVE_INT8};
  else if constexpr (std::is_same_v<T, uint8_t>) return {H5T_STD_U8LE, H5T_NATIVE_UINT8};
  else if constexpr (std::is_same_v<T, int16_t>) return {H5T_STD_I16LE, H5T_NATIVE_INT16};
  else if constexpr (std::is_same_v<T, int32_t>) return {H5T_STD_I32LE, H5T_NATIVE_INT32};
  else return {H5T_IEEE_F32LE, H5T_NATIVE_FLOAT};
}

std::vector<hsize_t> dims_of(const ir::Shape& s) { return std::vector<hsize_t>(s.begin(), s.end()); }

template <typename T>
void dataset(hid_t group, const std::string& name, const ir::Shape& shape, const std::vector<T>& v) {
  const std::vector<hsize_t> d = dims_of(shape);
  Id space(H5Screate_simple(static_cast<int>(d.size()), d.data(), nullptr), H5Sclose, "create a dataspace");
  const auto [file_type, mem_type] = h5_types<T>();
  Id ds(H5Dcreate2(group, name.c_str(), file_type, space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
        "create dataset " + name);
  if (!v.empty() && H5Dwrite(ds.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    throw InternalError("export --format hdf5: cannot write dataset ", name);
}

/// An int32 attribute: a scalar for one value, else a 1-D array.
void int_attr(hid_t obj, const char* name, const std::vector<int>& v) {
  std::vector<int32_t> w(v.begin(), v.end());
  const hsize_t n = w.size();
  Id space(v.size() == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose, "create a dataspace");
  Id a(H5Acreate2(obj, name, H5T_STD_I32LE, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
       std::string("create attribute ") + name);
  if (H5Awrite(a.id, H5T_NATIVE_INT32, w.data()) < 0) throw InternalError("export --format hdf5: cannot write ", name);
}

void str_attr(hid_t obj, const char* name, const std::string& s) {
  Id type(H5Tcopy(H5T_C_S1), H5Tclose, "copy a string type");
  H5Tset_size(type.id, s.empty() ? 1 : s.size());
  H5Tset_cset(type.id, H5T_CSET_UTF8);
  Id space(H5Screate(H5S_SCALAR), H5Sclose, "create a dataspace");
  Id a(H5Acreate2(obj, name, type.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
       std::string("create attribute ") + name);
  std::string buf = s.empty() ? std::string(1, '\0') : s;
  if (H5Awrite(a.id, type.id, buf.data()) < 0) throw InternalError("export --format hdf5: cannot write ", name);
}

/// Weights of `rows` rows: dense (dataset `key`, shape kept) or, when smaller, CSR (datasets
/// key_row_ptr int32 {rows + 1}, key_col_idx int32 {nnz}, key_values {nnz}). Attribute
/// key_storage = "dense" | "csr".
template <typename T>
void weights(hid_t group, const std::string& key, const ir::Shape& shape, const std::vector<T>& v, int64_t rows) {
  const size_t cols = rows > 0 ? v.size() / static_cast<size_t>(rows) : 0;
  size_t nnz = 0;
  for (T x : v) nnz += x != T(0);
  const size_t csr_bytes = (static_cast<size_t>(rows) + 1 + nnz) * 4 + nnz * sizeof(T);
  if (csr_bytes >= v.size() * sizeof(T)) {
    dataset(group, key, shape, v);
    str_attr(group, (key + "_storage").c_str(), "dense");
    return;
  }
  std::vector<int32_t> row_ptr{0}, col;
  std::vector<T> val;
  for (int64_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c)
      if (const T x = v[static_cast<size_t>(r) * cols + c]; x != T(0)) {
        col.push_back(static_cast<int32_t>(c));
        val.push_back(x);
      }
    row_ptr.push_back(static_cast<int32_t>(col.size()));
  }
  dataset(group, key + "_row_ptr", {rows + 1}, row_ptr);
  dataset(group, key + "_col_idx", {static_cast<int64_t>(nnz)}, col);
  dataset(group, key + "_values", {static_cast<int64_t>(nnz)}, val);
  str_attr(group, (key + "_storage").c_str(), "csr");
  std::vector<int> dims(shape.begin(), shape.end());
  int_attr(group, (key + "_shape").c_str(), dims);
}

template <typename T>
std::vector<T> narrow(const std::vector<int64_t>& q) {
  return std::vector<T>(q.begin(), q.end());
}

/// A quantized Conv2d / Linear: integer weights, FLs, int32 bias.
void quantized_layer(hid_t grp, const ir::Node& n, const quant::NodeQuant& nq, quant::QFormat x) {
  const ir::Tensor& w = *n.tensor("weight");
  const int64_t oc = w.shape[0], per = oc > 0 ? w.numel() / oc : 0;
  const int bits = nq.weight_bits;
  int_attr(grp, "weight_bits", {bits});
  int_attr(grp, "weight_fl", nq.weight_fl);
  if (nq.codebook) {
    const quant::Codebook& cb = *nq.codebook;
    if (cb.index_bits > 8) throw BadInput("export --format hdf5: node '", n.name, "': codebook indices above 8 bits");
    str_attr(grp, "weight_storage", "codebook");
    dataset(grp, "weight_indices", w.shape, std::vector<uint8_t>(cb.indices.begin(), cb.indices.end()));
    dataset(grp, "weight_centroids", {static_cast<int64_t>(cb.centroids_q.size())}, cb.centroids_q);
    int_attr(grp, "index_bits", {cb.index_bits});
    int_attr(grp, "zero_reserved", {cb.zero_reserved ? 1 : 0});
  } else {
    std::vector<int64_t> q(w.data.size());
    for (int64_t c = 0; c < oc; ++c)
      for (int64_t k = 0; k < per; ++k) {
        const size_t i = static_cast<size_t>(c * per + k);
        q[i] = fx::quantize(w.data[i], bits, nq.weight_fl_of(c));
      }
    if (bits <= 8) weights(grp, "weight", w.shape, narrow<int8_t>(q), oc);
    else weights(grp, "weight", w.shape, narrow<int16_t>(q), oc);
  }
  if (const ir::Tensor* b = n.has_bias ? n.tensor("bias") : nullptr) {
    std::vector<int32_t> qb(static_cast<size_t>(oc));
    std::vector<int> fls;
    for (int fl : nq.weight_fl) fls.push_back(x.fl + fl);
    for (int64_t c = 0; c < oc; ++c)
      qb[static_cast<size_t>(c)] =
          static_cast<int32_t>(fx::quantize(b->data[static_cast<size_t>(c)], 32, x.fl + nq.weight_fl_of(c)));
    dataset(grp, "bias", b->shape, qb);
    int_attr(grp, "bias_fl", fls);
  }
}

}  // namespace

std::string hdf5_group_name(const std::string& node) {
  std::string s = node;
  for (char& c : s)
    if (c == '/') c = '_';
  return s;
}

void export_hdf5(const ir::Graph& in, const std::string& path) {
  ir::Graph g = in;
  const bool quantized = quant::is_quantized(g);
  if (!quantized) ir::fold_batchnorm(g);  // as in the .shr: quantize_model folded already
  ir::remove_identities(g);
  g.infer_shapes();
  std::optional<quant::ModelQuant> mq;
  if (quantized) mq = quant::read_model_quant(g);

  // Built in memory and written atomically by commit(): HDF5 itself writes nothing to disk.
  ir::H5MemoryFile h5(path);
  {
    const hid_t file = h5.id();
    str_attr(file, "format", "shrink-weights");
    int_attr(file, "version", {1});
    str_attr(file, "model", g.meta.name);
    str_attr(file, "scheme", quantized ? g.state["quant"].value("scheme", std::string("fixed")) : "fp32");
    if (mq) {
      int_attr(file, "input_bits", {mq->input.bits});
      int_attr(file, "input_fl", {mq->input.fl});
    }
    for (const ir::Node& n : g.nodes) {
      const bool has_w = n.op == ir::Op::Conv2d || n.op == ir::Op::Linear;
      if (n.tensors.empty() || (quantized && !has_w)) continue;
      Id grp(H5Gcreate2(file, hdf5_group_name(n.name).c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
             "create group " + n.name);
      str_attr(grp.id, "name", n.name);
      str_attr(grp.id, "op", ir::op_name(n.op));
      if (!quantized) {
        for (const auto& [key, t] : n.tensors) {
          if (key == "weight" && has_w) weights(grp.id, key, t.shape, t.data, t.shape.empty() ? 1 : t.shape[0]);
          else dataset(grp.id, key, t.shape, t.data);
        }
        continue;
      }
      auto it = mq->nodes.find(n.name);
      if (it == mq->nodes.end() || !it->second.has_weight || !n.tensor("weight"))
        throw BadInput("export --format hdf5: node '", n.name, "' has no quantized weight");
      const quant::QFormat x = mq->format_of(n.inputs.at(0));
      int_attr(grp.id, "input_bits", {x.bits});
      int_attr(grp.id, "input_fl", {x.fl});
      int_attr(grp.id, "output_bits", {it->second.output.bits});
      int_attr(grp.id, "output_fl", {it->second.output.fl});
      quantized_layer(grp.id, n, it->second, x);
    }
  }  // groups closed before the image is taken
  h5.commit();
}

}  // namespace shrink::exporter
