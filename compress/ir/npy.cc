// NumPy .npy reader and writer (format 1.0 / 2.0; float32 and int64, C order, little-endian).
//
// File layout: "\x93NUMPY", major, minor, header length (uint16 LE in 1.0, uint32 LE in 2.0),
// an ASCII Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ended by '\n', then the raw C-order data.
#include "compress/ir/npy.h"

#include <cctype>
#include <cstring>
#include <map>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "npy.cc copies little-endian data as it is; a big-endian host needs byte swapping");

namespace shrink::ir {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kMaxHeader = 64 * 1024;

/// A minimal parser for the header dict: string, True/False and tuple-of-int values.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), s_(text) {}

  struct Value {
    enum Kind { Str, Bool, Tuple } kind = Str;
    std::string str;
    bool b = false;
    std::vector<int64_t> ints;
  };

  std::map<std::string, Value> parse() {
    std::map<std::string, Value> out;
    skip_ws();
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') { ++i_; break; }
      const std::string key = parse_string();
      skip_ws();
      expect(':');
      skip_ws();
      Value v = parse_value(key);
      if (out.count(key)) fail("duplicate key '" + key + "'");
      out[key] = std::move(v);
      skip_ws();
      if (peek() == ',') { ++i_; continue; }
      if (peek() == '}') { ++i_; break; }
      fail("expected ',' or '}' after the value of '" + key + "'");
    }
    skip_ws();
    if (i_ != s_.size()) fail("unexpected text after the header dict");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw BadInput(path_, ": bad .npy header (", what, " at offset ", i_, ")");
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() { while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_; }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string parse_string() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    ++i_;
    const size_t end = s_.find(q, i_);
    if (end == std::string::npos) fail("unterminated string");
    std::string r = s_.substr(i_, end - i_);
    i_ = end + 1;
    return r;
  }
  Value parse_value(const std::string& key) {
    Value v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = Value::Str;
      v.str = parse_string();
    } else if (s_.compare(i_, 4, "True") == 0) {
      v.kind = Value::Bool; v.b = true; i_ += 4;
    } else if (s_.compare(i_, 5, "False") == 0) {
      v.kind = Value::Bool; v.b = false; i_ += 5;
    } else if (c == '(') {
      v.kind = Value::Tuple;
      ++i_;
      for (;;) {
        skip_ws();
        if (peek() == ')') { ++i_; break; }
        if (!std::isdigit(static_cast<unsigned char>(peek())))
          fail("field '" + key + "' must be a tuple of non-negative integers");
        int64_t n = 0;
        while (std::isdigit(static_cast<unsigned char>(peek()))) {
          if (n > (int64_t{1} << 55)) fail("dimension too large in '" + key + "'");
          n = n * 10 + (s_[i_++] - '0');
        }
        while (peek() == 'L') ++i_;  // Python 2 long suffix
        v.ints.push_back(n);
        skip_ws();
        if (peek() == ',') { ++i_; continue; }
        if (peek() == ')') { ++i_; break; }
        fail("expected ',' or ')' in '" + key + "'");
      }
    } else {
      fail("unsupported value for '" + key + "'");
    }
    return v;
  }

  const std::string& path_;
  const std::string& s_;
  size_t i_ = 0;
};

/// '<f4' -> false, '<i8' -> true; '|' and '=' mean little-endian on this (little-endian) host.
bool parse_descr(const std::string& path, const std::string& d) {
  if (d.size() == 3 && (d[0] == '<' || d[0] == '|' || d[0] == '=')) {
    const std::string t = d.substr(1);
    if (t == "f4") return false;
    if (t == "i8") return true;
  }
  throw BadInput(path, ": field 'descr' is '", d, "', expected '<f4' (float32) or '<i8' (int64)");
}

std::string header_for(const std::string& descr, const Shape& shape) {
  std::string h = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    h += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) h += ",";
    if (i + 1 < shape.size()) h += " ";
  }
  h += "), }";
  // Pad with spaces so that magic + version + length + header is a multiple of 64, end with '\n'.
  const size_t fixed = kMagicLen + 2 + 2;
  const size_t total = fixed + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h += '\n';
  return h;
}

