// shrink run: recipe validation (file:line:col messages), --set, --dry-run, and a tiny real run
// that writes stages/, report.json and report.html.
#include <algorithm>
#include <fstream>
#include <regex>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"
#include "tests/util/html_render.h"

namespace shrink::clitest {
namespace {

const char* const kTiny = R"(name: tiny
model: {zoo: lenet5}
data: {dataset: fashion-mnist, val_limit: 500, test_limit: 600}
seed: 1
stages:
  - train: {epochs: 1, limit: 1000}
  - finetune: {epochs: 1, limit: 300, distill: {teacher: original, temperature: 4}}
  - eval: {split: test}
  - export: {formats: [onnx]}
)";

TEST(CliRunRecipe, UnknownKeyNamesLineColumnAndKnownKeys) {
  TempDir t;
  write(t / "recipe.yaml", "name: bad\nmodel: {zoo: lenet5}\nstages:\n  - train:\n      epoch: 1\n");
  CmdResult r = run_shrink("run recipe.yaml --dry-run", t.path());
  expect_bad_input(r, "recipe.yaml:5:7: unknown key 'epoch' in stage 'train' (known: epochs,");
}

TEST(CliRunRecipe, WrongTypeNamesLineColumn) {
  TempDir t;
  write(t / "recipe.yaml", "name: bad\nmodel: {zoo: lenet5}\nstages:\n  - train: {epochs: two}\n");
  CmdResult r = run_shrink("run recipe.yaml --dry-run", t.path());
  expect_bad_input(r, "recipe.yaml:4:21:");
  EXPECT_NE(r.err.find("'epochs' must be an int, got 'two'"), std::string::npos) << r.err;

  write(t / "r2.yaml", "name: bad\nmodel: {zoo: lenet5}\nseed: [1]\nstages: []\n");
  expect_bad_input(run_shrink("run r2.yaml --dry-run", t.path()), "r2.yaml:3:7:");
  write(t / "r3.yaml", "name: bad\nmodel: {zoo: lenet5}\nstages:\n  - export: {formats: onnx}\n");
  expect_bad_input(run_shrink("run r3.yaml --dry-run", t.path()), "must be a list of strings");
}

// What the recipe fuzzer (fuzz/recipe_fuzzer.cc) guards: text that is not UTF-8 would reach
// report.json (a lone-surrogate escape is refused by yaml-cpp itself); aliases that expand exponentially and deep
// nesting would be walked. All exit 2 with one line, before anything runs.
TEST(CliRunRecipe, HostileYamlIsRefusedNamingWhere) {
  TempDir t;
  write(t / "a.yaml", "name: caf\xe9\nmodel: {zoo: lenet5}\nstages: []\n");  // Latin-1, not UTF-8
  expect_bad_input(run_shrink("run a.yaml --dry-run", t.path()), "a.yaml:1:10: not UTF-8 text (byte 9)");
  write(t / "b.yaml", "name: \"x\\uD800\"\nmodel: {zoo: lenet5}\nstages: []\n");  // a lone surrogate
  expect_bad_input(run_shrink("run b.yaml --dry-run", t.path()), "b.yaml:1:15: invalid YAML: invalid unicode");
  std::string laughs = "name: lol\nmodel: {zoo: lenet5}\nstages: []\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 8; ++i) {  // 10^9 scalars once the aliases are expanded
    laughs += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) laughs += (k ? ", *l" : "*l") + std::to_string(i - 1);
    laughs += "]\n";
  }
  write(t / "c.yaml", laughs);
  CmdResult c = run_shrink("run c.yaml --dry-run", t.path());
  expect_bad_input(c, "c.yaml: the document has more than 100000 nodes");
  write(t / "d.yaml", "name: deep\nmodel: {zoo: lenet5}\nstages:\n  - export: {formats: " + std::string(100, '[') +
                          std::string(100, ']') + "}\n");
  expect_bad_input(run_shrink("run d.yaml --dry-run", t.path()), "nests deeper than 64 levels");
  // A key that is not a scalar (a YAML complex key) inside an option map: unknown, not a crash.
  write(t / "f.yaml", "name: f\nmodel: {zoo: lenet5}\nstages:\n  - prune: {finetune: {? [a]: 1}}\n");
  CmdResult f = run_shrink("run f.yaml --dry-run", t.path());
  expect_bad_input(f, "unknown key '' in 'finetune' of stage 'prune'");
  EXPECT_EQ(f.err.rfind("shrink: f.yaml:4:", 0), 0u) << f.err;
  // A --set value is checked the same way.
  write(t / "e.yaml", "name: e\nmodel: {zoo: lenet5}\nstages:\n  - train: {epochs: 1}\n");
  expect_bad_input(run_shrink("run e.yaml --dry-run --set \"$(printf 'name=caf\\351')\"", t.path()),
                   "--set: not UTF-8 text (byte 8)");
}

