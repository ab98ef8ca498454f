// The toolkit's own model file (.h5), HDF5 C API.
//
// Root attributes: "format" = "shrink-model", "format_version" (int32), "producer" (string),
// "graph" (UTF-8 JSON, see graph_to_json). Tensors: float32 datasets /tensors/<node>/<key>
// with the tensor's dims (rank 0 = scalar dataspace). In the HDF5 link names '%', '/' and a
// leading '.' are written as %25, %2F and %2E, so any node name (ONNX names contain '/')
// maps to one path; the JSON keeps the real names. Files use the HDF5 1.8 object format
// (dense attribute storage, so the graph attribute may exceed 64 KiB).
//
// JSON floats (alpha, eps, mean, std) are float -> double, printed with enough digits to
// read back the same double, which converts back to the same float: the round trip is exact.
#include "compress/ir/model_file.h"

#include <hdf5.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "compress/ir/error.h"
#include "compress/ir/h5_memory.h"

namespace shrink::ir {

namespace {

using nlohmann::json;

constexpr const char* kFormat = "shrink-model";

// ---------------------------------------------------------------- JSON

// Reads typed fields of one JSON object; errors name the context (node) and the field.
class Fields {
 public:
  Fields(const json& j, std::string ctx) : j_(j), ctx_(std::move(ctx)) {
    if (!j_.is_object()) throw BadInput(ctx_, ": expected a JSON object, got ", j_.type_name());
  }
  const json& get(const char* key) const {
    auto it = j_.find(key);
    if (it == j_.end()) throw BadInput(ctx_, ": field '", key, "' is missing");
    return *it;
  }
  [[noreturn]] void bad(const char* key, const char* expected) const {
    throw BadInput(ctx_, ": field '", key, "' must be ", expected, ", got ", get(key).dump());
  }
  int64_t integer(const char* key) const {
    const json& v = get(key);
    if (!v.is_number_integer()) bad(key, "an integer");
    return v.get<int64_t>();
  }
  // Finite as a float32: 1e300 would become inf, which the writer cannot write back (JSON has
  // no inf or NaN), so a file holding one would load but not save.
  float real(const char* key) const {
    const json& v = get(key);
    const float f = v.is_number() ? static_cast<float>(v.get<double>()) : 0.0f;
    if (!v.is_number() || !std::isfinite(f)) bad(key, "a finite float32 number");
    return f;
  }
  bool boolean(const char* key) const {
    const json& v = get(key);
    if (!v.is_boolean()) bad(key, "true or false");
    return v.get<bool>();
  }
  std::string string(const char* key) const {
    const json& v = get(key);
    if (!v.is_string()) bad(key, "a string");
    return v.get<std::string>();
  }
  std::vector<std::string> strings(const char* key) const {
    const json& v = get(key);
    if (!v.is_array()) bad(key, "an array of strings");
    std::vector<std::string> out;
    for (const json& e : v) {
      if (!e.is_string()) bad(key, "an array of strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  std::vector<int64_t> integers(const char* key) const { return integers_of(get(key), key); }
  std::vector<int64_t> integers_of(const json& v, const char* key) const {
    if (!v.is_array()) bad(key, "an array of integers");
    std::vector<int64_t> out;
    for (const json& e : v) {
      if (!e.is_number_integer()) bad(key, "an array of integers");
      out.push_back(e.get<int64_t>());
    }
    return out;
  }
  std::vector<float> reals(const char* key) const {
    const json& v = get(key);
    if (!v.is_array()) bad(key, "an array of numbers");
    std::vector<float> out;
    for (const json& e : v) {
      const float f = e.is_number() ? static_cast<float>(e.get<double>()) : 0.0f;
      if (!e.is_number() || !std::isfinite(f)) bad(key, "an array of finite float32 numbers");
      out.push_back(f);
    }
    return out;
  }
  template <size_t N>
  std::array<int64_t, N> fixed(const char* key) const {
    std::vector<int64_t> v = integers(key);
    if (v.size() != N) bad(key, N == 2 ? "an array of 2 integers" : "an array of 4 integers");
    std::array<int64_t, N> out{};
    for (size_t i = 0; i < N; ++i) out[i] = v[i];
    return out;
  }
  const std::string& ctx() const { return ctx_; }

 private:
  const json& j_;
  std::string ctx_;
};

constexpr int kMaxJsonDepth = 128;

// The deepest nesting of arrays and objects in a JSON text (brackets inside strings skipped);
// stops counting past kMaxJsonDepth. Malformed text is left to the parser.
int json_depth(const std::string& text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size() && deepest <= kMaxJsonDepth; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // skip the escaped character
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

json floats_json(const std::vector<float>& v) {
  json a = json::array();
  for (float f : v) a.push_back(static_cast<double>(f));
  return a;
}

// Parses the graph; tensor shapes go to `shapes` (node name, key, shape), no data is allocated.
struct TensorRef {
  std::string node, key;
  Shape shape;
};

Graph parse_graph(const json& j, std::vector<TensorRef>& shapes, const std::string& where) {
  Fields top(j, where);
  Graph g;
  Fields m(top.get("metadata"), where + " metadata");
  g.meta.name = m.string("name");
  g.meta.input_shape = m.integers("input_shape");
  g.meta.mean = m.reals("mean");
  g.meta.std = m.reals("std");
  g.meta.labels = m.strings("labels");
  g.meta.producer = m.string("producer");
  const json& nodes = top.get("nodes");
  if (!nodes.is_array()) top.bad("nodes", "an array of node objects");
  for (size_t i = 0; i < nodes.size(); ++i) {
    const json& jn = nodes[i];
    std::string ctx = where + " node #" + std::to_string(i);
    if (jn.is_object() && jn.contains("name") && jn["name"].is_string())
      ctx = where + " node '" + jn["name"].get<std::string>() + "'";
    Fields f(jn, ctx);
    Node n;
    n.name = f.string("name");
    try {
      n.op = op_from_name(f.string("op"));
    } catch (const BadInput& e) {
      throw BadInput(ctx, ": field 'op': ", e.what());
    }
    n.inputs = f.strings("inputs");
    n.out_channels = f.integer("out_channels");
    n.in_channels = f.integer("in_channels");
    n.groups = f.integer("groups");
    n.has_bias = f.boolean("has_bias");
    n.kernel = f.fixed<2>("kernel");
    n.stride = f.fixed<2>("stride");
    n.dilation = f.fixed<2>("dilation");
    n.pads = f.fixed<4>("pads");
    n.ceil_mode = f.boolean("ceil_mode");
    n.count_include_pad = f.boolean("count_include_pad");
    n.alpha = f.real("alpha");
    n.eps = f.real("eps");
    n.axis = f.integer("axis");
    n.target_shape = f.integers("target_shape");
    const json& state = f.get("state");
    if (!state.is_object()) f.bad("state", "a JSON object");
    n.state = state;
    const json& tensors = f.get("tensors");
    if (!tensors.is_object()) f.bad("tensors", "an object mapping tensor names to shapes");
    for (auto it = tensors.begin(); it != tensors.end(); ++it) {
      const std::string field = "tensors." + it.key();
      Shape s = f.integers_of(it.value(), field.c_str());
      try {
        numel(s);
      } catch (const BadInput& e) {
        throw BadInput(ctx, ": field '", field, "': ", e.what());
      }
      shapes.push_back({n.name, it.key(), std::move(s)});
    }
    try {
      g.add(std::move(n));
    } catch (const BadInput& e) {
      throw BadInput(where, ": ", e.what());
    }
  }
  g.outputs = top.strings("outputs");
  // "state" is optional: files written before graph-level state existed have none.
  if (j.contains("state")) {
    if (!j.at("state").is_object()) throw BadInput("graph: field 'state': expected a JSON object");
    g.state = j.at("state");
  }
  return g;
}

// ---------------------------------------------------------------- HDF5 helpers

// Owns one HDF5 identifier and closes it with the matching H5?close.
class H5Handle {
 public:
  H5Handle() = default;
  H5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  H5Handle(H5Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  H5Handle& operator=(H5Handle&& o) noexcept {
    std::swap(id_, o.id_);
    std::swap(close_, o.close_);
    return *this;
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  ~H5Handle() {
    if (id_ >= 0 && close_) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

void quiet_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// Link name of a node or tensor key inside /tensors (see the file comment).
std::string link_name(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%')
      out += "%25";
    else if (c == '/')
      out += "%2F";
    else if (c == '.' && i == 0)
      out += "%2E";
    else
      out += c;
  }
  return out.empty() ? "%" : out;
}

H5Handle string_type(size_t len) {
  H5Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), len == 0 ? 1 : len);
  H5Tset_strpad(t.get(), H5T_STR_NULLPAD);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

void write_string_attr(hid_t obj, const char* name, const std::string& value, const std::string& path) {
  H5Handle type = string_type(value.size());
  H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  H5Handle attr(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  std::string buf = value.empty() ? std::string(1, '\0') : value;
  if (!attr.ok() || H5Awrite(attr.get(), type.get(), buf.data()) < 0)
    throw BadInput("cannot write ", path, ": HDF5 failed to write attribute '", name, "'");
}

void write_int_attr(hid_t obj, const char* name, int32_t value, const std::string& path) {
  H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  H5Handle attr(H5Acreate2(obj, name, H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok() || H5Awrite(attr.get(), H5T_NATIVE_INT32, &value) < 0)
    throw BadInput("cannot write ", path, ": HDF5 failed to write attribute '", name, "'");
}

bool has_attr(hid_t obj, const char* name) { return H5Aexists(obj, name) > 0; }

// Reads a scalar string attribute, fixed-length (trimmed at the first NUL) or variable-length.
std::string read_string_attr(hid_t obj, const char* name, const std::string& path) {
  if (!has_attr(obj, name)) throw BadInput(path, ": not a shrink model file (no '", name, "' attribute)");
  H5Handle attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  H5Handle type(attr.ok() ? H5Aget_type(attr.get()) : -1, H5Tclose);
  H5Handle space(attr.ok() ? H5Aget_space(attr.get()) : -1, H5Sclose);
  if (!type.ok() || !space.ok() || H5Tget_class(type.get()) != H5T_STRING ||
      H5Sget_simple_extent_npoints(space.get()) != 1)
    throw BadInput(path, ": attribute '", name, "' must be a string");
  if (H5Tis_variable_str(type.get()) > 0) {
    H5Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    char* p = nullptr;
    if (H5Aread(attr.get(), mem.get(), &p) < 0) throw BadInput(path, ": cannot read attribute '", name, "'");
    std::string out = p ? p : "";
    H5free_memory(p);
    return out;
  }
  const size_t size = H5Tget_size(type.get());
  std::string buf(size, '\0');
  if (size == 0 || H5Aread(attr.get(), type.get(), buf.data()) < 0)
    throw BadInput(path, ": cannot read attribute '", name, "'");
  return buf.substr(0, buf.find('\0'));
}

int64_t read_int_attr(hid_t obj, const char* name, const std::string& path) {
  if (!has_attr(obj, name)) throw BadInput(path, ": not a shrink model file (no '", name, "' attribute)");
  H5Handle attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  H5Handle type(attr.ok() ? H5Aget_type(attr.get()) : -1, H5Tclose);
  H5Handle space(attr.ok() ? H5Aget_space(attr.get()) : -1, H5Sclose);
  int64_t v = 0;
  if (!type.ok() || !space.ok() || H5Tget_class(type.get()) != H5T_INTEGER ||
      H5Sget_simple_extent_npoints(space.get()) != 1 || H5Aread(attr.get(), H5T_NATIVE_INT64, &v) < 0)
    throw BadInput(path, ": attribute '", name, "' must be an integer");
  return v;
}

H5Handle make_group(hid_t parent, const std::string& name, const std::string& path) {
  H5Handle g(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!g.ok()) throw BadInput("cannot write ", path, ": HDF5 failed to create group '", name, "'");
  return g;
}

/// "weight_mask", "out_mask": 0 / 1 tensors of pruning.
bool is_mask_key(const std::string& key) { return key.size() > 5 && key.compare(key.size() - 5, 5, "_mask") == 0; }

void write_tensor(hid_t group, const std::string& key, const Tensor& t, const Node& n, const std::string& path) {
  if (static_cast<int64_t>(t.data.size()) != numel(t.shape))
    throw InternalError("node '", n.name, "' tensor '", key, "': ", t.data.size(), " values for shape ",
                        shape_str(t.shape));
  std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
  H5Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                              : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                 H5Sclose);
  // Pruning masks (0 / 1) are stored as uint8: a quarter of the bytes of float32.
  const bool mask = is_mask_key(key);
  H5Handle ds(H5Dcreate2(group, link_name(key).c_str(), mask ? H5T_STD_U8LE : H5T_IEEE_F32LE, space.get(),
                         H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
  if (!ds.ok()) throw BadInput("cannot write ", path, ": HDF5 failed to create tensor ", n.name, "/", key);
  herr_t st = 0;
  if (mask && !t.data.empty()) {
    std::vector<uint8_t> bits(t.data.size());
    for (size_t i = 0; i < bits.size(); ++i) bits[i] = t.data[i] != 0.0f;
    st = H5Dwrite(ds.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data());
  } else if (!t.data.empty()) {
    st = H5Dwrite(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data.data());
  }
  if (st < 0) throw BadInput("cannot write ", path, ": HDF5 failed to write tensor ", n.name, "/", key);
}

Tensor read_tensor(hid_t file, const TensorRef& ref, const std::string& path) {
  const std::string name = "/tensors/" + link_name(ref.node) + "/" + link_name(ref.key);
  const std::string what = detail::concat(path, ": tensor '", ref.node, "/", ref.key, "'");
  if (H5Lexists(file, "/tensors", H5P_DEFAULT) <= 0 ||
      H5Lexists(file, ("/tensors/" + link_name(ref.node)).c_str(), H5P_DEFAULT) <= 0 ||
      H5Lexists(file, name.c_str(), H5P_DEFAULT) <= 0)
    throw BadInput(what, " is missing (expected dataset ", name, ")");
  H5Handle ds(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
  H5Handle type(ds.ok() ? H5Dget_type(ds.get()) : -1, H5Tclose);
  H5Handle space(ds.ok() ? H5Dget_space(ds.get()) : -1, H5Sclose);
  if (!ds.ok() || !type.ok() || !space.ok()) throw BadInput(what, " cannot be opened");
  const bool u8_mask = is_mask_key(ref.key) && H5Tget_class(type.get()) == H5T_INTEGER && H5Tget_size(type.get()) == 1;
  if (!u8_mask && (H5Tget_class(type.get()) != H5T_FLOAT || H5Tget_size(type.get()) != 4))
    throw BadInput(what, is_mask_key(ref.key) ? " must be uint8 or float32" : " must be float32");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank < 0 || (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0))
    throw BadInput(what, " has an unreadable shape");
  Shape file_shape(dims.begin(), dims.end());
  if (file_shape != ref.shape)
    throw BadInput(what, " has shape ", shape_str(file_shape), ", the graph says ", shape_str(ref.shape));
  // The data must be in the file before anything is allocated: HDF5 creates a dataset of any
  // size without storing it (reads then give fill values), so a 2 KB file could otherwise make
  // the reader allocate 2^62 floats. The toolkit writes every dataset whole and uncompressed.
  const uint64_t need = static_cast<uint64_t>(numel(ref.shape)) * H5Tget_size(type.get());  // < 2^64: numel <= 2^62
  const uint64_t stored = H5Dget_storage_size(ds.get());
  if (stored < need)
    throw BadInput(what, " has ", stored, " bytes of data in the file, its shape ", shape_str(ref.shape), " needs ", need,
                   " (unwritten, compressed or truncated dataset)");
  Tensor t(ref.shape);
  if (!t.data.empty() && H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data.data()) < 0)
    throw BadInput(what, " cannot be read (truncated or corrupt file)");
  return t;
}

}  // namespace

json graph_to_json(const Graph& g) {
  json meta = {
      {"name", g.meta.name},          {"input_shape", g.meta.input_shape}, {"mean", floats_json(g.meta.mean)},
      {"std", floats_json(g.meta.std)}, {"labels", g.meta.labels},         {"producer", g.meta.producer},
  };
  json nodes = json::array();
  for (const Node& n : g.nodes) {
    json tensors = json::object();
    for (const auto& [key, t] : n.tensors) tensors[key] = t.shape;
    nodes.push_back({
        {"name", n.name},
        {"op", op_name(n.op)},
        {"inputs", n.inputs},
        {"out_channels", n.out_channels},
        {"in_channels", n.in_channels},
        {"groups", n.groups},
        {"has_bias", n.has_bias},
        {"kernel", n.kernel},
        {"stride", n.stride},
        {"dilation", n.dilation},
        {"pads", n.pads},
        {"ceil_mode", n.ceil_mode},
        {"count_include_pad", n.count_include_pad},
        {"alpha", static_cast<double>(n.alpha)},
        {"eps", static_cast<double>(n.eps)},
        {"axis", n.axis},
        {"target_shape", n.target_shape},
        {"state", n.state},
        {"tensors", tensors},
    });
  }
  return {{"metadata", meta}, {"nodes", nodes}, {"outputs", g.outputs}, {"state", g.state}};
}

Graph graph_from_json(const json& j) {
  std::vector<TensorRef> refs;
  Graph g = parse_graph(j, refs, "model graph");
  for (TensorRef& r : refs) g.at(r.node).tensors[r.key] = Tensor(r.shape);
  return g;
}

void save_model(const Graph& g, const std::string& path) {
  {
    Graph check = g;  // refuse to write a file that would not load
    check.infer_shapes();
  }
  std::string graph_text;
  try {
    graph_text = graph_to_json(g).dump();
  } catch (const json::exception& e) {
    throw BadInput("cannot write ", path, ": graph is not representable as JSON: ", e.what());
  }
  H5MemoryFile file(path, /*v18_format=*/true);  // built in memory, written atomically by commit()
  {
    write_string_attr(file.id(), "format", kFormat, path);
    write_int_attr(file.id(), "format_version", kModelFormatVersion, path);
    write_string_attr(file.id(), "producer", g.meta.producer, path);
    write_string_attr(file.id(), "graph", graph_text, path);
    H5Handle tensors = make_group(file.id(), "tensors", path);
    for (const Node& n : g.nodes) {
      if (n.tensors.empty()) continue;
      H5Handle group = make_group(tensors.get(), link_name(n.name), path);
      for (const auto& [key, t] : n.tensors) write_tensor(group.get(), key, t, n, path);
    }
  }  // groups closed before the image is taken
  file.commit();
}

Graph load_model(const std::string& path) {
  quiet_hdf5();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw BadInput("cannot open ", path, ": ", std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw BadInput("cannot open ", path, ": it is a folder");
  if (H5Fis_hdf5(path.c_str()) <= 0) throw BadInput(path, ": not an HDF5 file (expected a shrink .h5 model)");
  H5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) throw BadInput(path, ": cannot open the HDF5 file (truncated or corrupt?)");
  const std::string format = read_string_attr(file.get(), "format", path);
  if (format != kFormat)
    throw BadInput(path, ": attribute 'format' is '", format, "', expected '", kFormat, "'");
  const int64_t version = read_int_attr(file.get(), "format_version", path);
  if (version > kModelFormatVersion)
    throw BadInput(path, ": format_version ", version, " is newer than this tool reads (", kModelFormatVersion,
                   "); upgrade shrink");
  if (version < 1) throw BadInput(path, ": format_version ", version, " is invalid (expected 1..", kModelFormatVersion, ")");
  const std::string text = read_string_attr(file.get(), "graph", path);
  // nlohmann::json copies and prints nested values recursively: a deep nesting (e.g. 60,000 '['
  // in a node's state) overflows the stack. Files the toolkit writes nest about 6 levels.
  if (json_depth(text) > kMaxJsonDepth)
    throw BadInput(path, ": attribute 'graph' nests JSON deeper than ", kMaxJsonDepth, " levels");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw BadInput(path, ": attribute 'graph' is not valid JSON");
  std::vector<TensorRef> refs;
  Graph g = parse_graph(j, refs, path);
  for (const TensorRef& r : refs) g.at(r.node).tensors[r.key] = read_tensor(file.get(), r, path);
  try {
    g.infer_shapes();
  } catch (const BadInput& e) {
    throw BadInput(path, ": ", e.what());
  }
  return g;
}

}  // namespace shrink::ir