void write_raw(const std::string& path, const std::string& descr, const Shape& shape,
               const void* data, size_t bytes) {
  const std::string h = header_for(descr, shape);
  if (h.size() > 0xffff) throw BadInput(path, ": shape ", shape_str(shape), " is too long for .npy 1.0");
  std::string out;
  out.reserve(kMagicLen + 4 + h.size() + bytes);
  out.append(kMagic, kMagicLen);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>((h.size() >> 8) & 0xff);
  out += h;
  out.append(static_cast<const char*>(data), bytes);
  write_file_atomic(path, out);
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < kMagicLen + 4 || std::memcmp(bytes.data(), kMagic, kMagicLen) != 0)
    throw BadInput(path, ": not a .npy file (bad magic, expected \\x93NUMPY)");
  const auto major = static_cast<uint8_t>(bytes[6]);
  const auto minor = static_cast<uint8_t>(bytes[7]);
  size_t hlen = 0, pos = 0;
  auto u8 = [&](size_t i) { return static_cast<size_t>(static_cast<uint8_t>(bytes[i])); };
  if (major == 1) {
    hlen = u8(8) | (u8(9) << 8);
    pos = 10;
  } else if (major == 2) {
    if (bytes.size() < 12) throw BadInput(path, ": truncated .npy header");
    hlen = u8(8) | (u8(9) << 8) | (u8(10) << 16) | (u8(11) << 24);
    pos = 12;
  } else {
    throw BadInput(path, ": .npy version ", int(major), ".", int(minor),
                   " is not supported, expected 1.0 or 2.0");
  }
  if (hlen > kMaxHeader)
    throw BadInput(path, ": .npy header length ", hlen, " is over the 64 KiB limit");
  if (bytes.size() - pos < hlen)
    throw BadInput(path, ": truncated .npy header (", hlen, " bytes announced, ",
                   bytes.size() - pos, " present)");
  const std::string text = bytes.substr(pos, hlen);
  pos += hlen;

  const auto dict = HeaderParser(path, text).parse();
  auto field = [&](const char* key) -> const HeaderParser::Value& {
    auto it = dict.find(key);
    if (it == dict.end()) throw BadInput(path, ": .npy header has no field '", key, "'");
    return it->second;
  };
  for (const auto& [k, v] : dict)
    if (k != "descr" && k != "fortran_order" && k != "shape")
      throw BadInput(path, ": .npy header has an unexpected field '", k, "'");
  const auto& descr = field("descr");
  const auto& fortran = field("fortran_order");
  const auto& shape = field("shape");
  if (descr.kind != HeaderParser::Value::Str)
    throw BadInput(path, ": field 'descr' must be a string such as '<f4'");
  if (fortran.kind != HeaderParser::Value::Bool)
    throw BadInput(path, ": field 'fortran_order' must be True or False");
  if (fortran.b)
    throw BadInput(path, ": field 'fortran_order' is True, only C-order arrays are supported");
  if (shape.kind != HeaderParser::Value::Tuple)
    throw BadInput(path, ": field 'shape' must be a tuple of integers");

  NpyArray a;
  a.is_int64 = parse_descr(path, descr.str);
  a.shape = shape.ints;
  int64_t n = 0;
  try {
    n = numel(a.shape);
  } catch (const BadInput&) {
    throw BadInput(path, ": field 'shape' ", shape_str(a.shape), " has too many elements");
  }
  const size_t item = a.is_int64 ? 8 : 4;
  const size_t have = bytes.size() - pos;
  if (static_cast<uint64_t>(n) > have / item)
    throw BadInput(path, ": truncated data: field 'shape' ", shape_str(a.shape), " needs ", n,
                   " elements of ", item, " bytes, the file has ", have, " data bytes");
  if (have != static_cast<size_t>(n) * item)
    throw BadInput(path, ": field 'shape' ", shape_str(a.shape), " needs ", n * item,
                   " data bytes, the file has ", have, " (", have - n * item, " too many)");
  if (n == 0) return a;
  if (a.is_int64) {
    a.i64.resize(static_cast<size_t>(n));
    std::memcpy(a.i64.data(), bytes.data() + pos, have);
  } else {
    a.f32.resize(static_cast<size_t>(n));
    std::memcpy(a.f32.data(), bytes.data() + pos, have);
  }
  return a;
}

void write_npy(const std::string& path, const Tensor& t) {
  if (numel(t.shape) != t.numel())
    throw InternalError("write_npy ", path, ": tensor shape ", shape_str(t.shape), " does not match its ",
                        t.numel(), " values");
  write_raw(path, "<f4", t.shape, t.data.data(), t.data.size() * sizeof(float));
}

void write_npy(const std::string& path, const Shape& shape, const std::vector<int64_t>& v) {
  if (numel(shape) != static_cast<int64_t>(v.size()))
    throw BadInput("write_npy ", path, ": shape ", shape_str(shape), " does not match ", v.size(),
                   " values");
  write_raw(path, "<i8", shape, v.data(), v.size() * sizeof(int64_t));
}

}  // namespace shrink::ir
