// libFuzzer target of the recipe parser (compress/recipe_spec.cc: YAML to a validated Recipe,
// --set overrides). Each input is a recipe's text; lines "#--set KEY=VALUE" in it (YAML comments)
// are also applied as overrides after it parsed, as `shrink run --set` does.
//
// The stage registry: the dump of a real build (`shrink run --list-stages --json`, the file named
// by $SHRINK_RECIPE_STAGES; scripts/fuzz.sh writes it when the shrink binary is built), else a
// small schema of its own that uses every option type. Only the stages' names and typed options
// come from the dump: their value checks (ranges, known names) live with the LibTorch side and are
// not fuzzed here.
//
// The parser must return a recipe or throw shrink::BadInput with a message naming where; anything
// else (another exception, a crash, a sanitizer report, a hang) is a finding.
//
//   build-fuzz/recipe_fuzzer CORPUS_DIR RECIPE_SEEDS   # fuzz (scripts/fuzz.sh)
//   build-fuzz/recipe_fuzzer FILE...                   # replay files
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "compress/ir/error.h"
#include "compress/recipe_spec.h"

namespace recipe = shrink::recipe;

namespace {

[[noreturn]] void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "recipe_fuzzer: %s: %s\n", what, detail.c_str());
  std::abort();
}

recipe::OptType type_of(const std::string& name) {
  using T = recipe::OptType;
  for (T t : {T::Int, T::Float, T::Bool, T::String, T::StringList, T::Map})
    if (name == recipe::opt_type_name(t)) return t;
  finding("stage dump", "unknown option type '" + name + "'");
}

std::vector<recipe::OptionSpec> options_from_json(const nlohmann::json& a) {
  std::vector<recipe::OptionSpec> out;
  for (const auto& o : a)
    out.push_back({o.at("name").get<std::string>(), type_of(o.at("type").get<std::string>()),
                   o.value("default", std::string()), o.value("doc", std::string()),
                   o.contains("fields") ? options_from_json(o["fields"]) : std::vector<recipe::OptionSpec>{}});
  return out;
}

// A schema of the fuzzer's own when no dump is given: every option type, a map with fields.
nlohmann::json own_schema() {
  auto opt = [](const char* n, const char* t) { return nlohmann::json{{"name", n}, {"type", t}}; };
  const nlohmann::json train = {opt("epochs", "int"), opt("lr", "float"), opt("optimizer", "string"),
                                opt("limit", "int")};
  return nlohmann::json::array(
      {{{"name", "train"}, {"options", train}},
       {{"name", "prune"},
        {"options",
         {opt("method", "string"), opt("sparsity", "float"), opt("global", "bool"),
          {{"name", "finetune"}, {"type", "map"}, {"fields", train}}}}},
       {{"name", "export"}, {"options", {opt("formats", "list of strings"), opt("entropy", "bool")}}},
       {{"name", "eval"}, {"options", {opt("split", "string")}}}});
}

}  // namespace

// The engine (recipe.cc) registers the real stages; the fuzzer registers the dumped ones.
void shrink::recipe::register_builtin_stages() {
  nlohmann::json stages = own_schema();
  if (const char* path = std::getenv("SHRINK_RECIPE_STAGES")) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    stages = nlohmann::json::parse(ss.str(), nullptr, false);
    if (!f || stages.is_discarded() || !stages.is_array()) finding("stage dump", std::string(path) + " is not a JSON list");
  }
  for (const auto& s : stages) {
    recipe::StageSpec spec;
    spec.name = s.at("name").get<std::string>();
    spec.options = options_from_json(s.at("options"));
    spec.run = [](recipe::StageContext&, const recipe::StageArgs&) {};
    recipe::register_stage(std::move(spec));
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> sets;
  {
    std::istringstream lines(text);
    for (std::string l; std::getline(lines, l);)
      if (l.rfind("#--set ", 0) == 0) sets.push_back(l.substr(7));
  }
  recipe::Recipe r;
  try {
    r = recipe::parse_recipe(text, "fuzz.yaml");
    for (const std::string& s : sets) recipe::apply_override(r, s);
  } catch (const shrink::BadInput& e) {
    if (std::string(e.what()).empty()) finding("BadInput without a message", "");
    return 0;
  } catch (const std::exception& e) {
    finding("not a BadInput", e.what());
  }
  // A recipe that parsed: its stages are registered ones, in the document's order.
  if (r.name.empty() || !r.root["stages"] || r.stages.size() != r.root["stages"].size())
    finding("accepted recipe", "name or stages do not match the document");
  for (size_t i = 0; i < r.stages.size(); ++i)
    if (!recipe::find_stage(r.stages[i].name)) finding("accepted recipe", "unknown stage " + r.stages[i].name);
  try {
    (void)recipe::yaml_to_json(r.root).dump();
  } catch (const std::exception& e) {
    finding("yaml_to_json of an accepted recipe", e.what());
  }
  return 0;
}