TEST(CliRunRecipe, OtherRecipeErrors) {
  TempDir t;
  write(t / "a.yaml", "name: bad\nmodel: {zoo: lenet5}\nstages:\n  - quantise: {}\n");
  expect_bad_input(run_shrink("run a.yaml --dry-run", t.path()), "a.yaml:4:5: unknown stage 'quantise'");
  write(t / "b.yaml", "name: bad\nmodels: {zoo: lenet5}\nstages: []\n");
  expect_bad_input(run_shrink("run b.yaml --dry-run", t.path()), "b.yaml:2:1: unknown key 'models'");
  write(t / "c.yaml", "name: bad\nmodel: {zoo: lenet5}\nstages:\n  - train: {epochs: 1\n");
  expect_bad_input(run_shrink("run c.yaml --dry-run", t.path()), "c.yaml:");
  write(t / "d.yaml", "name: bad\nmodel: {zoo: lenet5}\nstages:\n  - finetune: {distill: {teacher: original, temp: 5}}\n");
  expect_bad_input(run_shrink("run d.yaml --dry-run", t.path()), "d.yaml:4:45: unknown key 'temp' in 'distill' of stage 'finetune' (known: teacher, temperature, T, alpha, lambda, features, feature_weight, attention, attention_weight)");
  write(t / "g.yaml", "name: bad\nmodel: {zoo: lenet5}\nstages:\n  - finetune: {distill: {T: 5, temperature: 4}}\n");
  expect_bad_input(run_shrink("run g.yaml --dry-run", t.path()), "'temperature' and 'T' are the same setting");
  write(t / "h.yaml", "name: bad\nmodel: {zoo: lenet5}\nstages:\n  - finetune: {distill: {features: [':x']}}\n");
  expect_bad_input(run_shrink("run h.yaml --dry-run", t.path()), "expected NODE or STUDENT:TEACHER");
  write(t / "e.yaml", "name: bad\nmodel: {zoo: lenet5}\nstages:\n  - train: {lr: -0.1}\n");
  expect_bad_input(run_shrink("run e.yaml --dry-run", t.path()), "e.yaml:4:17:");
  write(t / "f.yaml", "name: bad\nmodel: {file: missing.h5}\nstages: []\n");
  expect_bad_input(run_shrink("run f.yaml -o out", t.path()), "missing.h5");
}

