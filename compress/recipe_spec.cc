// The recipe's schema and parser (recipe_spec.h): YAML to a validated Recipe, --set overrides,
// the stage registry. No LibTorch: the recipe fuzz target builds it alone.
#include "compress/recipe_spec.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"

namespace fs = std::filesystem;

namespace shrink::recipe {

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

namespace {

std::string scalar_text(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsSequence()) return "a list";
  return "a map";
}

bool is_int(const YAML::Node& n) {
  if (!n.IsScalar()) return false;
  try {
    n.as<int64_t>();
    return true;
  } catch (const YAML::Exception&) {
    return false;
  }
}
bool is_float(const YAML::Node& n) {
  if (!n.IsScalar()) return false;
  try {
    n.as<double>();
    return true;
  } catch (const YAML::Exception&) {
    return false;
  }
}
bool is_bool(const YAML::Node& n) {
  if (!n.IsScalar()) return false;
  try {
    n.as<bool>();
    return true;
  } catch (const YAML::Exception&) {
    return false;
  }
}

std::vector<std::string> option_names(const std::vector<OptionSpec>& specs) {
  std::vector<std::string> v;
  for (const auto& s : specs) v.push_back(s.name);
  return v;
}

const OptionSpec* find_option(const std::vector<OptionSpec>& specs, const std::string& name) {
  for (const auto& s : specs)
    if (s.name == name) return &s;
  return nullptr;
}

/// Checks one value against its spec. `key` is the option's path within the stage
/// ("epochs", "distill.alpha"); `at_override` replaces the file position (for --set).
void check_value(const YAML::Node& v, const OptionSpec& spec, const std::string& file, const std::string& stage,
                 const std::string& key, const std::string& at_override = "") {
  auto at = [&](const YAML::Node& n) { return at_override.empty() ? where(file, n) : at_override; };
  bool ok = true;
  switch (spec.type) {
    case OptType::Int: ok = is_int(v); break;
    case OptType::Float: ok = is_float(v); break;
    case OptType::Bool: ok = is_bool(v); break;
    case OptType::String: ok = v.IsScalar(); break;
    case OptType::StringList:
      ok = v.IsSequence();
      if (ok)
        for (const auto& e : v) ok = ok && e.IsScalar();
      break;
    case OptType::Map: ok = v.IsMap(); break;
  }
  if (!ok)
    throw BadInput(at(v), ": stage '", stage, "': '", key, "' must be ", (spec.type == OptType::Int ? "an " : "a "),
                   opt_type_name(spec.type), ", got ", scalar_text(v));
  if (spec.type == OptType::Map) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      std::string k = it->first.Scalar();  // "" for a key that is not a scalar: unknown
      const OptionSpec* f = find_option(spec.fields, k);
      if (!f)
        throw BadInput(at(it->first), ": unknown key '", k, "' in '", key, "' of stage '", stage, "' (known: ",
                       join(option_names(spec.fields)), ")");
      check_value(it->second, *f, file, stage, key + "." + k, at_override);
    }
  }
}

struct Registry {
  std::vector<StageSpec> stages;
};

Registry& registry() {
  static Registry* reg = new Registry;
  static bool registering = false, done = false;
  if (!done && !registering) {  // the built-in stages, on first use (register_stage comes back here)
    registering = true;
    register_builtin_stages();
    done = true;
  }
  return *reg;
}

const std::vector<std::string> kTopKeys = {"name", "model", "data", "seed", "threads", "stages"};
const std::vector<std::string> kModelKeys = {"zoo", "file", "onnx"};
const std::vector<std::string> kDataKeys = {"dataset", "data_dir", "calibration", "val_limit", "test_limit"};

std::vector<std::string> stage_names() {
  std::vector<std::string> v;
  for (const auto* s : registered_stages()) v.push_back(s->name);
  return v;
}

void check_known(const YAML::Node& map, const std::vector<std::string>& known, const std::string& file,
                 const std::string& in) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string key = it->first.Scalar();
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw BadInput(where(file, it->first), ": unknown key '", key, "'", in, " (known: ", join(known), ")");
  }
}

int64_t read_int(const YAML::Node& n, const std::string& file, const std::string& what, int64_t min) {
  if (!is_int(n)) throw BadInput(where(file, n), ": '", what, "' must be an int, got ", scalar_text(n));
  int64_t v = n.as<int64_t>();
  if (v < min) throw BadInput(where(file, n), ": '", what, "' must be >= ", min, ", got ", v);
  return v;
}

