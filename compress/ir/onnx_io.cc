// ONNX import (opsets 11..17, default domain), fp32 export (opset 13) and QDQ export of fixed-point
// models (opset 13, or 21 with 16-bit tensors). See onnx_io.h, docs/onnx.md for the op mapping and
// the external-data rules, docs/export.md for QDQ.
#include "compress/ir/onnx_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <set>

#include <onnx/onnx_pb.h>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "compress/ir/quant_state.h"
#include "runtime/include/shrink_fixed_point.h"

namespace shrink::ir {
namespace {

static_assert(sizeof(float) == 4, "fp32 is 4 bytes");

constexpr int64_t kMinOpset = 11;
constexpr int64_t kMaxOpset = 17;
constexpr int64_t kExportOpset = 13;
/// Values per sample of the graph input at most (the runtime indexes with 32-bit integers).
constexpr int64_t kMaxInputValues = 2147483647;
constexpr int64_t kExportIrVersion = 7;
/// QDQ export: opset 13 (per-axis DequantizeLinear) for int8 tensors only; opset 21 (IR version 10)
/// is the first with int16 QuantizeLinear / DequantizeLinear.
constexpr int64_t kQdqInt16Opset = 21;
constexpr int64_t kQdqInt16IrVersion = 10;
/// metadata_props key holding the class labels as a JSON array of strings.
constexpr const char* kLabelsKey = "shrink.labels";

bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

std::string dir_name(const std::string& path) {
  const auto p = path.find_last_of('/');
  if (p == std::string::npos) return ".";
  if (p == 0) return "/";
  return path.substr(0, p);
}

/// An owned file descriptor (closed on destruction).
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  bool ok() const { return fd >= 0; }
};

/// `s` with control bytes replaced by '?': names from the file end up in one-line messages.
std::string one_line(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

// ---------------------------------------------------------------------------------------------
// Constant tensors (initializers, Constant nodes) decoded to float32 or int64.

struct ConstTensor {
  Shape shape;                 // full ONNX shape (no batch convention)
  bool is_int = false;
  std::vector<float> f;        // when !is_int
  std::vector<int64_t> i;      // when is_int
  int64_t numel() const { return is_int ? static_cast<int64_t>(i.size()) : static_cast<int64_t>(f.size()); }
  double value(int64_t k) const { return is_int ? static_cast<double>(i[k]) : static_cast<double>(f[k]); }
};

class Importer {
 public:
  explicit Importer(std::string path) : path_(std::move(path)), dir_(dir_name(path_)) {}

  Graph run();

 private:
  // ---- errors -------------------------------------------------------------------------------
  template <class... A>
  [[noreturn]] void fail(A&&... parts) const {
    throw BadInput(path_, ": ", std::forward<A>(parts)...);
  }
  template <class... A>
  [[noreturn]] void fail_node(const onnx::NodeProto& n, A&&... parts) const {
    throw BadInput(path_, ": node '", n.name(), "' (", n.op_type(), "): ", std::forward<A>(parts)...);
  }

  // ---- constants ----------------------------------------------------------------------------
  std::string tensor_bytes(const onnx::TensorProto& t, const std::string& what, size_t expected) const;
  ConstTensor decode(const onnx::TensorProto& t, const std::string& what) const;
  std::string read_external(const onnx::TensorProto& t, const std::string& what, size_t expected) const;

  // ---- values -------------------------------------------------------------------------------
  bool is_const(const std::string& v) const { return consts_.count(v) != 0; }
  const ConstTensor& const_input(const onnx::NodeProto& n, int k, const char* role) const;
  /// IR producer name of an activation input (node name or Graph::kInput).
  std::string act_input(const onnx::NodeProto& n, int k) const;
  int64_t rank_of(const std::string& v) const { return ranks_.at(v); }
  void define(const onnx::NodeProto& n, const std::string& ir_name, int64_t rank);

  // ---- attributes ---------------------------------------------------------------------------
  const onnx::AttributeProto* attr(const onnx::NodeProto& n, const char* name) const;
  int64_t attr_int(const onnx::NodeProto& n, const char* name, int64_t def) const;
  float attr_float(const onnx::NodeProto& n, const char* name, float def) const;
  std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const char* name) const;
  std::string attr_string(const onnx::NodeProto& n, const char* name, const std::string& def) const;
  void check_auto_pad(const onnx::NodeProto& n) const;
  std::array<int64_t, 2> pair_attr(const onnx::NodeProto& n, const char* name, int64_t def) const;
  std::array<int64_t, 4> pads_attr(const onnx::NodeProto& n) const;
  int64_t norm_axis(const onnx::NodeProto& n, int64_t axis, int64_t rank) const;

  // ---- nodes --------------------------------------------------------------------------------
  std::string unique_name(const onnx::NodeProto& n, size_t index);
  Node& add_node(const onnx::NodeProto& n, Op op, std::vector<std::string> inputs, int64_t rank);
  void import_node(const onnx::NodeProto& n, size_t index);
  bool try_normalization(const onnx::NodeProto& n);
  void import_input();
  std::vector<float> to_ir_floats(const onnx::NodeProto& n, const ConstTensor& c, const char* role) const;

  std::string path_, dir_;
  onnx::ModelProto model_;
  int64_t opset_ = 0;
  Graph g_;
  std::map<std::string, ConstTensor> consts_;
  std::map<std::string, const onnx::TensorProto*> other_inits_;
  std::map<std::string, std::string> producer_;  // ONNX value -> IR node (or kInput)
  std::map<std::string, int64_t> ranks_;         // ONNX value -> rank including batch
  std::map<std::string, int> uses_;              // ONNX value -> number of consumers (+ outputs)
  std::map<std::string, std::string> matmul_of_; // IR Linear from MatMul (no bias yet) -> its ONNX output
  std::set<std::string> used_names_;
  std::string input_value_;
  bool norm_allowed_ = true;  // input normalization is recognised only before any other node
};

// ---- constants --------------------------------------------------------------------------------

std::string Importer::read_external(const onnx::TensorProto& t, const std::string& what,
                                    size_t expected) const {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : t.external_data()) {
    const std::string& k = kv.key();
    auto parse_num = [&](const std::string& s) -> int64_t {
      if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
        fail("tensor '", what, "': external data ", k, " '", s, "' is not a non-negative integer");
      return std::stoll(s);
    };
    if (k == "location") location = kv.value();
    else if (k == "offset") offset = parse_num(kv.value());
    else if (k == "length") length = parse_num(kv.value());
  }
  if (location.empty()) fail("tensor '", what, "': external data without a location");
  if (location[0] == '/' || location[0] == '\\')
    fail("tensor '", what, "': external data location '", location,
         "' is an absolute path (expected a file inside the model's folder)");
  if (location.find('\0') != std::string::npos || location.find('\\') != std::string::npos)
    fail("tensor '", what, "': external data location '", location, "' contains a NUL or backslash");
  // Split into components; refuse "..", walk every component below the model folder with lstat.
  std::vector<std::string> parts;
  {
    size_t s = 0;
    while (s <= location.size()) {
      size_t e = location.find('/', s);
      if (e == std::string::npos) e = location.size();
      std::string c = location.substr(s, e - s);
      if (c == "..")
        fail("tensor '", what, "': external data location '", location,
             "' has a '..' component (expected a file inside the model's folder)");
      if (!c.empty() && c != ".") parts.push_back(c);
      s = e + 1;
    }
  }
  if (parts.empty()) fail("tensor '", what, "': external data location '", location, "' names no file");
  // Walk down from the model's folder with openat(O_NOFOLLOW) one component at a time, so that what
  // is checked is what is read (no window for a component to be swapped for a symlink).
  Fd cur(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cur.ok()) fail("tensor '", what, "': cannot open the model's folder ", dir_);
  for (size_t k = 0; k < parts.size(); ++k) {
    const bool last = k + 1 == parts.size();
    Fd next(::openat(cur.fd, parts[k].c_str(),
                     O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (last ? 0 : O_DIRECTORY)));
    if (!next.ok()) {
      const int err = errno;
      struct stat st {};
      const bool exists = ::fstatat(cur.fd, parts[k].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
      if (exists && S_ISLNK(st.st_mode))
        fail("tensor '", what, "': external data location '", location, "': '", parts[k],
             "' is a symbolic link (refused: the file must lie inside the model's folder)");
      if (exists && !last && !S_ISDIR(st.st_mode))
        fail("tensor '", what, "': external data location '", location, "': '", parts[k], "' is not a folder");
      if (!exists)
        fail("tensor '", what, "': external data file '", location, "' not found in the model's folder");
      fail("tensor '", what, "': cannot open external data file '", location, "': ", std::strerror(err));
    }
    cur = std::move(next);
  }
  struct stat st {};
  if (::fstat(cur.fd, &st) != 0 || !S_ISREG(st.st_mode))
    fail("tensor '", what, "': external data location '", location, "' is not a regular file");
  // A hard link is a regular file by every path test; one made to a file outside the folder is
  // refused by its link count (a file with more than one name may also be reachable from outside).
  if (st.st_nlink > 1)
    fail("tensor '", what, "': external data file '", location, "' has ", st.st_nlink,
         " hard links (refused: it may be a link to a file outside the model's folder; copy it)");
  const int64_t size = static_cast<int64_t>(st.st_size);
  if (offset > size)
    fail("tensor '", what, "': external data offset ", offset, " is past the end of '", location,
         "' (", size, " bytes)");
  if (length < 0) length = size - offset;
  if (length > size - offset)
    fail("tensor '", what, "': external data offset ", offset, " + length ", length,
         " is past the end of '", location, "' (", size, " bytes)");
  if (static_cast<uint64_t>(length) != expected)
    fail("tensor '", what, "': external data length ", length, " bytes, expected ", expected,
         " for its shape");
  std::string bytes(static_cast<size_t>(length), '\0');
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t r = ::pread(cur.fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) fail("tensor '", what, "': cannot read external data file '", location, "'");
    done += static_cast<size_t>(r);
  }
  return bytes;
}

