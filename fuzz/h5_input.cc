// The .h5 fuzzer's input format: records -> an HDF5 file, and a real HDF5 file -> records
// (fuzz/h5_input.h gives the format).
#include "h5_input.h"

#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace h5_input {

namespace {

// Owns an HDF5 identifier (closed with the matching H5?close).
class Id {
 public:
  Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Reads the input; past its end every number is 0 and `cut` is set (the record is dropped).
class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool empty() const { return n_ == 0; }
  bool cut() const { return cut_; }
  uint64_t uint(int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      if (n_ == 0) {
        cut_ = true;
        return 0;
      }
      v |= static_cast<uint64_t>(*p_++) << (8 * i);
      --n_;
    }
    return v;
  }
  // A string of an N-byte length, clamped to what is left.
  std::string str(int length_bytes) {
    const size_t len = std::min<uint64_t>(uint(length_bytes), n_);
    std::string s(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    n_ -= len;
    return s;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  bool cut_ = false;
};

// File types by the record's dtype byte (% 6).
hid_t file_type(uint8_t code) {
  const hid_t types[] = {H5T_IEEE_F32LE, H5T_STD_U8LE, H5T_IEEE_F64LE, H5T_STD_I32LE, H5T_STD_I8LE, H5T_IEEE_F32BE};
  return types[code % 6];
}

void write_attribute(hid_t file, Cursor& in) {
  const std::string name = in.str(1);
  const uint8_t type = static_cast<uint8_t>(in.uint(1) % 5);
  std::string text;
  uint64_t number = 0;
  if (type <= 1)
    text = in.str(4);
  else
    number = in.uint(8);
  if (in.cut() || name.empty()) return;
  if (H5Aexists(file, name.c_str()) > 0) H5Adelete(file, name.c_str());
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  if (type <= 1) {
    Id t(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_cset(t.get(), H5T_CSET_UTF8);
    if (type == 1) {
      H5Tset_size(t.get(), H5T_VARIABLE);
      Id a(H5Acreate2(file, name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      const char* p = text.c_str();
      if (a.ok()) H5Awrite(a.get(), t.get(), &p);
    } else {
      H5Tset_size(t.get(), std::max<size_t>(text.size(), 1));
      H5Tset_strpad(t.get(), H5T_STR_NULLPAD);
      text.resize(std::max<size_t>(text.size(), 1), '\0');
      Id a(H5Acreate2(file, name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      if (a.ok()) H5Awrite(a.get(), t.get(), text.data());
    }
    return;
  }
  const hid_t ftype = type == 2 ? H5T_STD_I32LE : type == 3 ? H5T_STD_I64LE : H5T_IEEE_F64LE;
  const hid_t mtype = type == 2 ? H5T_NATIVE_INT32 : type == 3 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
  Id a(H5Acreate2(file, name.c_str(), ftype, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  int32_t i32 = static_cast<int32_t>(static_cast<uint32_t>(number));
  double f64 = 0;
  std::memcpy(&f64, &number, sizeof f64);
  const void* value = type == 2 ? static_cast<const void*>(&i32) : type == 3 ? static_cast<const void*>(&number) : &f64;
  if (a.ok()) H5Awrite(a.get(), mtype, value);
}

void write_dataset(hid_t file, hid_t lcpl, Cursor& in) {
  const std::string path = in.str(2);
  const hid_t ftype = file_type(static_cast<uint8_t>(in.uint(1)));
  const int rank = static_cast<int>(in.uint(1) % 9);
  std::vector<hsize_t> dims(rank);
  for (hsize_t& d : dims) d = in.uint(8);
  const int layout = static_cast<int>(in.uint(1) % 3);
  const std::string data = in.str(4);
  if (in.cut() || path.empty()) return;
  // Bytes the dataset holds (saturated: "more than the input" is all that matters).
  uint64_t need = H5Tget_size(ftype);
  bool any_zero = false;
  for (hsize_t d : dims) {
    any_zero |= d == 0;
    if (__builtin_mul_overflow(need, d, &need)) need = UINT64_MAX;
  }
  if (any_zero) need = 0;
  Id space(rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims.data(), nullptr), H5Sclose);
  if (!space.ok()) return;
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (layout == 1 && rank > 0 && !any_zero) {
    // Chunks of at most 64 x 64 elements (the last two axes), so a chunk is always legal.
    std::vector<hsize_t> chunk(rank, 1);
    for (int i = std::max(0, rank - 2); i < rank; ++i) chunk[i] = std::min<hsize_t>(dims[i], 64);
    H5Pset_chunk(dcpl.get(), rank, chunk.data());
  } else if (layout == 2) {
    H5Pset_layout(dcpl.get(), H5D_COMPACT);
  }
  Id ds(H5Dcreate2(file, path.c_str(), ftype, space.get(), lcpl, dcpl.get(), H5P_DEFAULT), H5Dclose);
  if (ds.ok() && need > 0 && need <= data.size())
    H5Dwrite(ds.get(), ftype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
}

// ---------------------------------------------------------------- encoding a real file

void put(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_str(std::string& out, const std::string& s, int length_bytes) {
  put(out, s.size(), length_bytes);
  out += s;
}

herr_t encode_attribute(hid_t loc, const char* name, const H5A_info_t*, void* op) {
  std::string& out = *static_cast<std::string*>(op);
  Id a(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
  Id t(a.ok() ? H5Aget_type(a.get()) : -1, H5Tclose);
  if (!t.ok()) return 0;
  const H5T_class_t cls = H5Tget_class(t.get());
  std::string rec(1, '\0');
  put_str(rec, name, 1);
  if (cls == H5T_STRING) {
    const bool vlen = H5Tis_variable_str(t.get()) > 0;
    std::string value;
    if (vlen) {
      char* p = nullptr;
      if (H5Aread(a.get(), t.get(), &p) < 0) return 0;
      value = p ? p : "";
      H5free_memory(p);
    } else {
      value.assign(H5Tget_size(t.get()), '\0');
      if (H5Aread(a.get(), t.get(), value.data()) < 0) return 0;
      value = value.substr(0, value.find('\0'));
    }
    put(rec, vlen ? 1 : 0, 1);
    put_str(rec, value, 4);
  } else if (cls == H5T_INTEGER) {
    int64_t v = 0;
    if (H5Aread(a.get(), H5T_NATIVE_INT64, &v) < 0) return 0;
    put(rec, H5Tget_size(t.get()) <= 4 ? 2 : 3, 1);
    put(rec, static_cast<uint64_t>(v), 8);
  } else if (cls == H5T_FLOAT) {
    double v = 0;
    if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0) return 0;
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    put(rec, 4, 1);
    put(rec, bits, 8);
  } else {
    return 0;
  }
  out += rec;
  return 0;
}

// The record's dtype code of a dataset's file type, or -1.
int dtype_code(hid_t t) {
  const size_t size = H5Tget_size(t);
  switch (H5Tget_class(t)) {
    case H5T_FLOAT:
      if (size == 8) return 2;
      if (size == 4) return H5Tget_order(t) == H5T_ORDER_BE ? 5 : 0;
      return -1;
    case H5T_INTEGER:
      if (size == 1) return H5Tget_sign(t) == H5T_SGN_NONE ? 1 : 4;
      if (size == 4) return 3;
      return -1;
    default:
      return -1;
  }
}

void encode_dataset(hid_t file, const char* name, std::string& out) {
  Id ds(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  Id t(ds.ok() ? H5Dget_type(ds.get()) : -1, H5Tclose);
  Id space(ds.ok() ? H5Dget_space(ds.get()) : -1, H5Sclose);
  Id dcpl(ds.ok() ? H5Dget_create_plist(ds.get()) : -1, H5Pclose);
  if (!t.ok() || !space.ok() || !dcpl.ok()) return;
  const int code = dtype_code(t.get());
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (code < 0 || rank < 0 || rank > 8) return;
  std::vector<hsize_t> dims(rank);
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  std::string data;
  if (H5Dget_storage_size(ds.get()) > 0) {
    data.assign(static_cast<size_t>(H5Sget_simple_extent_npoints(space.get())) * H5Tget_size(t.get()), '\0');
    if (!data.empty() && H5Dread(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) < 0) data.clear();
  }
  out.push_back('\1');
  put_str(out, name, 2);
  put(out, static_cast<uint64_t>(code), 1);
  put(out, static_cast<uint64_t>(rank), 1);
  for (hsize_t d : dims) put(out, d, 8);
  put(out, layout == H5D_CHUNKED ? 1 : layout == H5D_COMPACT ? 2 : 0, 1);
  put_str(out, data, 4);
}

herr_t encode_link(hid_t file, const char* name, const H5L_info_t* info, void* op) {
  std::string& out = *static_cast<std::string*>(op);
  if (info->type == H5L_TYPE_SOFT) {
    std::string target(info->u.val_size, '\0');
    if (H5Lget_val(file, name, target.data(), target.size(), H5P_DEFAULT) < 0) return 0;
    out.push_back('\3');
    put(out, 1, 1);
    put_str(out, name, 2);
    put_str(out, target.substr(0, target.find('\0')), 2);
    return 0;
  }
  if (info->type != H5L_TYPE_HARD) return 0;
  Id obj(H5Oopen(file, name, H5P_DEFAULT), H5Oclose);
  if (!obj.ok()) return 0;
  if (H5Iget_type(obj.get()) == H5I_GROUP) {
    out.push_back('\2');
    put_str(out, name, 2);
  } else if (H5Iget_type(obj.get()) == H5I_DATASET) {
    encode_dataset(file, name, out);
  }
  return 0;
}

}  // namespace

bool write_file(const uint8_t* data, size_t size, const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  // The core driver keeps the file in memory and writes it out once, at close.
  Id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_core(fapl.get(), 1 << 16, 1);
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18);  // as ir::save_model
  Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
  if (!file.ok()) return false;
  Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Cursor in(data, size);
  while (!in.empty()) {
    switch (in.uint(1) % 4) {
      case 0:
        write_attribute(file.get(), in);
        break;
      case 1:
        write_dataset(file.get(), lcpl.get(), in);
        break;
      case 2: {
        const std::string p = in.str(2);
        if (!p.empty()) Id g(H5Gcreate2(file.get(), p.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
        break;
      }
      default: {
        const bool soft = in.uint(1) % 2 == 1;
        const std::string p = in.str(2);
        const std::string target = in.str(2);
        if (in.cut() || p.empty() || target.empty()) break;
        if (soft)
          H5Lcreate_soft(target.c_str(), file.get(), p.c_str(), lcpl.get(), H5P_DEFAULT);
        else
          H5Lcreate_hard(file.get(), target.c_str(), file.get(), p.c_str(), lcpl.get(), H5P_DEFAULT);
      }
    }
  }
  return true;
}

std::string encode_file(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) throw std::runtime_error("cannot open " + path);
  std::string out;
  hsize_t idx = 0;
  H5Aiterate2(file.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, encode_attribute, &out);
  H5Lvisit(file.get(), H5_INDEX_NAME, H5_ITER_INC, encode_link, &out);
  return out;
}

}  // namespace h5_input