std::string read_string(const YAML::Node& n, const std::string& file, const std::string& what) {
  if (!n.IsScalar() || n.Scalar().empty())
    throw BadInput(where(file, n), ": '", what, "' must be a non-empty string, got ", scalar_text(n));
  return n.Scalar();
}

// Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlongs, no
// surrogates, at most U+10FFFF), or npos. A recipe's strings end up in report.json.
size_t invalid_utf8_at(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return i;
    uint32_t cp = n == 1 ? b : n == 2 ? (b & 0x1Fu) : n == 3 ? (b & 0x0Fu) : (b & 0x07u);
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c >> 6) != 0x2) return i;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n;
  }
  return std::string::npos;
}

void check_utf8(const std::string& text, const std::string& what) {
  const size_t at = invalid_utf8_at(text);
  if (at == std::string::npos) return;
  size_t line = 1, col = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  throw BadInput(what, ":", line, ":", col, ": not UTF-8 text (byte ", at, ")");
}

// Every key and scalar of the document is UTF-8 (after YAML's escapes; yaml-cpp refuses a lone
// surrogate such as "\\uD800" itself, this does not rely on it), and the document nests at most kMaxDepth levels: what reaches report.json is
// valid JSON text; and it has at most kMaxNodes nodes, aliases expanded (a "billion laughs" of
// nested aliases is refused, not walked).
constexpr int kMaxDepth = 64;
constexpr int64_t kMaxNodes = 100000;
void check_text(const YAML::Node& n, const std::string& file, int depth, int64_t& nodes) {
  if (depth > kMaxDepth) throw BadInput(where(file, n), ": the document nests deeper than ", kMaxDepth, " levels");
  if (++nodes > kMaxNodes) throw BadInput(file, ": the document has more than ", kMaxNodes, " nodes (aliases expanded)");
  if (n.IsScalar()) {
    if (invalid_utf8_at(n.Scalar()) != std::string::npos) throw BadInput(where(file, n), ": not UTF-8 text");
  } else if (n.IsSequence()) {
    for (const auto& e : n) check_text(e, file, depth + 1, nodes);
  } else if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      check_text(it->first, file, depth + 1, nodes);
      check_text(it->second, file, depth + 1, nodes);
    }
  }
}