ConstTensor Importer::decode(const onnx::TensorProto& t, const std::string& what) const {
  ConstTensor c;
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) fail("tensor '", what, "': negative dimension ", d);
    if (d != 0 && n > (int64_t{1} << 40) / d)
      fail("tensor '", what, "': shape too large");
    n *= d;
    c.shape.push_back(d);
  }
  const auto dt = t.data_type();
  if (dt != onnx::TensorProto::FLOAT && dt != onnx::TensorProto::INT64)
    fail("tensor '", what, "': data type ", onnx::TensorProto::DataType_Name(
             static_cast<onnx::TensorProto::DataType>(dt)), " not supported (expected FLOAT or INT64)");
  c.is_int = dt == onnx::TensorProto::INT64;
  const size_t elem = c.is_int ? 8 : 4;
  const size_t expected = static_cast<size_t>(n) * elem;
  const bool external = t.data_location() == onnx::TensorProto::EXTERNAL;
  if (external || t.has_raw_data()) {
    if (!host_is_little_endian()) throw NotImplemented("ONNX raw data on a big-endian host");
    std::string bytes;
    if (external) {
      bytes = read_external(t, what, expected);
    } else {
      if (t.raw_data().size() != expected)
        fail("tensor '", what, "': raw_data has ", t.raw_data().size(), " bytes, expected ", expected,
             " for shape ", shape_str(c.shape));
      bytes = t.raw_data();
    }
    if (c.is_int) {
      c.i.resize(static_cast<size_t>(n));
      if (n) std::memcpy(c.i.data(), bytes.data(), expected);
    } else {
      c.f.resize(static_cast<size_t>(n));
      if (n) std::memcpy(c.f.data(), bytes.data(), expected);
    }
    return c;
  }
  if (c.is_int) {
    if (t.int64_data_size() != n)
      fail("tensor '", what, "': int64_data has ", t.int64_data_size(), " values, expected ", n);
    c.i.assign(t.int64_data().begin(), t.int64_data().end());
  } else {
    if (t.float_data_size() != n)
      fail("tensor '", what, "': float_data has ", t.float_data_size(), " values, expected ", n);
    c.f.assign(t.float_data().begin(), t.float_data().end());
  }
  return c;
}

const ConstTensor& Importer::const_input(const onnx::NodeProto& n, int k, const char* role) const {
  if (k >= n.input_size() || n.input(k).empty()) fail_node(n, "missing ", role, " (input ", k, ")");
  auto it = consts_.find(n.input(k));
  if (it == consts_.end())
    fail_node(n, role, " '", n.input(k), "' must be a constant (initializer or Constant node)");
  return it->second;
}

std::string Importer::act_input(const onnx::NodeProto& n, int k) const {
  if (k >= n.input_size() || n.input(k).empty()) fail_node(n, "missing input ", k);
  const std::string& v = n.input(k);
  auto it = producer_.find(v);
  if (it != producer_.end()) return it->second;
  if (is_const(v))
    fail_node(n, "input '", v, "' is a constant; expected an activation");
  fail_node(n, "input '", v, "' is not produced by any earlier node or the graph input");
}

std::vector<float> Importer::to_ir_floats(const onnx::NodeProto& n, const ConstTensor& c,
                                          const char* role) const {
  if (c.is_int) fail_node(n, role, " must be float32, got int64");
  return c.f;
}

// ---- attributes -------------------------------------------------------------------------------

