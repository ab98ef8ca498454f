// The recipe parser (compress/recipe_spec.cc) on its own, against a stage registry of this test:
// what a valid recipe reads as, every refusal naming file:line:col, the hostile-YAML caps, --set
// overrides and the registry. No LibTorch, so scripts/sanitize.sh runs it under ASan + UBSan.
// tests/cli/run_test.cc checks the same parser through `shrink run` with the real stages.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "compress/ir/error.h"
#include "compress/recipe_spec.h"

namespace recipe = shrink::recipe;
namespace fs = std::filesystem;
using recipe::OptType;

// The engine (recipe.cc) registers the real stages; this test registers its own, one option of
// every type, a map with fields, and a value check (prune.sparsity in [0, 1)).
namespace {
recipe::OptionSpec opt(const char* name, OptType type, const char* dflt, const char* doc,
                       std::vector<recipe::OptionSpec> fields = {}) {
  return {name, type, dflt, doc, std::move(fields)};
}
recipe::StageSpec stage(const char* name, const char* description, std::vector<recipe::OptionSpec> options,
                        bool changes_model = true) {
  recipe::StageSpec s;
  s.name = name;
  s.description = description;
  s.options = std::move(options);
  s.changes_model = changes_model;
  s.run = [](recipe::StageContext&, const recipe::StageArgs&) {};
  return s;
}
}  // namespace

void shrink::recipe::register_builtin_stages() {
  const std::vector<recipe::OptionSpec> train = {opt("epochs", OptType::Int, "2", "passes"),
                                                 opt("lr", OptType::Float, "1e-3", "step"),
                                                 opt("optimizer", OptType::String, "adam", "name"),
                                                 opt("nesterov", OptType::Bool, "false", "momentum")};
  recipe::register_stage(stage("train", "trains", train));
  recipe::StageSpec prune = stage("prune", "prunes",
                                  {opt("sparsity", OptType::Float, "0.5", "share of zeros"),
                                   opt("layers", OptType::StringList, "(all)", "which"),
                                   opt("finetune", OptType::Map, "(none)", "after", train)});
  prune.check = [](const recipe::StageArgs& a) {
    const double s = a.get_float("sparsity", 0.5);
    if (!(s >= 0 && s < 1)) a.fail("sparsity", "must be in [0, 1)");
  };
  recipe::register_stage(prune);
  recipe::register_stage(stage("eval", "measures", {opt("split", OptType::String, "val", "split")}, false));
  recipe::register_stage(stage("export", "writes",
                               {opt("formats", OptType::StringList, "[shr]", "formats"),
                                opt("entropy", OptType::Bool, "true", "huffman")},
                               false));
}

namespace {

const char* kGood = R"(name: demo
model: {zoo: lenet5}
data: {calibration: 500, val_limit: 1000}
seed: 7
threads: 2
stages:
  - train: {epochs: 3, lr: 0.01, nesterov: true}
  - prune:
      sparsity: 0.75
      layers: [fc1, fc2]
      finetune: {epochs: 1}
  - eval: {split: test}
  - export:
)";

// The BadInput message of parsing `text` as "r.yaml" ("" when it parses).
std::string refusal(const std::string& text) {
  try {
    recipe::parse_recipe(text, "r.yaml");
  } catch (const shrink::BadInput& e) {
    return e.what();
  }
  return "";
}