/// Fills the typed fields of r from r.root and validates everything (keys, types, stages).
void interpret(Recipe& r) {
  const std::string& f = r.path;
  const YAML::Node& root = r.root;
  int64_t nodes = 0;
  check_text(root, f, 0, nodes);
  if (!root.IsMap())
    throw BadInput(f, ": expected a YAML map with the keys ", join(kTopKeys), ", got ", scalar_text(root));
  check_known(root, kTopKeys, f, "");
  for (const char* req : {"name", "model", "stages"})
    if (!root[req]) throw BadInput(f, ": missing key '", req, "' (a recipe needs name, model and stages)");

  r.name = read_string(root["name"], f, "name");
  if (r.name.find('/') != std::string::npos || r.name == "." || r.name == "..")
    throw BadInput(where(f, root["name"]), ": 'name' is used as a folder name; got '", r.name, "'");

  const YAML::Node& m = root["model"];
  if (!m.IsMap() || m.size() != 1)
    throw BadInput(where(f, m), ": 'model' must be a map with exactly one of zoo, file, onnx, got ", scalar_text(m));
  check_known(m, kModelKeys, f, " in 'model'");
  r.model_kind = m.begin()->first.Scalar();
  r.model_value = read_string(m.begin()->second, f, "model." + r.model_kind);

  r.dataset = "fashion-mnist";
  r.data_dir.clear();
  r.calibration = 2000;
  r.val_limit = r.test_limit = -1;
  if (root["data"]) {
    const YAML::Node& d = root["data"];
    if (!d.IsMap()) throw BadInput(where(f, d), ": 'data' must be a map, got ", scalar_text(d));
    check_known(d, kDataKeys, f, " in 'data'");
    if (d["dataset"]) r.dataset = read_string(d["dataset"], f, "data.dataset");
    if (d["data_dir"]) r.data_dir = read_string(d["data_dir"], f, "data.data_dir");
    if (d["calibration"]) r.calibration = read_int(d["calibration"], f, "data.calibration", 1);
    if (d["val_limit"]) r.val_limit = read_int(d["val_limit"], f, "data.val_limit", -1);
    if (d["test_limit"]) r.test_limit = read_int(d["test_limit"], f, "data.test_limit", -1);
    if (r.val_limit == 0 || r.test_limit == 0)
      throw BadInput(where(f, d), ": 'data.val_limit' and 'data.test_limit' must be -1 (all) or >= 1");
  }
  r.seed = root["seed"] ? static_cast<uint64_t>(read_int(root["seed"], f, "seed", 0)) : 1;
  r.threads = root["threads"] ? static_cast<int>(read_int(root["threads"], f, "threads", 0)) : 0;

  const YAML::Node& st = root["stages"];
  if (!st.IsSequence())
    throw BadInput(where(f, st), ": 'stages' must be a list of {stage: {options}}, got ", scalar_text(st));
  r.stages.clear();
  for (const auto& item : st) {
    if (!item.IsMap() || item.size() != 1)
      throw BadInput(where(f, item), ": a stage must be a map with one key, the stage name (",
                     join(stage_names()), "), got ", scalar_text(item));
    // Copies (a YAML::Node is a handle): begin() returns an iterator whose pair dies with it.
    const YAML::Node key = item.begin()->first;
    const YAML::Node opts = item.begin()->second;
    std::string name = key.Scalar();
    const StageSpec* spec = find_stage(name);
    if (!spec) throw BadInput(where(f, key), ": unknown stage '", name, "' (known: ", join(stage_names()), ")");
    if (!opts.IsNull() && !opts.IsMap())
      throw BadInput(where(f, opts), ": the options of stage '", name, "' must be a map, got ", scalar_text(opts));
    if (opts.IsMap()) {
      for (auto it = opts.begin(); it != opts.end(); ++it) {
        std::string k = it->first.Scalar();
        const OptionSpec* o = find_option(spec->options, k);
        if (!o)
          throw BadInput(where(f, it->first), ": unknown key '", k, "' in stage '", name, "' (known: ",
                         join(option_names(spec->options)), ")");
        check_value(it->second, *o, f, name, k);
      }
    }
    Recipe::Stage s{name, opts};
    if (spec->check) spec->check(StageArgs(opts, f, name));
    r.stages.push_back(std::move(s));
  }
}

}  // namespace

const char* opt_type_name(OptType t) {
  switch (t) {
    case OptType::Int: return "int";
    case OptType::Float: return "float";
    case OptType::Bool: return "bool";
    case OptType::String: return "string";
    case OptType::StringList: return "list of strings";
    case OptType::Map: return "map";
  }
  return "?";
}

std::string where(const std::string& file, const YAML::Node& node) {
  YAML::Mark m = node.Mark();
  if (m.is_null() || m.line < 0) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

// ---- StageArgs ----------------------------------------------------------------------------

StageArgs::StageArgs(YAML::Node node, std::string file, std::string stage)
    : node_(std::move(node)), file_(std::move(file)), stage_(std::move(stage)) {}

bool StageArgs::has(const std::string& key) const {
  if (!node_.IsMap()) return false;
  const YAML::Node& n = node_;
  YAML::Node v = n[key];
  return v.IsDefined() && !v.IsNull();
}

int64_t StageArgs::get_int(const std::string& key, int64_t dflt) const {
  if (!has(key)) return dflt;
  const YAML::Node& n = node_;
  try {
    return n[key].as<int64_t>();
  } catch (const YAML::Exception&) {
    fail(key, "must be an int, got " + scalar_text(n[key]));
  }
}
double StageArgs::get_float(const std::string& key, double dflt) const {
  if (!has(key)) return dflt;
  const YAML::Node& n = node_;
  try {
    return n[key].as<double>();
  } catch (const YAML::Exception&) {
    fail(key, "must be a float, got " + scalar_text(n[key]));
  }
}
bool StageArgs::get_bool(const std::string& key, bool dflt) const {
  if (!has(key)) return dflt;
  const YAML::Node& n = node_;
  try {
    return n[key].as<bool>();
  } catch (const YAML::Exception&) {
    fail(key, "must be a bool, got " + scalar_text(n[key]));
  }
}
std::string StageArgs::get_string(const std::string& key, const std::string& dflt) const {
  if (!has(key)) return dflt;
  const YAML::Node& n = node_;
  if (!n[key].IsScalar()) fail(key, "must be a string, got " + scalar_text(n[key]));
  return n[key].Scalar();
}
std::vector<std::string> StageArgs::get_list(const std::string& key, const std::vector<std::string>& dflt) const {
  if (!has(key)) return dflt;
  const YAML::Node& n = node_;
  if (!n[key].IsSequence()) fail(key, "must be a list of strings, got " + scalar_text(n[key]));
  std::vector<std::string> v;
  for (const auto& e : n[key]) v.push_back(e.Scalar());
  return v;
}
StageArgs StageArgs::sub(const std::string& key) const {
  if (!has(key)) return StageArgs(YAML::Node(), file_, stage_ + "." + key);
  const YAML::Node& n = node_;
  return StageArgs(n[key], file_, stage_ + "." + key);
}
void StageArgs::fail(const std::string& key, const std::string& message) const {
  // Not `YAML::Node at = node_; at = node_[key];`: assigning to a Node that shares another's
  // data rebinds that data (yaml-cpp's set_ref), which turned the stage's options into the value.
  const YAML::Node& n = node_;
  const std::string at = has(key) ? where(file_, n[key]) : where(file_, n);
  throw BadInput(at, ": stage '", stage_, "': '", key, "' ", message);
}

// ---- training options ---------------------------------------------------------------------

// ---- recipe -----------------------------------------------------------------------------

std::string Recipe::resolve(const std::string& p) const {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(base_dir) / p).lexically_normal().string();
}