const onnx::AttributeProto* Importer::attr(const onnx::NodeProto& n, const char* name) const {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
int64_t Importer::attr_int(const onnx::NodeProto& n, const char* name, int64_t def) const {
  const auto* a = attr(n, name);
  if (!a) return def;
  if (a->type() != onnx::AttributeProto::INT) fail_node(n, "attribute ", name, " must be an int");
  return a->i();
}
float Importer::attr_float(const onnx::NodeProto& n, const char* name, float def) const {
  const auto* a = attr(n, name);
  if (!a) return def;
  if (a->type() != onnx::AttributeProto::FLOAT) fail_node(n, "attribute ", name, " must be a float");
  return a->f();
}
std::vector<int64_t> Importer::attr_ints(const onnx::NodeProto& n, const char* name) const {
  const auto* a = attr(n, name);
  if (!a) return {};
  if (a->type() != onnx::AttributeProto::INTS) fail_node(n, "attribute ", name, " must be a list of ints");
  return {a->ints().begin(), a->ints().end()};
}
std::string Importer::attr_string(const onnx::NodeProto& n, const char* name, const std::string& def) const {
  const auto* a = attr(n, name);
  if (!a) return def;
  if (a->type() != onnx::AttributeProto::STRING) fail_node(n, "attribute ", name, " must be a string");
  return a->s();
}
void Importer::check_auto_pad(const onnx::NodeProto& n) const {
  const std::string ap = attr_string(n, "auto_pad", "NOTSET");
  if (ap != "NOTSET") fail_node(n, "auto_pad '", ap, "' not supported (expected NOTSET with explicit pads)");
}
std::array<int64_t, 2> Importer::pair_attr(const onnx::NodeProto& n, const char* name, int64_t def) const {
  const auto v = attr_ints(n, name);
  if (v.empty()) return {def, def};
  if (v.size() != 2) fail_node(n, "attribute ", name, " has ", v.size(), " entries, expected 2 (2-D only)");
  for (int64_t x : v)
    if (x < 1) fail_node(n, "attribute ", name, " has entry ", x, ", expected >= 1");
  return {v[0], v[1]};
}
std::array<int64_t, 4> Importer::pads_attr(const onnx::NodeProto& n) const {
  const auto v = attr_ints(n, "pads");
  if (v.empty()) return {0, 0, 0, 0};
  if (v.size() != 4) fail_node(n, "attribute pads has ", v.size(), " entries, expected 4 (2-D only)");
  for (int64_t x : v)
    if (x < 0) fail_node(n, "attribute pads has entry ", x, ", expected >= 0");
  // ONNX order: H begin, W begin, H end, W end == IR order top, left, bottom, right.
  return {v[0], v[1], v[2], v[3]};
}
int64_t Importer::norm_axis(const onnx::NodeProto& n, int64_t axis, int64_t rank) const {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail_node(n, "axis ", axis, " out of range for rank ", rank);
  return a;
}

// ---- nodes ------------------------------------------------------------------------------------

std::string Importer::unique_name(const onnx::NodeProto& n, size_t index) {
  // PyTorch scopes: "/layer1/layer1.0/conv1/Conv" becomes "layer1.0.conv1.Conv": '/' separates
  // components (it would be a group separator in the .h5 model file), and a component that the
  // next one repeats as its prefix ("layer1" before "layer1.0") is dropped.
  std::vector<std::string> parts;
  {
    std::string cur;
    for (char ch : n.name() + "/") {
      if (ch == '/') {
        if (!cur.empty()) parts.push_back(cur);
        cur.clear();
      } else {
        cur += static_cast<unsigned char>(ch) < 0x20 ? '_' : ch;
      }
    }
  }
  std::string s;
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k + 1 < parts.size() && parts[k + 1].rfind(parts[k] + ".", 0) == 0) continue;
    if (!s.empty()) s += '.';
    s += parts[k];
  }
  if (s.empty()) s = n.op_type() + "_" + std::to_string(index);
  if (s == Graph::kInput) s += "_node";
  std::string u = s;
  for (int k = 2; used_names_.count(u); ++k) u = s + "_" + std::to_string(k);
  used_names_.insert(u);
  return u;
}

void Importer::define(const onnx::NodeProto& n, const std::string& ir_name, int64_t rank) {
  if (n.output_size() < 1 || n.output(0).empty()) fail_node(n, "has no output");
  producer_[n.output(0)] = ir_name;
  ranks_[n.output(0)] = rank;
}

Node& Importer::add_node(const onnx::NodeProto& n, Op op, std::vector<std::string> inputs, int64_t rank) {
  Node node;
  node.name = unique_name(n, g_.nodes.size());
  node.op = op;
  node.inputs = std::move(inputs);
  define(n, node.name, rank);
  return g_.add(std::move(node));
}

// Sub / Div of per-channel constants applied to the raw graph input (what export_onnx writes for
// meta.mean / meta.std) become the graph's input normalization.
bool Importer::try_normalization(const onnx::NodeProto& n) {
  const bool sub = n.op_type() == "Sub", div = n.op_type() == "Div";
  if (!(sub || div) || !norm_allowed_ || n.input_size() != 2) return false;
  auto it = producer_.find(n.input(0));
  if (it == producer_.end() || it->second != Graph::kInput || !is_const(n.input(1))) return false;
  if (uses_[n.input(0)] != 1) return false;  // the raw input must feed nothing else
  if (sub && !g_.meta.mean.empty()) return false;
  if (div && !g_.meta.std.empty()) return false;
  const ConstTensor& c = consts_.at(n.input(1));
  if (c.is_int || c.numel() == 0) return false;
  const int64_t channels = g_.meta.input_shape.empty() ? 1 : g_.meta.input_shape[0];
  // Accept a scalar, or C values shaped {C, 1, ..} or {1, C, 1, ..} (the input's rank).
  if (c.numel() != 1) {
    if (c.numel() != channels) return false;
    Shape want(g_.meta.input_shape.size(), 1);
    if (!want.empty()) want[0] = channels;
    Shape want_b = want;
    want_b.insert(want_b.begin(), 1);
    if (c.shape != want && c.shape != want_b) return false;
  }
  if (sub) {
    if (!g_.meta.std.empty()) return false;  // Sub must come before Div
    g_.meta.mean = c.f;
  } else {
    g_.meta.std = c.f;
    for (float s : c.f) if (!(s != 0.0f) || !std::isfinite(s)) return false;
  }
  if (n.output_size() < 1 || n.output(0).empty()) fail_node(n, "has no output");
  producer_[n.output(0)] = Graph::kInput;
  ranks_[n.output(0)] = ranks_.at(n.input(0));
  return true;
}

