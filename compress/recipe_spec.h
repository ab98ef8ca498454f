// The recipe's schema and parser, without LibTorch (recipe.h adds the stages and the engine):
// a YAML recipe validated against the registry of stages, --set overrides, the registry itself.
//
//   recipe::Recipe r = recipe::parse_recipe(yaml_text, "recipe.yaml");  // BadInput file:line:col
//   recipe::apply_override(r, "train.epochs=1");
//
// The registry starts with the built-in stages: register_builtin_stages() runs on its first use
// (defined by the engine, recipe.cc; the recipe fuzz target defines its own from a registry
// dump). Libraries add theirs with register_stage() before a recipe is parsed.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace shrink::recipe {

/// "a, b, c".
std::string join(const std::vector<std::string>& v, const char* sep = ", ");

/// Type of a stage option, checked when the recipe is loaded (before anything runs).
enum class OptType { Int, Float, Bool, String, StringList, Map };
const char* opt_type_name(OptType t);  ///< "int", "float", "bool", "string", "list of strings", "map"

struct OptionSpec {
  std::string name;
  OptType type = OptType::String;
  std::string default_value;        ///< as documented: "2", "1e-3", "cosine", "(none)"
  std::string doc;                  ///< one line
  std::vector<OptionSpec> fields;   ///< keys of a Map option
};

/// Where a YAML node came from, for messages: "recipe.yaml:7:5" (1-based line and column), or
/// "recipe.yaml (--set)" for a value given on the command line.
std::string where(const std::string& file, const YAML::Node& node);

/// A stage's options as written in the recipe, already checked against its OptionSpecs (keys
/// known, types right). Getters return the default when the key is absent.
class StageArgs {
 public:
  StageArgs(YAML::Node node, std::string file, std::string stage);
  bool has(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t dflt) const;
  double get_float(const std::string& key, double dflt) const;
  bool get_bool(const std::string& key, bool dflt) const;
  std::string get_string(const std::string& key, const std::string& dflt) const;
  std::vector<std::string> get_list(const std::string& key, const std::vector<std::string>& dflt) const;
  /// The options of a Map option (empty if absent).
  StageArgs sub(const std::string& key) const;
  /// BadInput "file:line:col: stage 'train': key: message" pointing at key's value.
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  const YAML::Node& node() const { return node_; }

 private:
  YAML::Node node_;
  std::string file_, stage_;
};

struct Recipe {
  std::string path;      ///< the file as given (used in messages)
  std::string base_dir;  ///< folder of the file; relative paths in the recipe resolve here
  std::string name;
  std::string model_kind;   ///< "zoo" | "file" | "onnx"
  std::string model_value;  ///< zoo name or path (as written)
  std::string dataset = "fashion-mnist";
  std::string data_dir;
  int64_t calibration = 2000;  ///< samples of val that calibrating stages use
  int64_t val_limit = -1;      ///< first N of val for per-stage accuracy (-1: all 5,000)
  int64_t test_limit = -1;     ///< first N of test for the final accuracy (-1: all 10,000)
  uint64_t seed = 1;
  int threads = 0;             ///< 0: all cores
  struct Stage {
    std::string name;
    YAML::Node options;  ///< a map (possibly empty)
  };
  std::vector<Stage> stages;
  YAML::Node root;  ///< the document, with --set overrides applied

  /// A relative path from the recipe resolved against base_dir.
  std::string resolve(const std::string& p) const;
};

/// Parses and validates; every error is a BadInput "file:line:col: ..." (exit 2).
Recipe load_recipe(const std::string& path);
Recipe parse_recipe(const std::string& yaml_text, const std::string& path);
/// Applies "stage.key=value" (every stage of that name), "stage.map.key=value",
/// "seed=3", "data.key=value", "model.zoo=NAME", "name=x"; the value is parsed as YAML.
/// Unknown stages and keys are BadInput naming the assignment; the recipe is re-validated.
void apply_override(Recipe& r, const std::string& assignment);

/// YAML to JSON (scalars become int, float, bool or string as they read).
nlohmann::json yaml_to_json(const YAML::Node& n);

struct StageContext;  // recipe.h

struct StageSpec {
  std::string name;
  std::string description;  ///< one line
  std::vector<OptionSpec> options;
  bool changes_model = true;   ///< false (eval, export): accuracy carries over if not measured
  bool sets_original = false;  ///< true (train): its output becomes `original`
  /// Optional value checks beyond types (ranges, known names), run when the recipe is
  /// validated, so --dry-run catches them; report with args.fail(key, message).
  std::function<void(const StageArgs&)> check;
  std::function<void(StageContext&, const StageArgs&)> run;
};

/// Registers a stage; throws InternalError on a duplicate name. The built-in stages (train,
/// finetune, eval, export) are registered on first use of the registry.
void register_stage(StageSpec spec);
const StageSpec* find_stage(const std::string& name);
std::vector<const StageSpec*> registered_stages();  ///< registration order
/// [{"name", "description", "options": [{"name", "type", "default", "doc", "fields"?}]}]
nlohmann::json registry_to_json();
/// The same as a human-readable text, one stage per paragraph.
std::string registry_to_text();
/// Registers the built-in stages (train, finetune, eval, export): called once, on the first use
/// of the registry. Defined by the engine (recipe.cc).
void register_builtin_stages();

}  // namespace shrink::recipe