Recipe parse_recipe(const std::string& text, const std::string& path) {
  check_utf8(text, path);
  Recipe r;
  r.path = path;
  r.base_dir = fs::path(path).parent_path().string();
  if (r.base_dir.empty()) r.base_dir = ".";
  try {
    r.root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw BadInput(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": invalid YAML: ", e.msg);
  }
  interpret(r);
  return r;
}

Recipe load_recipe(const std::string& path) {
  if (!fs::exists(path)) throw BadInput(path, ": no such recipe file");
  if (fs::is_directory(path)) throw BadInput(path, ": is a folder, expected a recipe .yaml file");
  return parse_recipe(ir::read_file(path), path);
}

void apply_override(Recipe& r, const std::string& assignment) {
  const std::string ctx = "--set " + assignment;
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw BadInput(ctx, ": expected KEY=VALUE, e.g. train.epochs=1");
  std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  std::vector<std::string> path;
  {
    std::stringstream ss(key);
    std::string part;
    while (std::getline(ss, part, '.')) path.push_back(part);
  }
  for (const auto& p : path)
    if (p.empty()) throw BadInput(ctx, ": empty key part in '", key, "'");
  if (const size_t at = invalid_utf8_at(assignment); at != std::string::npos)  // not echoed: not text
    throw BadInput("--set: not UTF-8 text (byte ", at, ")");
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw BadInput(ctx, ": the value is not valid YAML: ", e.msg);
  }
  YAML::Node& root = r.root;
  const std::string& top = path[0];
  bool is_index = std::all_of(top.begin(), top.end(), [](char c) { return c >= '0' && c <= '9'; });

  if (top == "name" || top == "seed" || top == "threads") {
    if (path.size() != 1) throw BadInput(ctx, ": '", top, "' has no sub-keys");
    root[top] = value;
  } else if (top == "model") {
    if (path.size() != 2 || std::find(kModelKeys.begin(), kModelKeys.end(), path[1]) == kModelKeys.end())
      throw BadInput(ctx, ": expected model.zoo, model.file or model.onnx");
    YAML::Node m(YAML::NodeType::Map);
    m[path[1]] = value;
    root["model"] = m;
  } else if (top == "data") {
    if (path.size() != 2 || std::find(kDataKeys.begin(), kDataKeys.end(), path[1]) == kDataKeys.end())
      throw BadInput(ctx, ": unknown key '", key, "' (known: data.", join(kDataKeys, ", data."), ")");
    if (!root["data"] || !root["data"].IsMap()) root["data"] = YAML::Node(YAML::NodeType::Map);
    root["data"][path[1]] = value;
  } else if (find_stage(top) || is_index) {
    // Targets: every stage of that name, or the N-th stage (1-based).
    std::vector<size_t> targets;
    for (size_t i = 0; i < r.stages.size(); ++i)
      if (is_index ? std::to_string(i + 1) == top : r.stages[i].name == top) targets.push_back(i);
    if (targets.empty()) {
      std::vector<std::string> names;
      for (const auto& s : r.stages) names.push_back(s.name);
      throw BadInput(ctx, ": the recipe has no stage '", top, "' (its stages: ", join(names), ")");
    }
    if (path.size() < 2 || path.size() > 3)
      throw BadInput(ctx, ": expected STAGE.KEY=VALUE or STAGE.MAP.KEY=VALUE");
    for (size_t i : targets) {
      const std::string& sname = r.stages[i].name;
      const StageSpec* spec = find_stage(sname);
      const OptionSpec* o = find_option(spec->options, path[1]);
      if (!o)
        throw BadInput(ctx, ": unknown key '", path[1], "' in stage '", sname, "' (known: ",
                       join(option_names(spec->options)), ")");
      const OptionSpec* leaf = o;
      if (path.size() == 3) {
        if (o->type != OptType::Map) throw BadInput(ctx, ": '", path[1], "' of stage '", sname, "' has no sub-keys");
        leaf = find_option(o->fields, path[2]);
        if (!leaf)
          throw BadInput(ctx, ": unknown key '", path[2], "' in '", sname, ".", path[1], "' (known: ",
                         join(option_names(o->fields)), ")");
      }
      check_value(value, *leaf, r.path, sname, key.substr(top.size() + 1), ctx);
      YAML::Node item = root["stages"][i];
      if (!item[sname].IsMap()) item[sname] = YAML::Node(YAML::NodeType::Map);
      if (path.size() == 2) {
        item[sname][path[1]] = value;
      } else {
        if (!item[sname][path[1]].IsMap()) item[sname][path[1]] = YAML::Node(YAML::NodeType::Map);
        item[sname][path[1]][path[2]] = value;
      }
    }
  } else {
    throw BadInput(ctx, ": unknown key '", top, "' (top-level keys: name, seed, threads, model.*, data.*; "
                   "stages: ", join(stage_names()), ", or a stage number)");
  }
  try {
    interpret(r);
  } catch (const Error& e) {
    throw BadInput(ctx, ": ", e.what());
  }
}