void Importer::import_node(const onnx::NodeProto& n, size_t index) {
  const std::string& op = n.op_type();
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    fail("node '", n.name(), "': unsupported op '", n.domain(), ".", op, "'");
  // Every supported op has a first output; the code below reads n.output(0) freely (protobuf
  // aborts the process on an index past the end, found by fuzz/onnx_import_fuzzer).
  if (n.output_size() < 1 || n.output(0).empty()) fail_node(n, "has no output");

  if (op == "Constant") {
    ConstTensor c;
    if (const auto* a = attr(n, "value")) {
      if (a->type() != onnx::AttributeProto::TENSOR) fail_node(n, "attribute value must be a tensor");
      c = decode(a->t(), n.output(0));
    } else if (const auto* a = attr(n, "value_float")) {
      c.f = {a->f()};
    } else if (const auto* a = attr(n, "value_floats")) {
      c.f.assign(a->floats().begin(), a->floats().end());
      c.shape = {static_cast<int64_t>(c.f.size())};
    } else if (const auto* a = attr(n, "value_int")) {
      c.is_int = true;
      c.i = {a->i()};
    } else if (const auto* a = attr(n, "value_ints")) {
      c.is_int = true;
      c.i.assign(a->ints().begin(), a->ints().end());
      c.shape = {static_cast<int64_t>(c.i.size())};
    } else {
      fail_node(n, "Constant without a supported value attribute (value, value_float(s), value_int(s))");
    }
    consts_[n.output(0)] = std::move(c);
    return;
  }

  if (try_normalization(n)) return;
  norm_allowed_ = false;

  if (op == "Conv") {
    check_auto_pad(n);
    const std::string x = act_input(n, 0);
    const ConstTensor& w = const_input(n, 1, "weight");
    if (w.shape.size() != 4) fail_node(n, "weight shape ", shape_str(w.shape), ", expected 4-D (2-D convolution only)");
    const int64_t group = attr_int(n, "group", 1);
    if (group < 1) fail_node(n, "group ", group, ", expected >= 1");
    const auto ks = attr_ints(n, "kernel_shape");
    if (!ks.empty() && (ks.size() != 2 || ks[0] != w.shape[2] || ks[1] != w.shape[3]))
      fail_node(n, "kernel_shape does not match weight shape ", shape_str(w.shape));
    Node& node = add_node(n, Op::Conv2d, {x}, 4);
    node.out_channels = w.shape[0];
    node.in_channels = w.shape[1] * group;
    node.groups = group;
    node.kernel = {w.shape[2], w.shape[3]};
    node.stride = pair_attr(n, "strides", 1);
    node.dilation = pair_attr(n, "dilations", 1);
    node.pads = pads_attr(n);
    node.tensors["weight"] = Tensor(w.shape, to_ir_floats(n, w, "weight"));
    node.has_bias = n.input_size() > 2 && !n.input(2).empty();
    if (node.has_bias) {
      const ConstTensor& b = const_input(n, 2, "bias");
      if (b.numel() != w.shape[0]) fail_node(n, "bias has ", b.numel(), " values, expected ", w.shape[0]);
      node.tensors["bias"] = Tensor({w.shape[0]}, to_ir_floats(n, b, "bias"));
    }
    return;
  }

  if (op == "Gemm") {
    const std::string x = act_input(n, 0);
    if (attr_int(n, "transA", 0) != 0) fail_node(n, "transA=1 not supported (expected 0)");
    const int64_t tb = attr_int(n, "transB", 0);
    if (tb != 0 && tb != 1) fail_node(n, "transB ", tb, ", expected 0 or 1");
    if (attr_float(n, "alpha", 1.0f) != 1.0f || attr_float(n, "beta", 1.0f) != 1.0f)
      fail_node(n, "alpha/beta other than 1 not supported");
    const ConstTensor& w = const_input(n, 1, "weight (B)");
    if (w.shape.size() != 2) fail_node(n, "weight shape ", shape_str(w.shape), ", expected 2-D");
    const int64_t out = tb ? w.shape[0] : w.shape[1];
    const int64_t in = tb ? w.shape[1] : w.shape[0];
    std::vector<float> wf = to_ir_floats(n, w, "weight");
    if (!tb) {  // {in, out} -> {out, in}
      std::vector<float> t(wf.size());
      for (int64_t i = 0; i < in; ++i)
        for (int64_t o = 0; o < out; ++o) t[o * in + i] = wf[i * out + o];
      wf.swap(t);
    }
    if (rank_of(n.input(0)) != 2) fail_node(n, "input rank ", rank_of(n.input(0)), ", expected 2");
    Node& node = add_node(n, Op::Linear, {x}, 2);
    node.out_channels = out;
    node.in_channels = in;
    node.tensors["weight"] = Tensor({out, in}, std::move(wf));
    node.has_bias = n.input_size() > 2 && !n.input(2).empty();
    if (node.has_bias) {
      const ConstTensor& b = const_input(n, 2, "bias (C)");
      if (b.numel() != out) fail_node(n, "bias (C) has ", b.numel(), " values, expected ", out, " (no broadcasting)");
      node.tensors["bias"] = Tensor({out}, to_ir_floats(n, b, "bias"));
    }
    return;
  }

  if (op == "MatMul") {
    const std::string x = act_input(n, 0);
    const ConstTensor& w = const_input(n, 1, "weight (B)");
    if (w.shape.size() != 2) fail_node(n, "weight shape ", shape_str(w.shape), ", expected a constant 2-D matrix");
    if (rank_of(n.input(0)) != 2) fail_node(n, "input rank ", rank_of(n.input(0)), ", expected 2");
    const int64_t in = w.shape[0], out = w.shape[1];
    const std::vector<float> wf = to_ir_floats(n, w, "weight");
    std::vector<float> t(wf.size());
    for (int64_t i = 0; i < in; ++i)
      for (int64_t o = 0; o < out; ++o) t[o * in + i] = wf[i * out + o];
    Node& node = add_node(n, Op::Linear, {x}, 2);
    node.out_channels = out;
    node.in_channels = in;
    node.has_bias = false;
    node.tensors["weight"] = Tensor({out, in}, std::move(t));
    matmul_of_[node.name] = n.output(0);
    return;
  }

  if (op == "Add") {
    if (n.input_size() != 2) fail_node(n, "expected 2 inputs, got ", n.input_size());
    const bool c0 = is_const(n.input(0)), c1 = is_const(n.input(1));
    if (c0 && c1) fail_node(n, "both inputs are constants (constant folding not supported)");
    if (c0 || c1) {
      // MatMul + Add(bias) -> Linear with bias.
      const int ka = c0 ? 1 : 0, kc = c0 ? 0 : 1;
      const std::string x = act_input(n, ka);
      auto m = matmul_of_.find(x);
      if (m == matmul_of_.end() || m->second != n.input(ka) || uses_[n.input(ka)] != 1)
        fail_node(n, "Add of a constant is supported only as the bias right after a MatMul");
      Node& lin = g_.at(x);
      const ConstTensor& b = const_input(n, kc, "bias");
      if (b.numel() != lin.out_channels || b.shape.size() > 2 || (b.shape.size() == 2 && b.shape[0] != 1))
        fail_node(n, "bias shape ", shape_str(b.shape), ", expected [", lin.out_channels, "]");
      lin.has_bias = true;
      lin.tensors["bias"] = Tensor({lin.out_channels}, to_ir_floats(n, b, "bias"));
      matmul_of_.erase(m);
      producer_[n.output(0)] = x;
      ranks_[n.output(0)] = 2;
      return;
    }
    const std::string a = act_input(n, 0), b = act_input(n, 1);
    const int64_t ra = rank_of(n.input(0)), rb = rank_of(n.input(1));
    if (ra != rb) fail_node(n, "input ranks ", ra, " and ", rb, " differ (no broadcasting)");
    add_node(n, Op::Add, {a, b}, ra);
    return;
  }

  if (op == "BatchNormalization") {
    const std::string x = act_input(n, 0);
    if (attr_int(n, "training_mode", 0) != 0) fail_node(n, "training_mode=1 not supported");
    for (int k = 1; k < n.output_size(); ++k)
      if (!n.output(k).empty() && uses_[n.output(k)] > 0)
        fail_node(n, "training outputs (running mean / var) are used; only inference is supported");
    const ConstTensor& sc = const_input(n, 1, "scale");
    const ConstTensor& bi = const_input(n, 2, "B");
    const ConstTensor& mu = const_input(n, 3, "mean");
    const ConstTensor& va = const_input(n, 4, "var");
    const int64_t c = sc.numel();
    for (const ConstTensor* t : {&bi, &mu, &va})
      if (t->numel() != c) fail_node(n, "scale, B, mean and var must have the same length (", c, ")");
    Node& node = add_node(n, Op::BatchNorm, {x}, rank_of(n.input(0)));
    node.eps = attr_float(n, "epsilon", 1e-5f);
    node.tensors["weight"] = Tensor({c}, to_ir_floats(n, sc, "scale"));
    node.tensors["bias"] = Tensor({c}, to_ir_floats(n, bi, "B"));
    node.tensors["running_mean"] = Tensor({c}, to_ir_floats(n, mu, "mean"));
    node.tensors["running_var"] = Tensor({c}, to_ir_floats(n, va, "var"));
    return;
  }

  if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "Identity" || op == "Dropout" ||
      op == "LeakyRelu") {
    const std::string x = act_input(n, 0);
    if (op == "Dropout") {
      if (n.input_size() > 2 && !n.input(2).empty()) {
        auto it = consts_.find(n.input(2));
        if (it == consts_.end() || it->second.numel() != 1 || it->second.value(0) != 0)
          fail_node(n, "training_mode must be a constant false");
      }
      if (n.output_size() > 1 && !n.output(1).empty() && uses_[n.output(1)] > 0)
        fail_node(n, "the mask output is used; only inference is supported");
    }
    const Op o = op == "Relu" ? Op::ReLU : op == "Sigmoid" ? Op::Sigmoid : op == "Tanh" ? Op::Tanh
               : op == "LeakyRelu" ? Op::LeakyReLU : Op::Identity;
    Node& node = add_node(n, o, {x}, rank_of(n.input(0)));
    if (o == Op::LeakyReLU) node.alpha = attr_float(n, "alpha", 0.01f);
    return;
  }

  if (op == "Clip") {
    const std::string x = act_input(n, 0);
    auto bound = [&](int k, const char* role, bool& present) -> double {
      present = k < n.input_size() && !n.input(k).empty();
      if (!present) return 0.0;
      const ConstTensor& c = const_input(n, k, role);
      if (c.numel() != 1) fail_node(n, role, " must be a scalar, got shape ", shape_str(c.shape));
      return c.value(0);
    };
    bool has_min = false, has_max = false;
    const double lo = bound(1, "min", has_min), hi = bound(2, "max", has_max);
    Op o;
    if (has_min && lo == 0.0 && has_max && hi == 6.0) o = Op::ReLU6;
    else if (has_min && lo == 0.0 && !has_max) o = Op::ReLU;
    else
      fail_node(n, "Clip(min ", has_min ? std::to_string(lo) : "none", ", max ",
                has_max ? std::to_string(hi) : "none",
                ") not supported (expected min 0 with max 6 -> ReLU6, or min 0 without max -> ReLU)");
    add_node(n, o, {x}, rank_of(n.input(0)));
    return;
  }

  if (op == "MaxPool" || op == "AveragePool") {
    check_auto_pad(n);
    const std::string x = act_input(n, 0);
    if (rank_of(n.input(0)) != 4) fail_node(n, "input rank ", rank_of(n.input(0)), ", expected 4 (2-D pooling)");
    if (n.output_size() > 1 && !n.output(1).empty() && uses_[n.output(1)] > 0)
      fail_node(n, "the Indices output is not supported");
    const auto ks = attr_ints(n, "kernel_shape");
    if (ks.size() != 2) fail_node(n, "kernel_shape must have 2 entries");
    const auto dil = pair_attr(n, "dilations", 1);
    if (dil[0] != 1 || dil[1] != 1) fail_node(n, "dilations other than 1 not supported");
    if (attr_int(n, "storage_order", 0) != 0) fail_node(n, "storage_order 1 not supported");
    Node& node = add_node(n, op == "MaxPool" ? Op::MaxPool : Op::AvgPool, {x}, 4);
    node.kernel = pair_attr(n, "kernel_shape", 1);
    node.stride = pair_attr(n, "strides", 1);
    node.pads = pads_attr(n);
    node.ceil_mode = attr_int(n, "ceil_mode", 0) != 0;
    if (op == "AveragePool") node.count_include_pad = attr_int(n, "count_include_pad", 0) != 0;
    return;
  }

  if (op == "GlobalAveragePool") {
    const std::string x = act_input(n, 0);
    if (rank_of(n.input(0)) != 4) fail_node(n, "input rank ", rank_of(n.input(0)), ", expected 4");
    add_node(n, Op::GlobalAvgPool, {x}, 4);
    return;
  }

  if (op == "Concat") {
    if (n.input_size() < 1) fail_node(n, "has no inputs");
    std::vector<std::string> ins;
    for (int k = 0; k < n.input_size(); ++k) {
      ins.push_back(act_input(n, k));
      if (rank_of(n.input(k)) != rank_of(n.input(0))) fail_node(n, "inputs of different ranks");
    }
    const int64_t r = rank_of(n.input(0));
    const auto* a = attr(n, "axis");
    if (!a) fail_node(n, "missing attribute axis");
    const int64_t axis = norm_axis(n, attr_int(n, "axis", 1), r);
    if (axis == 0) fail_node(n, "concatenation along the batch axis not supported");
    Node& node = add_node(n, Op::Concat, std::move(ins), r);
    node.axis = axis;
    return;
  }

  if (op == "Flatten") {
    const std::string x = act_input(n, 0);
    const int64_t r = rank_of(n.input(0));
    const int64_t axis = attr_int(n, "axis", 1);
    if ((axis < 0 ? axis + r : axis) != 1)
      fail_node(n, "axis ", axis, " not supported (expected 1: keep the batch)");
    Node& node = add_node(n, Op::Flatten, {x}, 2);
    node.axis = 1;
    return;
  }

  if (op == "Reshape") {
    const std::string x = act_input(n, 0);
    const ConstTensor& s = const_input(n, 1, "shape");
    if (!s.is_int || s.shape.size() != 1 || s.numel() < 1)
      fail_node(n, "shape must be a constant 1-D int64 tensor");
    const int64_t first = s.i[0];
    if (first != 0 && first != -1 && first < 1)
      fail_node(n, "shape[0] = ", first, ", expected the batch (0, -1 or N)");
    Shape rest(s.i.begin() + 1, s.i.end());
    int neg = first == -1 ? 1 : 0;
    for (int64_t d : rest) {
      if (d == -1) ++neg;
      else if (d == 0) fail_node(n, "shape entry 0 (copy a dimension) is supported only for the batch");
      else if (d < -1) fail_node(n, "shape entry ", d, " is invalid");
    }
    if (neg > 1) fail_node(n, "shape has more than one -1");
    if (first == -1 && rest.empty()) fail_node(n, "reshape to [-1] would merge the batch");
    const int64_t out_rank = static_cast<int64_t>(s.i.size());
    if (rest.size() == 1 && rest[0] == -1) {
      Node& node = add_node(n, Op::Flatten, {x}, 2);
      node.axis = 1;
    } else {
      Node& node = add_node(n, Op::Reshape, {x}, out_rank);
      node.target_shape = rest;
    }
    return;
  }

  if (op == "Softmax") {
    const std::string x = act_input(n, 0);
    const int64_t r = rank_of(n.input(0));
    const int64_t axis = norm_axis(n, attr_int(n, "axis", opset_ >= 13 ? -1 : 1), r);
    if (axis == 0) fail_node(n, "softmax over the batch axis not supported");
    // Before opset 13 Softmax flattens from `axis` on; the same as per-axis only on the last axis.
    if (opset_ < 13 && axis != r - 1) fail_node(n, "opset ", opset_, " Softmax axis ", axis, " over rank ", r,
                                             " not supported (expected the last axis)");
    Node& node = add_node(n, Op::Softmax, {x}, r);
    node.axis = axis;
    return;
  }

  fail("node '", n.name(), "': unsupported op '", op, "'");
}