std::string override_refusal(recipe::Recipe r, const std::string& assignment) {
  try {
    recipe::apply_override(r, assignment);
  } catch (const shrink::BadInput& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_STARTS(s, prefix) EXPECT_EQ((s).rfind(prefix, 0), 0u) << (s)
#define EXPECT_HAS(s, part) EXPECT_NE((s).find(part), std::string::npos) << (s)

TEST(RecipeSpec, ValidRecipeReadsEveryField) {
  recipe::Recipe r = recipe::parse_recipe(kGood, "dir/sub/r.yaml");
  EXPECT_EQ(r.name, "demo");
  EXPECT_EQ(r.model_kind, "zoo");
  EXPECT_EQ(r.model_value, "lenet5");
  EXPECT_EQ(r.dataset, "fashion-mnist");
  EXPECT_EQ(r.calibration, 500);
  EXPECT_EQ(r.val_limit, 1000);
  EXPECT_EQ(r.test_limit, -1);
  EXPECT_EQ(r.seed, 7u);
  EXPECT_EQ(r.threads, 2);
  EXPECT_EQ(r.base_dir, "dir/sub");
  EXPECT_EQ(r.resolve("w.h5"), "dir/sub/w.h5");
  EXPECT_EQ(r.resolve("../w.h5"), "dir/w.h5");
  EXPECT_EQ(r.resolve("/abs/w.h5"), "/abs/w.h5");
  ASSERT_EQ(r.stages.size(), 4u);
  EXPECT_EQ(r.stages[0].name, "train");
  EXPECT_EQ(r.stages[3].name, "export");
  EXPECT_TRUE(r.stages[3].options.IsNull());  // "- export:" with nothing: defaults

  recipe::StageArgs train(r.stages[0].options, r.path, "train");
  EXPECT_EQ(train.get_int("epochs", 2), 3);
  EXPECT_DOUBLE_EQ(train.get_float("lr", 1e-3), 0.01);
  EXPECT_TRUE(train.get_bool("nesterov", false));
  EXPECT_EQ(train.get_string("optimizer", "adam"), "adam");  // absent: the default
  EXPECT_FALSE(train.has("optimizer"));
  recipe::StageArgs prune(r.stages[1].options, r.path, "prune");
  EXPECT_EQ(prune.get_list("layers", {}), (std::vector<std::string>{"fc1", "fc2"}));
  EXPECT_EQ(prune.sub("finetune").get_int("epochs", 9), 1);
  EXPECT_DOUBLE_EQ(prune.sub("finetune").get_float("lr", 0.5), 0.5);
  EXPECT_EQ(prune.sub("absent").get_int("epochs", 4), 4);
  recipe::StageArgs exp(r.stages[3].options, r.path, "export");
  EXPECT_TRUE(exp.get_bool("entropy", true));
  EXPECT_FALSE(exp.has("formats"));

  // Defaults of an absent data map and seed; a file with no folder resolves against ".".
  recipe::Recipe m = recipe::parse_recipe("name: m\nmodel: {onnx: net.onnx}\nstages: []\n", "r.yaml");
  EXPECT_EQ(m.model_kind, "onnx");
  EXPECT_EQ(m.calibration, 2000);
  EXPECT_EQ(m.seed, 1u);
  EXPECT_EQ(m.threads, 0);
  EXPECT_EQ(m.base_dir, ".");
  EXPECT_TRUE(m.stages.empty());
}

TEST(RecipeSpec, StageArgsFailNamesTheValuesPosition) {
  recipe::Recipe r = recipe::parse_recipe(kGood, "r.yaml");
  recipe::StageArgs train(r.stages[0].options, r.path, "train");
  try {
    train.fail("lr", "must be small");
    FAIL() << "fail() returned";
  } catch (const shrink::BadInput& e) {
    EXPECT_EQ(std::string(e.what()), "r.yaml:7:28: stage 'train': 'lr' must be small");
  }
  // A string option read as an int is a BadInput at the value, not a yaml-cpp exception.
  recipe::Recipe s = recipe::parse_recipe("name: s\nmodel: {zoo: x}\nstages:\n  - train: {optimizer: sgd}\n", "s.yaml");
  recipe::StageArgs a(s.stages[0].options, s.path, "train");
  EXPECT_THROW(a.get_int("optimizer", 0), shrink::BadInput);
  EXPECT_THROW(a.get_bool("optimizer", false), shrink::BadInput);
  EXPECT_THROW(a.get_list("optimizer", {}), shrink::BadInput);
  // A failure leaves the recipe as it was (fail() once rebound the options node to the value).
  EXPECT_TRUE(s.stages[0].options.IsMap());
  EXPECT_EQ(a.get_string("optimizer", ""), "sgd");
  EXPECT_EQ(recipe::yaml_to_json(s.root)["stages"][0]["train"]["optimizer"], "sgd");
}

TEST(RecipeSpec, UnknownKeysAndStagesNameLineAndColumn) {
  EXPECT_STARTS(refusal("name: a\nmodel: {zoo: x}\nstages:\n  - train:\n      epoch: 1\n"),
                "r.yaml:5:7: unknown key 'epoch' in stage 'train' (known: epochs, lr, optimizer, nesterov)");
  EXPECT_STARTS(refusal("name: a\nmodels: {zoo: x}\nstages: []\n"), "r.yaml:2:1: unknown key 'models' (known: name,");
  EXPECT_STARTS(refusal("name: a\nmodel: {zoo: x}\nstages:\n  - quantise: {}\n"),
                "r.yaml:4:5: unknown stage 'quantise' (known: train, prune, eval, export)");
  EXPECT_STARTS(refusal("name: a\nmodel: {zoo: x}\nstages:\n  - prune: {finetune: {epoch: 1}}\n"),
                "r.yaml:4:24: unknown key 'epoch' in 'finetune' of stage 'prune'");
  EXPECT_STARTS(refusal("name: a\nmodel: {zoo: x}\ndata: {val: 3}\nstages: []\n"), "r.yaml:3:8: unknown key 'val' in 'data'");
  EXPECT_STARTS(refusal("name: a\nmodel: {hub: x}\nstages: []\n"), "r.yaml:2:9: unknown key 'hub' in 'model'");
}

TEST(RecipeSpec, WrongTypesAndValuesAreRefused) {
  const std::string head = "name: a\nmodel: {zoo: x}\nstages:\n";
  EXPECT_STARTS(refusal(head + "  - train: {epochs: two}\n"),
                "r.yaml:4:21: stage 'train': 'epochs' must be an int, got 'two'");
  EXPECT_HAS(refusal(head + "  - train: {lr: [1]}\n"), "'lr' must be a float, got a list");
  EXPECT_HAS(refusal(head + "  - train: {nesterov: maybe}\n"), "'nesterov' must be a bool, got 'maybe'");
  EXPECT_HAS(refusal(head + "  - export: {formats: shr}\n"), "'formats' must be a list of strings, got 'shr'");
  EXPECT_HAS(refusal(head + "  - export: {formats: [[shr]]}\n"), "must be a list of strings, got a list");
  EXPECT_HAS(refusal(head + "  - prune: {finetune: 3}\n"), "'finetune' must be a map, got '3'");
  EXPECT_HAS(refusal(head + "  - prune: {finetune: {lr: x}}\n"), "'finetune.lr' must be a float, got 'x'");
  EXPECT_HAS(refusal(head + "  - train: 3\n"), "the options of stage 'train' must be a map, got '3'");
  EXPECT_HAS(refusal(head + "  - {train: {}, eval: {}}\n"), "a stage must be a map with one key");
  // The stage's own check (a range) runs at load.
  EXPECT_STARTS(refusal(head + "  - prune: {sparsity: 1.5}\n"), "r.yaml:4:23: stage 'prune': 'sparsity' must be in [0, 1)");
  // Top level.
  EXPECT_STARTS(refusal("name: a\nmodel: {zoo: x}\nseed: [1]\nstages: []\n"), "r.yaml:3:7: 'seed' must be an int, got a list");
  EXPECT_HAS(refusal("name: a\nmodel: {zoo: x}\nseed: -1\nstages: []\n"), "'seed' must be >= 0, got -1");
  EXPECT_HAS(refusal("name: a\nmodel: {zoo: x}\ndata: {val_limit: 0}\nstages: []\n"), "must be -1 (all) or >= 1");
  EXPECT_HAS(refusal("name: a\nmodel: {zoo: x}\ndata: {calibration: 0}\nstages: []\n"), "'data.calibration' must be >= 1");
  EXPECT_HAS(refusal("name: a/b\nmodel: {zoo: x}\nstages: []\n"), "'name' is used as a folder name");
  EXPECT_HAS(refusal("name: ..\nmodel: {zoo: x}\nstages: []\n"), "'name' is used as a folder name");
  EXPECT_HAS(refusal("name: ''\nmodel: {zoo: x}\nstages: []\n"), "'name' must be a non-empty string");
  EXPECT_HAS(refusal("name: a\nmodel: {zoo: x, file: y}\nstages: []\n"), "exactly one of zoo, file, onnx");
  EXPECT_HAS(refusal("name: a\nmodel: {zoo: x}\nstages: {train: {}}\n"), "'stages' must be a list");
  EXPECT_EQ(refusal("name: a\nmodel: {zoo: x}\n"), "r.yaml: missing key 'stages' (a recipe needs name, model and stages)");
  EXPECT_STARTS(refusal("- a\n- b\n"), "r.yaml: expected a YAML map with the keys name,");
  EXPECT_STARTS(refusal(""), "r.yaml: expected a YAML map");
  EXPECT_STARTS(refusal("name: a\nmodel: {zoo: x}\nstages:\n  - train: {epochs: 1\n"), "r.yaml:5:1: invalid YAML:");
}

TEST(RecipeSpec, HostileYamlIsRefusedNamingWhere) {
  EXPECT_EQ(refusal("name: caf\xe9\nmodel: {zoo: x}\nstages: []\n"), "r.yaml:1:10: not UTF-8 text (byte 9)");
  EXPECT_HAS(refusal("name: ok\nmodel: {zoo: \xed\xa0\x80}\nstages: []\n"), "r.yaml:2:14: not UTF-8 text (byte 22)");  // a surrogate
  EXPECT_HAS(refusal("name: ok\nmodel: {zoo: \xc0\xaf}\nstages: []\n"), "not UTF-8 text");  // overlong '/'
  EXPECT_HAS(refusal("name: \"x\\uD800\"\nmodel: {zoo: x}\nstages: []\n"), "r.yaml:1:15: invalid YAML: invalid unicode");
  // YAML's escape "\xe9" is the code point U+00E9: it reads as UTF-8 text.
  EXPECT_EQ(recipe::parse_recipe("name: \"caf\\xe9\"\nmodel: {zoo: x}\nstages: []\n", "r.yaml").name, "caf\xc3\xa9");
  std::string laughs = "name: lol\nmodel: {zoo: x}\nstages: []\n";
  laughs = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n" + laughs;
  for (int i = 1; i <= 8; ++i) {  // 10^9 scalars once the aliases are expanded
    laughs += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) laughs += (k ? ", *l" : "*l") + std::to_string(i - 1);
    laughs += "]\n";
  }
  EXPECT_EQ(refusal(laughs), "r.yaml: the document has more than 100000 nodes (aliases expanded)");
  const std::string head = "name: a\nmodel: {zoo: x}\nstages:\n";
  EXPECT_HAS(refusal(head + "  - export: {formats: " + std::string(100, '[') + std::string(100, ']') + "}\n"),
             "the document nests deeper than 64 levels");
  // 60 levels are fine for the nesting cap; the option's type check refuses them.
  EXPECT_HAS(refusal(head + "  - export: {formats: " + std::string(60, '[') + std::string(60, ']') + "}\n"),
             "'formats' must be a list of strings, got a list");
  // A complex (non-scalar) key in an option map is an unknown key, not a yaml-cpp exception.
  EXPECT_STARTS(refusal(head + "  - prune: {finetune: {? [a]: 1}}\n"), "r.yaml:4:");
  EXPECT_HAS(refusal(head + "  - prune: {finetune: {? [a]: 1}}\n"), "unknown key '' in 'finetune' of stage 'prune'");
  EXPECT_HAS(refusal(head + "  - ? [train]\n    : {}\n"), "unknown stage ''");
  EXPECT_HAS(refusal("? [name]\n: a\nmodel: {zoo: x}\nstages: []\n"), "unknown key ''");
}

// Every prefix and 2,000 single-byte changes of a valid recipe: each parses or is a BadInput with
// a message; never another exception (and under ASan, no memory error).
TEST(RecipeSpec, TruncatedAndMutatedRecipesParseOrAreBadInput) {
  const std::string good = kGood;
  int parsed = 0, refused = 0;
  auto one = [&](const std::string& text) {
    try {
      recipe::Recipe r = recipe::parse_recipe(text, "m.yaml");
      (void)recipe::yaml_to_json(r.root).dump();
      ++parsed;
    } catch (const shrink::BadInput& e) {
      EXPECT_EQ(std::string(e.what()).rfind("m.yaml", 0), 0u) << e.what();
      ++refused;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a BadInput: " << e.what() << "\n--- input:\n" << text;
    }
  };
  for (size_t n = 0; n <= good.size(); ++n) one(good.substr(0, n));
  std::mt19937 rng(9);
  const std::string alphabet = "{}[]:,-?&*!|>'\"#%@` \n\t0123456789abcxyz.\xff\x80";
  for (int i = 0; i < 2000; ++i) {
    std::string t = good;
    t[rng() % t.size()] = alphabet[rng() % alphabet.size()];
    one(t);
  }
  // Both outcomes occur: the loop exercised the parser, not only its first check.
  EXPECT_GT(parsed, 100);
  EXPECT_GT(refused, 500);
}

TEST(RecipeSpec, OverridesSetValuesAndAreRevalidated) {
  recipe::Recipe r = recipe::parse_recipe(kGood, "r.yaml");
  recipe::apply_override(r, "train.epochs=9");
  recipe::apply_override(r, "prune.finetune.lr=0.5");
  recipe::apply_override(r, "4.entropy=false");  // the 4th stage, export (which had no options)
  recipe::apply_override(r, "seed=3");
  recipe::apply_override(r, "data.test_limit=100");
  recipe::apply_override(r, "model.file=w.h5");
  recipe::apply_override(r, "name=renamed");
  EXPECT_EQ(recipe::StageArgs(r.stages[0].options, r.path, "train").get_int("epochs", 0), 9);
  EXPECT_DOUBLE_EQ(recipe::StageArgs(r.stages[1].options, r.path, "prune").sub("finetune").get_float("lr", 0), 0.5);
  EXPECT_EQ(recipe::StageArgs(r.stages[1].options, r.path, "prune").sub("finetune").get_int("epochs", 0), 1);
  EXPECT_FALSE(recipe::StageArgs(r.stages[3].options, r.path, "export").get_bool("entropy", true));
  EXPECT_EQ(r.seed, 3u);
  EXPECT_EQ(r.test_limit, 100);
  EXPECT_EQ(r.model_kind, "file");
  EXPECT_EQ(r.model_value, "w.h5");
  EXPECT_EQ(r.name, "renamed");
  EXPECT_EQ(recipe::yaml_to_json(r.root)["stages"][0]["train"]["epochs"], 9);

  EXPECT_STARTS(override_refusal(r, "train.epochs=two"), "--set train.epochs=two: stage 'train': 'epochs' must be an int");
  EXPECT_STARTS(override_refusal(r, "train.epoch=1"), "--set train.epoch=1: unknown key 'epoch' in stage 'train'");
  EXPECT_HAS(override_refusal(r, "prune.finetune.momentum=1"), "unknown key 'momentum' in 'prune.finetune'");
  EXPECT_HAS(override_refusal(r, "train.lr.x=1"), "'lr' of stage 'train' has no sub-keys");
  EXPECT_HAS(override_refusal(r, "finetune.epochs=1"), "unknown key 'finetune' (top-level keys:");
  EXPECT_HAS(override_refusal(r, "9.epochs=1"), "the recipe has no stage '9' (its stages: train, prune, eval, export)");
  EXPECT_HAS(override_refusal(r, "epochs"), "expected KEY=VALUE");
  EXPECT_HAS(override_refusal(r, "=1"), "expected KEY=VALUE");
  EXPECT_HAS(override_refusal(r, "train..epochs=1"), "empty key part");
  EXPECT_HAS(override_refusal(r, "seed.x=1"), "'seed' has no sub-keys");
  EXPECT_HAS(override_refusal(r, "model.hub=x"), "expected model.zoo, model.file or model.onnx");
  EXPECT_HAS(override_refusal(r, "data.val=1"), "unknown key 'data.val'");
  EXPECT_HAS(override_refusal(r, "train.lr=[1"), "the value is not valid YAML");
  EXPECT_EQ(override_refusal(r, "name=caf\xe9"), "--set: not UTF-8 text (byte 8)");
  // Revalidation: the whole recipe is checked again, the stage's own check included.
  EXPECT_HAS(override_refusal(r, "prune.sparsity=2"), "'sparsity' must be in [0, 1)");
  EXPECT_HAS(override_refusal(r, "seed=-4"), "'seed' must be >= 0");
  EXPECT_HAS(override_refusal(r, "name=a/b"), "'name' is used as a folder name");
}

TEST(RecipeSpec, YamlToJsonKeepsTypes) {
  YAML::Node n = YAML::Load("{i: 3, f: 2.5, e: 1e-3, b: true, s: text, q: '7', l: [1, x], m: {k: null}}");
  nlohmann::json j = recipe::yaml_to_json(n);
  EXPECT_TRUE(j["i"].is_number_integer());
  EXPECT_EQ(j["i"], 3);
  EXPECT_TRUE(j["f"].is_number_float());
  EXPECT_DOUBLE_EQ(j["e"].get<double>(), 1e-3);
  EXPECT_EQ(j["b"], true);
  EXPECT_EQ(j["s"], "text");
  EXPECT_EQ(j["q"], "7");  // quoted: a string
  EXPECT_EQ(j["l"], nlohmann::json::parse(R"([1, "x"])"));
  EXPECT_TRUE(j["m"]["k"].is_null());
}

TEST(RecipeSpec, RegistryListsStagesAndRefusesDuplicates) {
  std::vector<std::string> names;
  for (const auto* s : recipe::registered_stages()) names.push_back(s->name);
  EXPECT_EQ(names, (std::vector<std::string>{"train", "prune", "eval", "export"}));
  nlohmann::json j = recipe::registry_to_json();
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[1]["options"][2]["name"], "finetune");
  EXPECT_EQ(j[1]["options"][2]["type"], "map");
  EXPECT_EQ(j[1]["options"][2]["fields"].size(), 4u);
  EXPECT_EQ(j[3]["options"][0]["type"], "list of strings");
  const std::string text = recipe::registry_to_text();
  EXPECT_HAS(text, "prune: prunes\n");
  EXPECT_HAS(text, "  finetune.lr (float, default 1e-3): step\n");
  EXPECT_THROW(recipe::register_stage(stage("train", "again", {})), shrink::InternalError);
  EXPECT_THROW(recipe::register_stage(stage("", "nameless", {})), shrink::InternalError);
  recipe::StageSpec norun = stage("norun", "no run", {});
  norun.run = nullptr;
  EXPECT_THROW(recipe::register_stage(norun), shrink::InternalError);
  EXPECT_EQ(recipe::find_stage("norun"), nullptr);
  EXPECT_EQ(recipe::find_stage("eval")->changes_model, false);
}

TEST(RecipeSpec, LoadRecipeReadsFilesAndRefusesMissingOnes) {
  const fs::path dir = fs::temp_directory_path() / ("recipe_spec_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path p = dir / "r.yaml";
  std::ofstream(p) << kGood;
  recipe::Recipe r = recipe::load_recipe(p.string());
  EXPECT_EQ(r.name, "demo");
  EXPECT_EQ(r.base_dir, dir.string());
  try {
    recipe::load_recipe((dir / "none.yaml").string());
    ADD_FAILURE() << "a missing recipe loaded";
  } catch (const shrink::BadInput& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "none.yaml").string() + ": no such recipe file");
  }
  EXPECT_THROW(recipe::load_recipe(dir.string()), shrink::BadInput);
  fs::remove_all(dir);
}

}  // namespace