// ---- registry -----------------------------------------------------------------------------

void register_stage(StageSpec spec) {
  Registry& reg = registry();
  if (spec.name.empty() || !spec.run) throw InternalError("register_stage: a stage needs a name and a run function");
  for (const auto& s : reg.stages)
    if (s.name == spec.name) throw InternalError("register_stage: stage '", spec.name, "' is already registered");
  reg.stages.push_back(std::move(spec));
}

const StageSpec* find_stage(const std::string& name) {
  for (const auto& s : registry().stages)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<const StageSpec*> registered_stages() {
  std::vector<const StageSpec*> v;
  for (const auto& s : registry().stages) v.push_back(&s);
  return v;
}

namespace {
nlohmann::json options_to_json(const std::vector<OptionSpec>& opts) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& o : opts) {
    nlohmann::json j = {{"name", o.name}, {"type", opt_type_name(o.type)}, {"default", o.default_value}, {"doc", o.doc}};
    if (!o.fields.empty()) j["fields"] = options_to_json(o.fields);
    a.push_back(j);
  }
  return a;
}
void options_to_text(std::ostream& os, const std::vector<OptionSpec>& opts, const std::string& prefix) {
  for (const auto& o : opts) {
    std::string head = "  " + prefix + o.name + " (" + opt_type_name(o.type) + ", default " + o.default_value + ")";
    os << head << ": " << o.doc << "\n";
    options_to_text(os, o.fields, prefix + o.name + ".");
  }
}
}  // namespace

nlohmann::json registry_to_json() {
  nlohmann::json a = nlohmann::json::array();
  for (const auto* s : registered_stages())
    a.push_back({{"name", s->name}, {"description", s->description}, {"options", options_to_json(s->options)}});
  return a;
}

std::string registry_to_text() {
  std::ostringstream os;
  for (const auto* s : registered_stages()) {
    os << s->name << ": " << s->description << "\n";
    options_to_text(os, s->options, "");
    os << "\n";
  }
  return os.str();
}

nlohmann::json yaml_to_json(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return nullptr;
  if (n.IsSequence()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& e : n) a.push_back(yaml_to_json(e));
    return a;
  }
  if (n.IsMap()) {
    nlohmann::json o = nlohmann::json::object();
    for (auto it = n.begin(); it != n.end(); ++it) o[it->first.Scalar()] = yaml_to_json(it->second);
    return o;
  }
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted: a string
  if (is_int(n)) return n.as<int64_t>();
  if (s == "true" || s == "false") return s == "true";
  if (is_float(n)) return n.as<double>();
  return s;
}

}  // namespace shrink::recipe