void Importer::import_input() {
  const auto& gr = model_.graph();
  std::set<std::string> inits;
  for (const auto& t : gr.initializer()) inits.insert(t.name());
  const onnx::ValueInfoProto* in = nullptr;
  for (const auto& v : gr.input()) {
    if (inits.count(v.name())) continue;
    if (in) fail("more than one graph input ('", in->name(), "', '", v.name(), "'); expected one");
    in = &v;
  }
  if (!in) fail("the graph has no input");
  if (!in->type().has_tensor_type()) fail("graph input '", in->name(), "' is not a tensor");
  const auto& tt = in->type().tensor_type();
  if (tt.elem_type() != onnx::TensorProto::FLOAT)
    fail("graph input '", in->name(), "' has element type ", tt.elem_type(), ", expected FLOAT");
  if (!tt.has_shape() || tt.shape().dim_size() < 2)
    fail("graph input '", in->name(), "' needs a shape of rank >= 2 (batch first)");
  Shape s;
  int64_t per_sample = 1;
  for (int k = 1; k < tt.shape().dim_size(); ++k) {
    const auto& d = tt.shape().dim(k);
    if (!d.has_dim_value() || d.dim_value() < 1)
      fail("graph input '", in->name(), "' dimension ", k, " is not a fixed positive size (only the batch may be symbolic)");
    if (d.dim_value() > kMaxInputValues / per_sample)
      fail("graph input '", in->name(), "' has more than 2^31 - 1 values per sample (dimension ", k, " is ",
           d.dim_value(), ")");
    per_sample *= d.dim_value();
    s.push_back(d.dim_value());
  }
  g_.meta.input_shape = s;
  input_value_ = in->name();
  producer_[input_value_] = Graph::kInput;
  ranks_[input_value_] = tt.shape().dim_size();
}