TEST(CliRunRecipe, DryRunWritesNothingAndShowsOverrides) {
  TempDir t;
  write(t / "recipe.yaml", kTiny);
  CmdResult r = run_shrink("run recipe.yaml -o out --dry-run --set train.epochs=3 --set 'export.formats=[onnx,hdf5]'",
                           t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(t / "out"));
  EXPECT_FALSE(fs::exists(t / "runs"));
  EXPECT_NE(r.out.find("01-train"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epochs: 3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("limit: 1000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lr: 0.001 (default)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("formats: [onnx, hdf5]"), std::string::npos) << r.out;

  expect_bad_input(run_shrink("run recipe.yaml --dry-run --set train.epoch=1", t.path()), "unknown key 'epoch'");
  expect_bad_input(run_shrink("run recipe.yaml --dry-run --set prune.sparsity=0.5", t.path()), "prune");
  expect_bad_input(run_shrink("run recipe.yaml --dry-run --set train.epochs=two", t.path()), "epochs");
  expect_bad_input(run_shrink("run recipe.yaml --dry-run --set epochs", t.path()), "KEY=VALUE");
}

TEST(CliRunRecipe, ShippedRecipesValidate) {
  TempDir t;
  for (const char* name : {"default.yaml", "lenet5-train.yaml", "mobilenetv2-shunt.yaml"}) {
    CmdResult r = run_shrink(std::string("run '") + SHRINK_SOURCE_DIR + "/recipes/" + name + "' --dry-run", t.path());
    EXPECT_EQ(r.code, 0) << name << ": " << r.err;
  }
}

TEST(CliRunRecipe, TinyRunWritesStagesAndReports) {
  TempDir t;
  write(t / "recipe.yaml", kTiny);
  CmdResult r = run_shrink("run recipe.yaml -o out", t.path());
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  const fs::path out = t.path() / "out";
  EXPECT_TRUE(fs::exists(out / "stages" / "01-train" / "model.h5"));
  EXPECT_TRUE(fs::exists(out / "stages" / "02-finetune" / "model.h5"));
  EXPECT_TRUE(fs::exists(out / "stages" / "03-eval" / "model.h5"));
  EXPECT_TRUE(fs::exists(out / "stages" / "04-export" / "model.h5"));
  EXPECT_TRUE(fs::exists(out / "stages" / "04-export" / "model.onnx"));

  // stdout: one line per stage, then the final accuracy and the absolute report path.
  EXPECT_NE(r.out.find("[1/4] train"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[4/4] export"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("final: test accuracy"), std::string::npos) << r.out;
  const std::string html_path = fs::canonical(out / "report.html").string();
  EXPECT_NE(r.out.find("report: " + html_path + "\n"), std::string::npos) << r.out;

  nlohmann::json j = nlohmann::json::parse(slurp(out / "report.json"));
  ASSERT_EQ(j["stages"].size(), 4u);
  const char* names[] = {"train", "finetune", "eval", "export"};
  for (size_t i = 0; i < 4; ++i) {
    const auto& s = j["stages"][i];
    EXPECT_EQ(s["name"], names[i]);
    EXPECT_GE(s["seconds"].get<double>(), 0.0);
    double acc = s["accuracy"].get<double>();
    EXPECT_GE(acc, 0.0);
    EXPECT_LE(acc, 1.0);
    EXPECT_EQ(s["params"].get<int64_t>(), 431080);
    EXPECT_EQ(s["macs"].get<int64_t>(), 2293000);
    EXPECT_EQ(s["size_bytes"].get<int64_t>(),
              static_cast<int64_t>(fs::file_size(out / s["model_file"].get<std::string>())));
  }
  EXPECT_GT(j["stages"][0]["accuracy"].get<double>(), 0.5) << "1000 images, 1 epoch";
  EXPECT_EQ(j["stages"][0]["accuracy_split"], "val");
  EXPECT_EQ(j["stages"][0]["accuracy_n"], 500);
  EXPECT_EQ(j["stages"][1]["extra"]["teacher"], "original");
  EXPECT_EQ(j["stages"][1]["accuracy_split"], "val");
  EXPECT_NE(slurp(out / "stages" / "01-train" / "model.h5"), slurp(out / "stages" / "02-finetune" / "model.h5"))
      << "finetune changed nothing";
  EXPECT_EQ(j["stages"][2]["accuracy_split"], "test");
  EXPECT_EQ(j["stages"][2]["accuracy_n"], 600);
  EXPECT_EQ(j["stages"][3]["files"][0], "stages/04-export/model.onnx");
  EXPECT_EQ(j["recipe"]["stages"][0]["train"]["limit"], 1000);
  const auto& fin = j["final"];
  EXPECT_EQ(fin["test_n"], 600);
  // The eval stage measured the same model on the same 600 test images.
  EXPECT_DOUBLE_EQ(fin["test_accuracy"].get<double>(), j["stages"][2]["accuracy"].get<double>());
  EXPECT_EQ(fin["size_bytes"].get<int64_t>(),
            static_cast<int64_t>(fs::file_size(out / fin["model_file"].get<std::string>())));
  EXPECT_GE(fin["files"].size(), 2u);

  // report.html: self-contained, a chart, every layer of the analysis.
  std::string html = slurp(out / "report.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  ASSERT_GT(j["analysis"]["layers"].size(), 4u);
  for (const auto& l : j["analysis"]["layers"])
    EXPECT_NE(html.find("<td>" + l["name"].get<std::string>() + "</td>"), std::string::npos) << l["name"];
  // No temporary files left behind by the atomic writes.
  for (const auto& e : fs::recursive_directory_iterator(out))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

// An export stage with shr measures model.shr with the runtime: on the same test images as the
// final (simulated) evaluation it must give exactly the same accuracy, and the summary ends with it.
TEST(CliRunRecipe, ExportShrReportsTheRuntimesAccuracy) {
  TempDir t;
  write(t / "recipe.yaml", "name: rt\nmodel: {file: '" + trained_model() +
                               "'}\ndata: {dataset: fashion-mnist, val_limit: 300, test_limit: 400, calibration: 200}\n"
                               "stages:\n  - quantize: {bits: 8}\n  - export: {formats: [shr, onnx]}\n");
  CmdResult r = run_shrink("run recipe.yaml -o out", t.path());
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  const fs::path out = t.path() / "out";
  nlohmann::json j = nlohmann::json::parse(slurp(out / "report.json"));
  const auto& rt = j["stages"][1]["extra"]["runtime"];
  ASSERT_TRUE(rt.is_object()) << j["stages"][1].dump();
  EXPECT_EQ(rt["n"], 400);
  EXPECT_EQ(rt["file_bytes"].get<int64_t>(), static_cast<int64_t>(fs::file_size(out / "stages/02-export/model.shr")));
  EXPECT_GT(rt["arena_bytes"].get<int64_t>(), 0);
  EXPECT_GT(rt["accuracy"].get<double>(), 0.5);
  EXPECT_EQ(rt["accuracy"].get<double>(), j["final"]["test_accuracy"].get<double>());
  // Baseline against what is deployed: the .shr file's bytes and the runtime's accuracy.
  const nlohmann::json& base = j["baseline"];
  const nlohmann::json& fin = j["final"];
  EXPECT_EQ(base["bytes"].get<int64_t>(), 4 * base["params"].get<int64_t>());
  EXPECT_EQ(base["n"], 400);
  EXPECT_GT(base["accuracy"].get<double>(), 0.5);
  EXPECT_EQ(fin["bytes"].get<int64_t>(), rt["file_bytes"].get<int64_t>());
  EXPECT_EQ(fin["runtime_accuracy"], rt["accuracy"]);
  EXPECT_GT(fin["latency_us"].get<double>(), 0);
  EXPECT_NEAR(fin["ratio"].get<double>(), base["bytes"].get<double>() / fin["bytes"].get<double>(), 1e-9);
  EXPECT_GT(fin["ratio"].get<double>(), 3.5);  // int8 weights: about 4x
  for (const auto& st : j["stages"]) EXPECT_GT(st["bytes"].get<int64_t>(), 0) << st.dump();
  const std::string md = slurp(out / "report.md");
  EXPECT_NE(md.find("| bytes | " ), std::string::npos) << md;
  EXPECT_NE(md.find("x smaller"), std::string::npos) << md;
  EXPECT_NE(r.out.find("baseline vs final: accuracy "), std::string::npos) << r.out;
  const std::string shr = fs::canonical(out / "stages/02-export/model.shr").string();
  EXPECT_NE(r.out.find("runtime: test accuracy "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("measured by shrink-rt on " + shr + ", flash "), std::string::npos) << r.out;
  EXPECT_LT(r.out.find("runtime: test accuracy "), r.out.find("report: ")) << r.out;

  // Per-layer formats and deployed bytes (issue 7, item 5), checked against the runtime's own view
  // of model.shr (shrink-rt inspect: "conv1.weight [..] i8 8-bit fl 9 dense 500 B").
  CmdResult in = run_program(std::string(SHRINK_BIN_DIR) + "/shrink-rt", "inspect '" + shr + "'", t.path());
  ASSERT_EQ(in.code, 0) << in.err;
  const auto inspected = [&](const std::string& tensor) {  // {fl, bytes} of a constant tensor
    std::smatch m;
    const std::regex re("\\s" + tensor + "\\s+\\[[^\\]]*\\]\\s+i(?:8|32) (?:8|32)-bit fl (-?\\d+)\\s+dense (\\d+) B");
    EXPECT_TRUE(std::regex_search(in.out, m, re)) << tensor << "\n" << in.out;
    return m.empty() ? std::pair<int, int64_t>{-99, -1} : std::pair<int, int64_t>{std::stoi(m[1]), std::stoll(m[2])};
  };
  int64_t layer_bytes = 0;
  int weighted = 0;
  for (const auto& l : fin["layers"]) {
    if (l["op"] != "Conv2d" && l["op"] != "Linear") continue;
    ++weighted;
    const std::string name = l["name"].get<std::string>(), w = l["weights"].get<std::string>();
    std::smatch m;
    ASSERT_TRUE(std::regex_match(w, m, std::regex("8-bit \\[(-?\\d+)\\.(-?\\d+)\\]"))) << l.dump();
    EXPECT_EQ(std::stoi(m[1]) + std::stoi(m[2]), 7) << l.dump();  // IL + FL = bits - 1
    const auto [wfl, wbytes] = inspected(name + ".weight");
    const auto [bfl, bbytes] = inspected(name + ".bias");
    (void)bfl;
    EXPECT_EQ(std::stoi(m[2]), wfl) << l.dump();
    EXPECT_EQ(l["storage"], "dense") << l.dump();
    EXPECT_EQ(l["bytes"].get<int64_t>(), wbytes + bbytes) << l.dump();
    EXPECT_TRUE(std::regex_match(l["activations"].get<std::string>(), std::regex("8-bit \\[-?\\d+\\.-?\\d+\\]")))
        << l.dump();
    layer_bytes += l["bytes"].get<int64_t>();
  }
  EXPECT_EQ(weighted, 4);
  // "Fits on" (issue 8): the report's estimates are shrink-rt inspect's for the same file.
  ASSERT_EQ(fin["fits_on"].size(), 2u) << fin.dump();
  for (const auto& f : fin["fits_on"]) {
    const std::string line = "fits on " + f["target"].get<std::string>() + ": " + (f["fits"].get<bool>() ? "yes" : "no") +
                             " (estimate: flash " + std::to_string(f["flash"].get<int64_t>()) + " = file " +
                             std::to_string(fin["bytes"].get<int64_t>()) + " + firmware ";
    EXPECT_NE(in.out.find(line), std::string::npos) << line << "\n" << in.out;
    EXPECT_NE(in.out.find(", RAM " + std::to_string(f["ram"].get<int64_t>()) + " = "), std::string::npos) << in.out;
    EXPECT_NE(r.out.find("fits on " + f["target"].get<std::string>() + ": "), std::string::npos) << r.out;
  }
  EXPECT_FALSE(fin["fits_on"][1]["fits"].get<bool>());  // int8 LeNet-5: 437 KB of weights
  EXPECT_LE(layer_bytes, fin["bytes"].get<int64_t>());
  EXPECT_GT(layer_bytes, fin["bytes"].get<int64_t>() * 9 / 10);  // names and headers are the rest

  // report.html as a person sees it (issue 7): Chromium draws it (not a blank page), and the
  // text on the page carries the final numbers of report.json.
  testutil::expect_report_drawn((out / "report.html").string(), t.path().string());
  std::string seen;
  try {
    seen = testutil::page_text((out / "report.html").string());
  } catch (const std::exception& ex) {
    FAIL() << ex.what();
  }
  const auto fixed = [](const char* f, double v) {
    char b[32];
    std::snprintf(b, sizeof b, f, v);
    return std::string(b);
  };
  const auto grouped = [](int64_t v) {  // 1234567 -> "1,234,567"
    std::string d = std::to_string(v), o;
    for (size_t i = 0; i < d.size(); ++i) o += (i && (d.size() - i) % 3 == 0 ? "," : "") + d.substr(i, 1);
    return o;
  };
  EXPECT_NE(seen.find("test accuracy measured by the runtime " + fixed("%.4f", fin["runtime_accuracy"].get<double>())),
            std::string::npos) << seen;
  EXPECT_NE(seen.find("bytes " + grouped(base["bytes"].get<int64_t>()) + " " + grouped(fin["bytes"].get<int64_t>())),
            std::string::npos) << seen;
  EXPECT_NE(seen.find(fixed("%.1f", fin["ratio"].get<double>()) + "x smaller"), std::string::npos) << seen;
  for (const auto& l : fin["layers"]) {  // the per-layer table: formats, storage and deployed bytes
    if (l["op"] == "Linear") {
      EXPECT_NE(seen.find(l["name"].get<std::string>() + " Linear [" ), std::string::npos) << seen;
    }
  }
  const auto& fc1 = *std::find_if(fin["layers"].begin(), fin["layers"].end(), [](const auto& l) { return l["name"] == "fc1"; });
  EXPECT_NE(seen.find(fc1["weights"].get<std::string>() + " " + fc1["activations"].get<std::string>() + " dense "),
            std::string::npos) << seen;
  EXPECT_NE(seen.find(" " + grouped(fc1["bytes"].get<int64_t>()) + " "), std::string::npos) << seen;

  write(t / "off.yaml", "name: rt\nmodel: {file: '" + trained_model() +
                            "'}\ndata: {dataset: fashion-mnist, test_limit: 50}\n"
                            "stages:\n  - export: {formats: [shr], runtime_eval: false}\n");
  r = run_shrink("run off.yaml -o out2", t.path());
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(r.out.find("runtime: "), std::string::npos) << r.out;
}

TEST(CliRunRecipe, FinetuneDistillsFeaturesAndAttention) {
  TempDir t;
  const std::string stages = "stages:\n  - finetune: {epochs: 1, limit: 256, distill: {teacher: original, T: 4, lambda: 1, "
                             "features: [fc1], attention: ['conv2:conv2']}}\n";
  write(t / "ok.yaml", "name: kd\nmodel: {file: '" + trained_model() + "'}\ndata: {dataset: fashion-mnist, val_limit: 200, "
                       "test_limit: 200}\n" + stages);
  CmdResult r = run_shrink("run ok.yaml -o out", t.path());
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  const nlohmann::json j = nlohmann::json::parse(slurp(t.path() / "out" / "report.json"));
  EXPECT_EQ(j["stages"][0]["extra"]["teacher"], "original");
  EXPECT_GT(j["stages"][0]["accuracy"].get<double>(), 0.3);
  std::string bad = stages;
  bad.replace(bad.find("[fc1]"), 5, "[fc9]");
  write(t / "bad.yaml", "name: kd\nmodel: {file: '" + trained_model() + "'}\ndata: {dataset: fashion-mnist}\n" + bad);
  expect_bad_input(run_shrink("run bad.yaml -o out2", t.path()), "'fc9' is not a node of the model");
}

TEST(CliRunRecipe, DocsNameEveryStageOption) {
  TempDir t;
  CmdResult r = run_shrink("run --list-stages --json", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json stages = nlohmann::json::parse(r.out);
  std::string doc = slurp(fs::path(SHRINK_SOURCE_DIR) / "docs" / "recipes.md");
  ASSERT_FALSE(doc.empty());
  std::set<std::string> names;
  for (const auto& s : stages) names.insert(s["name"].get<std::string>());
  for (const char* n : {"train", "finetune", "eval", "export"}) EXPECT_TRUE(names.count(n)) << n;
  std::function<void(const std::string&, const nlohmann::json&)> check = [&](const std::string& stage,
                                                                          const nlohmann::json& opts) {
    for (const auto& o : opts) {
      std::string name = o["name"];
      EXPECT_NE(doc.find("`" + name + "`"), std::string::npos) << "docs/recipes.md lacks `" << name << "` of " << stage;
      EXPECT_NE(doc.find(o["default"].get<std::string>()), std::string::npos) << stage << "." << name;
      if (o.contains("fields")) check(stage + "." + name, o["fields"]);
    }
  };
  for (const auto& s : stages) {
    EXPECT_NE(doc.find("### " + s["name"].get<std::string>()), std::string::npos) << s["name"];
    check(s["name"], s["options"]);
  }
}

}  // namespace
}  // namespace shrink::clitest