Graph Importer::run() {
  const std::string bytes = read_file(path_);
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    fail("file over 2 GiB (use external data)");
  if (!model_.ParseFromString(bytes))
    fail("not a valid ONNX model (protobuf parse failed: truncated or not ONNX)");
  if (!model_.has_graph() || model_.graph().node_size() == 0)
    fail("not a valid ONNX model (no graph nodes)");

  bool found = false;
  for (const auto& o : model_.opset_import()) {
    if (!o.domain().empty() && o.domain() != "ai.onnx") continue;
    found = true;
    opset_ = o.version();
  }
  if (!found) fail("no opset for the default domain (expected opset ", kMinOpset, "..", kMaxOpset, ")");
  if (opset_ < kMinOpset || opset_ > kMaxOpset)
    fail("opset ", opset_, " not supported (expected ", kMinOpset, "..", kMaxOpset, ")");

  const auto& gr = model_.graph();
  for (const auto& t : gr.initializer()) {
    if (t.name().empty()) fail("an initializer has no name");
    // Tensors of other types are refused only if a node uses them.
    if (t.data_type() != onnx::TensorProto::FLOAT && t.data_type() != onnx::TensorProto::INT64) {
      other_inits_[t.name()] = &t;
      continue;
    }
    consts_[t.name()] = decode(t, t.name());
  }
  for (const auto& n : gr.node())
    for (const auto& v : n.input()) if (!v.empty()) ++uses_[v];
  for (const auto& o : gr.output()) ++uses_[o.name()];

  import_input();
  g_.meta.name = gr.name();
  g_.meta.producer = model_.producer_name();
  if (!model_.producer_version().empty()) g_.meta.producer += " " + model_.producer_version();
  for (const auto& kv : model_.metadata_props()) {
    if (kv.key() != kLabelsKey) continue;
    const auto j = nlohmann::json::parse(kv.value(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_array()) fail("metadata_props '", kLabelsKey, "' is not a JSON array of strings");
    for (const auto& e : j) {
      if (!e.is_string()) fail("metadata_props '", kLabelsKey, "' is not a JSON array of strings");
      g_.meta.labels.push_back(e.get<std::string>());
    }
  }

  for (int k = 0; k < gr.node_size(); ++k) {
    const auto& n = gr.node(k);
    for (const auto& v : n.input()) {
      auto it = other_inits_.find(v);
      if (it != other_inits_.end()) (void)decode(*it->second, v);  // throws naming the data type
    }
    import_node(n, static_cast<size_t>(k));
  }

  if (gr.output_size() == 0) fail("the graph has no output");
  for (const auto& o : gr.output()) {
    auto it = producer_.find(o.name());
    if (it == producer_.end()) fail("graph output '", o.name(), "' is not produced by a supported node");
    if (it->second == Graph::kInput) fail("graph output '", o.name(), "' is the graph input itself");
    g_.outputs.push_back(it->second);
  }
  try {
    g_.infer_shapes();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::BadInput) fail(e.what());
    throw;
  }
  return std::move(g_);
}

// ---------------------------------------------------------------------------------------------
// Export.

class Exporter {
 public:
  /// mq: the quantization state for QDQ export (nullptr: fp32 export).
  explicit Exporter(const Graph& g, const quant::ModelQuant* mq = nullptr) : g_(g), mq_(mq) {}
  onnx::ModelProto run();

 private:
  void add_init(const std::string& name, const Shape& shape, const std::vector<float>& v);
  void add_init_i64(const std::string& name, const std::vector<int64_t>& v);
  std::string fresh(const std::string& base);
  onnx::NodeProto* node(const std::string& op, const std::string& name, std::vector<std::string> ins,
                        const std::string& out);
  static void set_ints(onnx::NodeProto* n, const char* name, std::vector<int64_t> v);
  static void set_int(onnx::NodeProto* n, const char* name, int64_t v);
  static void set_float(onnx::NodeProto* n, const char* name, float v);
  static void set_shape(onnx::ValueInfoProto* v, const Shape& s);
  std::string value_of(const std::string& ir_name) const {
    return ir_name == Graph::kInput ? input_value_ : ir_name;
  }
  void export_node(const Node& n);

  // ---- QDQ ----------------------------------------------------------------------------------
  /// ONNX element type of a B-bit fixed-point tensor (B <= 8: int8, else int16).
  static int32_t int_type(int bits) { return bits <= 8 ? onnx::TensorProto::INT8 : onnx::TensorProto::INT16; }
  /// An integer initializer of `type` (INT8 / INT16 / INT32), raw little-endian data.
  void add_init_int(const std::string& name, const Shape& shape, int32_t type, const std::vector<int64_t>& q);
  /// Scale 2^-fl[k] and (for int8 / int16) zero point 0 initializers: scalars for one FL, 1-D
  /// for one per channel. Returns the DequantizeLinear / QuantizeLinear inputs after x.
  std::vector<std::string> qparams(const std::string& base, const std::vector<int>& fl, int32_t type);
  /// DequantizeLinear(q) -> out, per-axis on axis 0 when fl has one value per channel.
  void dequantize(const std::string& q, const std::vector<int>& fl, int32_t type, const std::string& out);
  /// Weight (and bias) of a quantized Conv2d / Linear as integer initializers + DequantizeLinear.
  void int_weights(const Node& n, bool bias, std::vector<std::string>& ins);
  /// x -> QuantizeLinear -> DequantizeLinear -> out with the fixed-point format f.
  void quantize_dequantize(const std::string& x, quant::QFormat f, const std::string& out);

  const Graph& g_;
  const quant::ModelQuant* mq_;
  onnx::ModelProto m_;
  onnx::GraphProto* gp_ = nullptr;
  std::set<std::string> names_;
  std::string input_value_ = Graph::kInput;
};

std::string Exporter::fresh(const std::string& base) {
  std::string s = base;
  for (int k = 2; names_.count(s); ++k) s = base + "_" + std::to_string(k);
  names_.insert(s);
  return s;
}

void Exporter::add_init(const std::string& name, const Shape& shape, const std::vector<float>& v) {
  auto* t = gp_->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : shape) t->add_dims(d);
  if (numel(shape) != static_cast<int64_t>(v.size()))
    throw InternalError("export_onnx: tensor ", name, " has ", v.size(), " values for shape ", shape_str(shape));
  t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
}
void Exporter::add_init_i64(const std::string& name, const std::vector<int64_t>& v) {
  auto* t = gp_->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(v.size()));
  for (int64_t x : v) t->add_int64_data(x);
}

onnx::NodeProto* Exporter::node(const std::string& op, const std::string& name,
                                std::vector<std::string> ins, const std::string& out) {
  auto* n = gp_->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (auto& i : ins) n->add_input(i);
  n->add_output(out);
  return n;
}
void Exporter::set_ints(onnx::NodeProto* n, const char* name, std::vector<int64_t> v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void Exporter::set_int(onnx::NodeProto* n, const char* name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void Exporter::set_float(onnx::NodeProto* n, const char* name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
void Exporter::set_shape(onnx::ValueInfoProto* v, const Shape& s) {
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  auto* sh = tt->mutable_shape();
  sh->add_dim()->set_dim_param("N");
  for (int64_t d : s) sh->add_dim()->set_dim_value(d);
}

void Exporter::export_node(const Node& n) {
  std::vector<std::string> ins;
  for (const auto& i : n.inputs) ins.push_back(value_of(i));
  // QDQ: a node of the integer part writes its float result to `out`, which is quantized to the
  // node's format and dequantized into the value named after the node (what consumers read).
  const bool qdq = mq_ && mq_->nodes.count(n.name);
  const std::string out = qdq ? fresh(n.name + ".float") : n.name;
  auto need = [&](const char* key) -> const Tensor& {
    const Tensor* t = n.tensor(key);
    if (!t) throw BadInput("export_onnx: node '", n.name, "' (", op_name(n.op), ") has no tensor '", key, "'");
    return *t;
  };
  auto weights = [&](bool bias) {
    if (qdq && mq_->nodes.at(n.name).has_weight) return int_weights(n, bias, ins);
    const Tensor& w = need("weight");
    ins.push_back(fresh(n.name + ".weight"));
    add_init(ins.back(), w.shape, w.data);
    if (bias) {
      const Tensor& b = need("bias");
      ins.push_back(fresh(n.name + ".bias"));
      add_init(ins.back(), b.shape, b.data);
    }
  };
  auto window = [&](onnx::NodeProto* p, bool with_dilation) {
    set_ints(p, "kernel_shape", {n.kernel[0], n.kernel[1]});
    set_ints(p, "strides", {n.stride[0], n.stride[1]});
    set_ints(p, "pads", {n.pads[0], n.pads[1], n.pads[2], n.pads[3]});
    if (with_dilation) set_ints(p, "dilations", {n.dilation[0], n.dilation[1]});
  };
  switch (n.op) {
    case Op::Conv2d: {
      weights(n.has_bias);
      auto* p = node("Conv", n.name, ins, out);
      window(p, true);
      set_int(p, "group", n.groups);
      break;
    }
    case Op::Linear: {
      // Gemm takes a 2-D input; the IR's Linear flattens anything after the batch.
      if (n.inputs.size() == 1 && g_.shape_of(n.inputs[0]).size() != 1) {
        const std::string f = fresh(n.name + ".flatten");
        set_int(node("Flatten", f, ins, f), "axis", 1);
        ins = {f};
      }
      weights(n.has_bias);
      set_int(node("Gemm", n.name, ins, out), "transB", 1);
      break;
    }
    case Op::BatchNorm: {
      for (const char* k : {"weight", "bias", "running_mean", "running_var"}) {
        const Tensor& t = need(k);
        ins.push_back(fresh(n.name + "." + k));
        add_init(ins.back(), t.shape, t.data);
      }
      set_float(node("BatchNormalization", n.name, ins, out), "epsilon", n.eps);
      break;
    }
    case Op::ReLU: node("Relu", n.name, ins, out); break;
    case Op::ReLU6: {
      ins.push_back(fresh(n.name + ".min"));
      add_init(ins.back(), {}, {0.0f});
      ins.push_back(fresh(n.name + ".max"));
      add_init(ins.back(), {}, {6.0f});
      node("Clip", n.name, ins, out);
      break;
    }
    case Op::LeakyReLU: set_float(node("LeakyRelu", n.name, ins, out), "alpha", n.alpha); break;
    case Op::Sigmoid: node("Sigmoid", n.name, ins, out); break;
    case Op::Tanh: node("Tanh", n.name, ins, out); break;
    case Op::MaxPool: {
      auto* p = node("MaxPool", n.name, ins, out);
      window(p, false);
      set_int(p, "ceil_mode", n.ceil_mode ? 1 : 0);
      break;
    }
    case Op::AvgPool: {
      auto* p = node("AveragePool", n.name, ins, out);
      window(p, false);
      set_int(p, "ceil_mode", n.ceil_mode ? 1 : 0);
      set_int(p, "count_include_pad", n.count_include_pad ? 1 : 0);
      break;
    }
    case Op::GlobalAvgPool: node("GlobalAveragePool", n.name, ins, out); break;
    case Op::Add: node("Add", n.name, ins, out); break;
    case Op::Concat: set_int(node("Concat", n.name, ins, out), "axis", n.axis); break;
    case Op::Flatten: set_int(node("Flatten", n.name, ins, out), "axis", n.axis); break;
    case Op::Reshape: {
      std::vector<int64_t> s{0};  // 0: copy the batch dimension
      s.insert(s.end(), n.target_shape.begin(), n.target_shape.end());
      ins.push_back(fresh(n.name + ".shape"));
      add_init_i64(ins.back(), s);
      node("Reshape", n.name, ins, out);
      break;
    }
    case Op::Softmax: set_int(node("Softmax", n.name, ins, out), "axis", n.axis); break;
    case Op::Identity: node("Identity", n.name, ins, out); break;
    default:
      throw NotImplemented("export_onnx: node '", n.name, "': op ", op_name(n.op), " has no ONNX mapping");
  }
  if (qdq) quantize_dequantize(out, mq_->nodes.at(n.name).output, n.name);
}

void Exporter::add_init_int(const std::string& name, const Shape& shape, int32_t type, const std::vector<int64_t>& q) {
  auto* t = gp_->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : shape) t->add_dims(d);
  if (numel(shape) != static_cast<int64_t>(q.size()))
    throw InternalError("export_onnx: tensor ", name, " has ", q.size(), " values for shape ", shape_str(shape));
  const int bytes = type == onnx::TensorProto::INT8 ? 1 : (type == onnx::TensorProto::INT16 ? 2 : 4);
  std::string raw;
  raw.reserve(q.size() * static_cast<size_t>(bytes));
  for (int64_t v : q)  // two's complement, little-endian, whatever the host's byte order
    for (int k = 0; k < bytes; ++k) raw.push_back(static_cast<char>(static_cast<uint64_t>(v) >> (8 * k)));
  t->set_raw_data(raw);
}

std::vector<std::string> Exporter::qparams(const std::string& base, const std::vector<int>& fl, int32_t type) {
  const Shape shape = fl.size() == 1 ? Shape{} : Shape{static_cast<int64_t>(fl.size())};
  std::vector<float> scale;
  for (int f : fl) scale.push_back(std::ldexp(1.0f, -f));  // exact: FL in [-8, 24]
  std::vector<std::string> names{fresh(base + ".scale")};
  add_init(names[0], shape, scale);
  if (type != onnx::TensorProto::INT32) {  // int32 (biases): the zero point is absent, i.e. 0
    names.push_back(fresh(base + ".zero_point"));
    add_init_int(names[1], shape, type, std::vector<int64_t>(fl.size(), 0));
  }
  return names;
}

void Exporter::dequantize(const std::string& q, const std::vector<int>& fl, int32_t type, const std::string& out) {
  std::vector<std::string> ins{q};
  for (auto& p : qparams(out, fl, type)) ins.push_back(p);
  auto* p = node("DequantizeLinear", fresh(out + ".dequantize"), ins, out);
  if (fl.size() > 1) set_int(p, "axis", 0);  // per output channel (opset >= 13)
}

void Exporter::quantize_dequantize(const std::string& x, quant::QFormat f, const std::string& out) {
  const int32_t type = int_type(f.bits);
  std::vector<std::string> ins{x};
  for (auto& p : qparams(out, {f.fl}, type)) ins.push_back(p);
  const std::string q = fresh(out + ".q");
  node("QuantizeLinear", q, ins, q);
  ins[0] = q;
  node("DequantizeLinear", fresh(out + ".dequantize"), ins, out);
}

void Exporter::int_weights(const Node& n, bool bias, std::vector<std::string>& ins) {
  const quant::NodeQuant& nq = mq_->nodes.at(n.name);
  const Tensor* w = n.tensor("weight");
  const Tensor* b = bias ? n.tensor("bias") : nullptr;
  if (!w || (bias && !b))
    throw BadInput("export_onnx: node '", n.name, "' (", op_name(n.op), ") has no tensor '", w ? "bias" : "weight",
                   "'");
  // The integers the runtime computes with: q = fx::quantize(w, B, FL[c]) (a k-means layer: its
  // centroid integer), stored as int8 / int16 with scale 2^-FL[c] on axis 0 (the output channel).
  const int64_t oc = w->shape.at(0), per = oc > 0 ? w->numel() / oc : 0;
  std::vector<int64_t> q(static_cast<size_t>(w->numel()));
  for (size_t i = 0; i < q.size(); ++i)
    q[i] = nq.codebook ? nq.codebook->centroids_q[static_cast<size_t>(nq.codebook->indices[i])]
                       : fx::quantize(w->data[i], nq.weight_bits, nq.weight_fl_of(static_cast<int64_t>(i) / per));
  const std::string wq = fresh(n.name + ".weight_quantized");
  add_init_int(wq, w->shape, int_type(nq.weight_bits), q);
  ins.push_back(fresh(n.name + ".weight"));
  dequantize(wq, nq.weight_fl, int_type(nq.weight_bits), ins.back());
  if (!b) return;
  // The bias as the runtime's int32 at the accumulator's FL: FL_x + FL_w[c], saturated.
  const int xfl = mq_->format_of(n.inputs.at(0)).fl;
  std::vector<int> bfl;
  for (int fl : nq.weight_fl) bfl.push_back(xfl + fl);
  std::vector<int64_t> qb(static_cast<size_t>(b->numel()));
  for (int64_t c = 0; c < b->numel(); ++c)
    qb[static_cast<size_t>(c)] = fx::quantize(b->data[static_cast<size_t>(c)], 32, xfl + nq.weight_fl_of(c));
  const std::string bq = fresh(n.name + ".bias_quantized");
  add_init_int(bq, b->shape, onnx::TensorProto::INT32, qb);
  ins.push_back(fresh(n.name + ".bias"));
  dequantize(bq, bfl, onnx::TensorProto::INT32, ins.back());
}

/// True when a tensor of the quantized model needs int16 (so opset 21).
bool has_16bit(const quant::ModelQuant& mq) {
  if (mq.input.bits > 8) return true;
  for (const auto& [name, nq] : mq.nodes)
    if (nq.output.bits > 8 || (nq.has_weight && nq.weight_bits > 8)) return true;
  return false;
}

onnx::ModelProto Exporter::run() {
  const bool int16 = mq_ && has_16bit(*mq_);
  m_.set_ir_version(int16 ? kQdqInt16IrVersion : kExportIrVersion);
  m_.set_producer_name("shrink");
  m_.set_producer_version(SHRINK_VERSION);
  auto* os = m_.add_opset_import();
  os->set_domain("");
  os->set_version(int16 ? kQdqInt16Opset : kExportOpset);
  if (!g_.meta.labels.empty()) {
    auto* kv = m_.add_metadata_props();
    kv->set_key(kLabelsKey);
    kv->set_value(nlohmann::json(g_.meta.labels).dump());
  }
  gp_ = m_.mutable_graph();
  gp_->set_name(g_.meta.name.empty() ? "shrink" : g_.meta.name);
  for (const auto& n : g_.nodes) names_.insert(n.name);
  names_.insert(Graph::kInput);

  auto* in = gp_->add_input();
  in->set_name(Graph::kInput);
  set_shape(in, g_.meta.input_shape);

  // Input normalization: x' = (x - mean[c]) / std[c], channel = the first non-batch axis.
  const Shape& is = g_.meta.input_shape;
  auto per_channel = [&](const std::vector<float>& v, const char* what) -> Shape {
    const int64_t c = is.empty() ? 1 : is[0];
    if (v.size() == 1) return {};
    if (static_cast<int64_t>(v.size()) != c)
      throw BadInput("export_onnx: meta.", what, " has ", v.size(), " values, expected 1 or ", c,
                     " (input channels)");
    Shape s{c};
    for (size_t k = 1; k < is.size(); ++k) s.push_back(1);
    return s;
  };
  if (!g_.meta.mean.empty()) {
    const Shape s = per_channel(g_.meta.mean, "mean");
    const std::string c = fresh("input.mean"), out = fresh("input.sub");
    add_init(c, s, g_.meta.mean);
    node("Sub", out, {input_value_, c}, out);
    input_value_ = out;
  }
  if (!g_.meta.std.empty()) {
    const Shape s = per_channel(g_.meta.std, "std");
    const std::string c = fresh("input.std"), out = fresh("input.div");
    add_init(c, s, g_.meta.std);
    node("Div", out, {input_value_, c}, out);
    input_value_ = out;
  }
  if (mq_) {  // QDQ: the normalized input at the input's format
    const std::string out = fresh("input.quantized");
    quantize_dequantize(input_value_, mq_->input, out);
    input_value_ = out;
  }

  for (const auto& n : g_.nodes) export_node(n);
  for (const auto& o : g_.outputs) {
    auto* v = gp_->add_output();
    v->set_name(o);
    set_shape(v, g_.shape_of(o));
  }
  return std::move(m_);
}

}  // namespace

Graph import_onnx(const std::string& path) {
  try {
    return Importer(path).run();
  } catch (const BadInput& e) {
    throw BadInput(one_line(e.what()));  // names and values from the file may hold control bytes
  } catch (const NotImplemented& e) {
    throw NotImplemented(one_line(e.what()));
  }
}

namespace {
void write_onnx(const Graph& g, const quant::ModelQuant* mq, const std::string& path) {
  Graph copy = g;
  copy.infer_shapes();
  const onnx::ModelProto m = Exporter(copy, mq).run();
  if (m.ByteSizeLong() > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw BadInput(path, ": model over 2 GiB cannot be written as one ONNX file");
  std::string bytes;
  if (!m.SerializeToString(&bytes)) throw InternalError(path, ": ONNX serialization failed");
  write_file_atomic(path, bytes);
}
}  // namespace

void export_onnx(const Graph& g, const std::string& path) { write_onnx(g, nullptr, path); }

std::string onnx_qdq_unsupported(const Graph& g) {
  const quant::ModelQuant mq = quant::read_model_quant(g);
  auto why = [](const std::string& what, quant::QFormat f) {
    if (f.bits == 8 || f.bits == 16) return std::string();
    return what + " is " + std::to_string(f.bits) +
           "-bit (QDQ needs 8- or 16-bit activations: QuantizeLinear saturates to int8 / int16)";
  };
  std::string r = why("the input", mq.input);
  for (auto n = g.nodes.begin(); r.empty() && n != g.nodes.end(); ++n)
    if (mq.nodes.count(n->name)) r = why("the output of node '" + n->name + "'", mq.nodes.at(n->name).output);
  return r;
}

void export_onnx_qdq(const Graph& g, const std::string& path) {
  const std::string why = onnx_qdq_unsupported(g);
  if (!why.empty()) throw BadInput("export_onnx_qdq: model '", g.meta.name, "': ", why);
  const quant::ModelQuant mq = quant::read_model_quant(g);
  write_onnx(g, &mq, path);
}

}  // namespace shrink::ir
