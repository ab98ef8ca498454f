#include "compress/recipe.h"
#include "compress/executor_setup.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>

#include "compress/dist.h"
#include "compress/executor.h"
#include "compress/ir/analyzer.h"
#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "compress/ir/model_file.h"
#include "compress/ir/onnx_io.h"
#include "compress/report.h"
#include "compress/zoo.h"
#include "export/export.h"
#include "export/shr_writer.h"
#include "export/runtime_eval.h"
#include "runtime/format/shr_format.h"

namespace fs = std::filesystem;

namespace shrink::recipe {
namespace {

std::string stage_dir_name(int index, const std::string& name) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d-", index);
  return buf + name;
}

int64_t file_bytes(const std::string& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

EvalResult eval_graph(const ir::Graph& g, const ir::Dataset& d) {
  auto m = make_model_executor(g, ExecutorPurpose::Eval);  // compressed models run as simulated
  return evaluate(m->executor(), d);
}

std::string human_bytes(int64_t b) {
  char buf[64];
  if (b < 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1024.0 * 1024.0));
  return buf;
}

std::string fixed4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

// ---- built-in stages --------------------------------------------------------------------

std::string export_file_name(const std::string& format) {
  if (format == "onnx") return "model.onnx";
  if (format == "shr") return "model.shr";
  if (format == "c") return "model.c";
  if (format == "hdf5") return "weights.h5";
  return "model." + format;
}

}  // namespace

void register_builtin_stages() {
  auto add = [](StageSpec s) { register_stage(std::move(s)); };
  auto check_train = [](const StageArgs& a, const TrainOptions& defaults) {
    TrainOptions o = read_train_options(a, defaults);
    check_train_options(o, [&](const std::string& k, const std::string& m) { a.fail(k, m); });
  };

  {
    StageSpec s;
    s.name = "train";
    s.description = "train the model on the train split (metrics on val after every epoch)";
    s.options = train_option_specs(default_train_options());
    s.sets_original = true;
    s.check = [check_train](const StageArgs& a) { check_train(a, default_train_options()); };
    s.run = [](StageContext& ctx, const StageArgs& a) {
      TrainOptions o = read_train_options(a, default_train_options());
      o.seed = ctx.recipe.seed;
      ctx.prepare(o);
      const ir::Dataset& train_set = ctx.data.get(ir::Split::Train, o.limit);
      const ir::Dataset& val = ctx.data.get(ir::Split::Val, ctx.recipe.val_limit);
      Executor ex(ctx.model);
      TrainResult r = train(ex, train_set, o, &val);
      ctx.model = ex.sync_to_graph();
      if (!r.history.empty() && r.history.back().val_accuracy >= 0) {
        ctx.accuracy = r.history.back().val_accuracy;
        ctx.accuracy_split = "val";
        ctx.accuracy_n = val.size;
        ctx.extra["train_loss"] = r.history.back().loss;
        ctx.extra["train_accuracy"] = r.history.back().train_accuracy;
      }
      ctx.extra["train_samples"] = train_set.size;
    };
    add(std::move(s));
  }
  {
    StageSpec s;
    s.name = "finetune";
    s.description = "fine-tune the current model, optionally distilling from a teacher";
    s.options = train_option_specs(default_finetune_options());
    s.options.push_back(distill_option_spec());
    s.check = [check_train](const StageArgs& a) {
      check_train(a, default_finetune_options());
      check_distill(a);
    };
    s.run = [](StageContext& ctx, const StageArgs& a) {
      TrainOptions o = read_train_options(a, default_finetune_options());
      o.seed = ctx.recipe.seed;
      ctx.prepare(o);
      std::unique_ptr<Executor> teacher = make_teacher(ctx, a, o);
      const ir::Dataset& train_set = ctx.data.get(ir::Split::Train, o.limit);
      const ir::Dataset& val = ctx.data.get(ir::Split::Val, ctx.recipe.val_limit);
      auto m = make_model_executor(ctx.model, ExecutorPurpose::Train);  // e.g. quantization-aware
      TrainResult r = train(m->executor(), train_set, o, &val);
      ctx.model = m->finish();
      if (!r.history.empty() && r.history.back().val_accuracy >= 0) {
        ctx.accuracy = r.history.back().val_accuracy;
        ctx.accuracy_split = "val";
        ctx.accuracy_n = val.size;
      }
    };
    add(std::move(s));
  }
  {
    StageSpec s;
    s.name = "eval";
    s.description = "measure accuracy and loss on a split (the model is unchanged)";
    s.options = {{"split", OptType::String, "val", "val | test | train", {}},
                 {"limit", OptType::Int, "-1",
                  "first N samples of the split (-1: data.val_limit / data.test_limit, else all)", {}}};
    s.changes_model = false;
    s.check = [](const StageArgs& a) {
      try {
        ir::split_from_name(a.get_string("split", "val"));
      } catch (const Error&) {
        a.fail("split", "must be val, test or train");
      }
      int64_t l = a.get_int("limit", -1);
      if (l == 0 || l < -1) a.fail("limit", "must be -1 (all) or >= 1");
    };
    s.run = [](StageContext& ctx, const StageArgs& a) {
      ir::Split split = ir::split_from_name(a.get_string("split", "val"));
      int64_t limit = a.get_int("limit", -1);
      if (limit < 0 && split == ir::Split::Val) limit = ctx.recipe.val_limit;
      if (limit < 0 && split == ir::Split::Test) limit = ctx.recipe.test_limit;
      const ir::Dataset& d = ctx.data.get(split, limit);
      EvalResult e = eval_graph(ctx.model, d);
      ctx.accuracy = e.accuracy;
      ctx.accuracy_split = ir::split_name(split);
      ctx.accuracy_n = e.n;
      ctx.extra["loss"] = e.loss;
    };
    add(std::move(s));
  }
  {
    StageSpec s;
    s.name = "export";
    s.description = "write the model in deployment formats into the stage's folder";
    s.options = {{"formats", OptType::StringList, "[onnx]",
                  "any of onnx (model.onnx), shr (model.shr), c (model.c), hdf5 (weights.h5)", {}},
                 {"runtime_eval", OptType::Bool, "true",
                  "with shr: run model.shr with the runtime on the test split (data.test_limit) and report its "
                  "accuracy, file and arena bytes",
                  {}},
                 {"entropy", OptType::Bool, "true",
                  "with shr: Huffman-code k-means indices where that is smaller (model.c stays raw)", {}}};
    s.changes_model = false;
    s.check = [](const StageArgs& a) {
      auto known = exporter::formats();
      auto fmts = a.get_list("formats", {"onnx"});
      if (fmts.empty()) a.fail("formats", "must name at least one format (" + join(known) + ")");
      for (const auto& f : fmts)
        if (std::find(known.begin(), known.end(), f) == known.end())
          a.fail("formats", "unknown format '" + f + "' (known: " + join(known) + ")");
    };
    s.run = [](StageContext& ctx, const StageArgs& a) {
      if (ctx.group && ctx.group->rank() != 0) return;  // a distributed run: rank 0 exports
      for (const auto& f : a.get_list("formats", {"onnx"})) {
        std::string p = ctx.dir + "/" + export_file_name(f);
        exporter::ExportOptions eo;
        if (f == "shr") eo.entropy = a.get_bool("entropy", true);
        for (const std::string& w : exporter::export_model(ctx.model, f, p, eo))
          std::cerr << "shrink: warning: " << w << "\n";
        ctx.files.push_back(p);
        if (f == "shr" && a.get_bool("runtime_eval", true)) {
          const exporter::RuntimeEval e =
              exporter::runtime_eval(p, ctx.data.get(ir::Split::Test, ctx.recipe.test_limit));
          ctx.extra["runtime"] = {{"file", export_file_name(f)},   {"split", "test"},
                                  {"accuracy", e.accuracy},         {"n", e.n},
                                  {"file_bytes", e.file_bytes},     {"arena_bytes", e.arena_bytes},
                                  {"latency_us", e.latency_us}};
          nlohmann::json fits = nlohmann::json::array();
          for (const auto& f : e.fits_on)
            fits.push_back({{"target", f.target}, {"fits", f.fits}, {"flash", f.flash}, {"ram", f.ram}});
          ctx.extra["runtime"]["fits_on"] = fits;
        }
      }
    };
    add(std::move(s));
  }
}

namespace {

void print_option(std::ostream& os, const OptionSpec& o, const YAML::Node& opts, const std::string& prefix) {
  YAML::Node v = opts.IsMap() ? opts[o.name] : YAML::Node();
  if (o.type == OptType::Map) {
    if (!v.IsDefined() || v.IsNull()) {
      os << "      " << prefix << o.name << ": " << o.default_value << " (default)\n";
      return;
    }
    for (const auto& f : o.fields) print_option(os, f, v, prefix + o.name + ".");
    return;
  }
  os << "      " << prefix << o.name << ": ";
  if (v.IsDefined() && !v.IsNull()) {
    if (v.IsSequence()) {
      std::vector<std::string> items;
      for (const auto& e : v) items.push_back(e.Scalar());
      os << "[" << join(items) << "]\n";
    } else {
      os << v.Scalar() << "\n";
    }
  } else {
    os << o.default_value << " (default)\n";
  }
}

}  // namespace

TrainOptions default_train_options() { return TrainOptions{}; }

OptionSpec distill_option_spec() {
  return {"distill", OptType::Map, "(none)",
          "knowledge distillation: loss = CE + alpha * T^2 * KL(teacher || student) at temperature T, plus feature "
          "matching and attention transfer terms (docs/distillation.md)",
          {{"teacher", OptType::String, "original",
            "'original' (the model as loaded or last trained, before compression stages) or a .h5 file", {}},
           {"temperature", OptType::Float, "5", "softmax temperature T (> 0); also spelled T", {}},
           {"T", OptType::Float, "5", "the paper's name of temperature", {}},
           {"alpha", OptType::Float, "2", "weight of the distillation term (>= 0); also spelled lambda", {}},
           {"lambda", OptType::Float, "2", "the paper's name of alpha", {}},
           {"features", OptType::StringList, "[]",
            "feature matching (MSE) between nodes: NODE (same name in both) or STUDENT:TEACHER", {}},
           {"feature_weight", OptType::Float, "1", "weight of each feature-matching term", {}},
           {"attention", OptType::StringList, "[]",
            "attention transfer between nodes (normalised channel-summed squares): NODE or STUDENT:TEACHER", {}},
           {"attention_weight", OptType::Float, "1000", "weight of each attention-transfer term", {}}}};
}

namespace {
// One of two spellings of a distill key (temperature / T, alpha / lambda); both is an error.
double distill_value(const StageArgs& d, const std::string& a, const std::string& b, double dflt) {
  if (d.has(a) && d.has(b)) d.fail(b, "'" + a + "' and '" + b + "' are the same setting; give one");
  return d.has(b) ? d.get_float(b, dflt) : d.get_float(a, dflt);
}

// "NODE" or "STUDENT:TEACHER" -> {student, teacher}.
std::pair<std::string, std::string> term_nodes(const StageArgs& d, const std::string& key, const std::string& s) {
  auto c = s.find(':');
  std::string st = c == std::string::npos ? s : s.substr(0, c), te = c == std::string::npos ? s : s.substr(c + 1);
  if (st.empty() || te.empty()) d.fail(key, "'" + s + "': expected NODE or STUDENT:TEACHER");
  return {st, te};
}
}  // namespace

void check_distill(const StageArgs& a) {
  StageArgs d = a.sub("distill");
  if (distill_value(d, "temperature", "T", 5) <= 0) d.fail(d.has("T") ? "T" : "temperature", "must be > 0");
  if (distill_value(d, "alpha", "lambda", 2) < 0) d.fail(d.has("lambda") ? "lambda" : "alpha", "must be >= 0");
  if (d.get_string("teacher", "original").empty()) d.fail("teacher", "must be 'original' or a .h5 file");
  for (const char* key : {"features", "attention"})
    for (const auto& s : d.get_list(key, {})) term_nodes(d, key, s);
  if (d.get_float("feature_weight", 1) < 0) d.fail("feature_weight", "must be >= 0");
  if (d.get_float("attention_weight", 1000) < 0) d.fail("attention_weight", "must be >= 0");
}

std::unique_ptr<Executor> make_teacher(StageContext& ctx, const StageArgs& a, TrainOptions& o) {
  if (!a.has("distill")) return nullptr;
  StageArgs d = a.sub("distill");
  std::string t = d.get_string("teacher", "original");
  std::unique_ptr<Executor> teacher;
  if (t == "original") {
    teacher = std::make_unique<Executor>(*ctx.original);
  } else {
    std::string p = ctx.recipe.resolve(t);
    if (!fs::exists(p)) d.fail("teacher", "no such file: " + p);
    teacher = std::make_unique<Executor>(ir::load_model(p));
  }
  teacher->set_training(false);
  o.teacher = teacher.get();
  o.temperature = distill_value(d, "temperature", "T", 5);
  o.alpha = distill_value(d, "alpha", "lambda", 2);
  struct Kind { const char* key; const char* kind; double weight; };
  const Kind kinds[] = {{"features", "mse", d.get_float("feature_weight", 1)},
                        {"attention", "attention", d.get_float("attention_weight", 1000)}};
  for (const auto& [key, kind, weight] : kinds)
    for (const auto& s : d.get_list(key, {})) {
      auto [st, te] = term_nodes(d, key, s);
      if (!ctx.model.find(st)) d.fail(key, "'" + st + "' is not a node of the model");
      if (!teacher->graph().find(te)) d.fail(key, "'" + te + "' is not a node of the teacher");
      o.terms.push_back({kind, st, te, weight, feature_loss(kind)});
    }
  ctx.extra["teacher"] = t;
  return teacher;
}

TrainOptions default_finetune_options() {
  TrainOptions o;
  o.epochs = 1;
  o.lr = 1e-4;
  return o;
}

std::vector<OptionSpec> train_option_specs(const TrainOptions& d) {
  auto num = [](double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  };
  return {
      {"epochs", OptType::Int, std::to_string(d.epochs), "passes over the training data", {}},
      {"batch_size", OptType::Int, std::to_string(d.batch_size), "samples per optimizer step", {}},
      {"optimizer", OptType::String, d.optimizer, "adam | sgd", {}},
      {"lr", OptType::Float, num(d.lr), "initial learning rate", {}},
      {"momentum", OptType::Float, num(d.momentum), "sgd momentum", {}},
      {"weight_decay", OptType::Float, num(d.weight_decay), "L2 weight decay", {}},
      {"schedule", OptType::String, d.schedule,
       "cosine | step (x0.1 at 50% and 75% of the steps) | constant", {}},
      {"limit", OptType::Int, std::to_string(d.limit), "train on the first N samples of the train split (-1: all)", {}},
  };
}

TrainOptions read_train_options(const StageArgs& a, TrainOptions o) {
  o.epochs = static_cast<int>(a.get_int("epochs", o.epochs));
  o.batch_size = a.get_int("batch_size", o.batch_size);
  o.optimizer = a.get_string("optimizer", o.optimizer);
  o.lr = a.get_float("lr", o.lr);
  o.momentum = a.get_float("momentum", o.momentum);
  o.weight_decay = a.get_float("weight_decay", o.weight_decay);
  o.schedule = a.get_string("schedule", o.schedule);
  o.limit = a.get_int("limit", o.limit);
  return o;
}

void check_train_options(const TrainOptions& o,
                         const std::function<void(const std::string&, const std::string&)>& fail) {
  auto num = [](double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  };
  if (o.epochs < 0) fail("epochs", "must be >= 0, got " + std::to_string(o.epochs));
  if (o.batch_size < 1) fail("batch_size", "must be >= 1, got " + std::to_string(o.batch_size));
  if (o.optimizer != "adam" && o.optimizer != "sgd") fail("optimizer", "must be adam or sgd, got '" + o.optimizer + "'");
  if (!(o.lr > 0)) fail("lr", "must be > 0, got " + num(o.lr));
  if (!(o.momentum >= 0 && o.momentum < 1)) fail("momentum", "must be in [0, 1), got " + num(o.momentum));
  if (!(o.weight_decay >= 0)) fail("weight_decay", "must be >= 0, got " + num(o.weight_decay));
  if (o.schedule != "cosine" && o.schedule != "step" && o.schedule != "constant")
    fail("schedule", "must be cosine, step or constant, got '" + o.schedule + "'");
  if (o.limit == 0 || o.limit < -1) fail("limit", "must be -1 (all) or >= 1, got " + std::to_string(o.limit));
}

ir::Graph zoo_model_for(const std::string& zoo_name, const ir::Dataset& data, uint64_t seed) {
  zoo::ZooOptions zo;
  zo.input_shape = data.sample_shape;
  int64_t classes = data.num_classes;
  for (int64_t y : data.y) classes = std::max(classes, y + 1);
  if (classes > 0) zo.num_classes = classes;
  zo.seed = seed;
  ir::Graph g = zoo::make(zoo_name, zo);
  fill_metadata_from_data(g, data);
  return g;
}

const ir::Dataset& DataSource::get(ir::Split split, int64_t limit) {
  auto key = std::make_pair(static_cast<int>(split), limit);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  return cache_.emplace(key, ir::load_dataset(spec_, split, limit, dir_)).first->second;
}

static std::string default_out_dir(const Recipe& r, const RunOptions& o) {
  return o.out_dir.empty() ? "runs/" + r.name : o.out_dir;
}

std::string describe_plan(const Recipe& r, const RunOptions& o) {
  std::ostringstream os;
  os << "recipe:  " << r.path << "\n"
     << "name:    " << r.name << "\n"
     << "model:   " << r.model_kind << " "
     << (r.model_kind == "zoo" ? r.model_value : r.resolve(r.model_value)) << "\n"
     << "data:    " << r.dataset << " (data_dir: "
     << (r.data_dir.empty() ? "default" : r.resolve(r.data_dir)) << ", calibration: " << r.calibration
     << ", val_limit: " << r.val_limit << ", test_limit: " << r.test_limit << ")\n"
     << "seed:    " << r.seed << "\n"
     << "threads: " << (o.threads >= 0 ? o.threads : r.threads) << " (0 = all cores)\n"
     << "output:  " << default_out_dir(r, o) << "\n"
     << "stages:\n";
  int i = 0;
  for (const auto& s : r.stages) {
    ++i;
    const StageSpec* spec = find_stage(s.name);
    os << "  " << stage_dir_name(i, s.name) << ": " << spec->description << "\n";
    for (const auto& opt : spec->options) print_option(os, opt, s.options, "");
  }
  return os.str();
}

// ---- resumable runs: out_dir/checkpoint/ ----

// CRC-32 of the recipe as resolved (--set overrides applied) and of the seed, in hex.
static std::string recipe_hash(const Recipe& r) {
  const std::string text = yaml_to_json(r.root).dump() + "\nseed " + std::to_string(r.seed);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", shr::crc32(text.data(), text.size()));
  return buf;
}

// Empties out_dir/checkpoint/ for a new run, or checks that it holds a run of this recipe
// (--resume); writes run.json. Returns the folder.
static std::string open_checkpoints(const Recipe& r, const std::string& out_dir, bool resume, std::ostream& out) {
  const fs::path dir = fs::path(out_dir) / "checkpoint";
  const std::string run_file = (dir / "run.json").string(), hash = recipe_hash(r);
  std::error_code ec;
  if (resume && fs::exists(run_file)) {
    nlohmann::json run;
    try {
      run = nlohmann::json::parse(ir::read_file(run_file));
    } catch (const nlohmann::json::exception&) {
      throw BadInput("run --resume: ", run_file, " is not a run record; remove ", dir.string(), " to start afresh");
    }
    if (run.value("hash", "") != hash)
      throw BadInput("run --resume: ", out_dir, " holds a run of another recipe ('", run.value("name", "?"),
                     "', hash ", run.value("hash", "?"), "; this one is '", r.name, "', hash ", hash,
                     "): use another output folder or drop --resume");
    out << "resuming the run in " << out_dir << "\n" << std::flush;
    return dir.string();
  }
  if (resume) out << "nothing to resume in " << out_dir << ": starting the run\n" << std::flush;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) throw BadInput(dir.string(), ": cannot create the checkpoint folder: ", ec.message());
  ir::write_file_atomic(run_file, nlohmann::json{{"name", r.name}, {"hash", hash}}.dump(2) + "\n");
  return dir.string();
}

// A finished stage as the report needs it (out_dir/checkpoint/NN-name.json).
static nlohmann::json stage_record(const report::StageRow& row, const std::vector<report::Section>& sections,
                                   const std::vector<report::FileRow>& files) {
  nlohmann::json secs = nlohmann::json::array(), fl = nlohmann::json::array();
  for (const auto& sec : sections) secs.push_back({sec.title, sec.html});
  for (const auto& f : files) fl.push_back({f.path, f.bytes});
  return {{"row",
           {{"index", row.index}, {"name", row.name}, {"seconds", row.seconds}, {"accuracy", row.accuracy},
            {"accuracy_split", row.accuracy_split}, {"accuracy_n", row.accuracy_n}, {"params", row.params},
            {"macs", row.macs}, {"size_bytes", row.size_bytes}, {"shr_bytes", row.shr_bytes},
            {"model_file", row.model_file}, {"files", row.files}, {"extra", row.extra}}},
          {"sections", secs},
          {"files", fl}};
}

static void read_stage_record(const nlohmann::json& j, report::StageRow& row, std::vector<report::Section>& sections,
                              std::vector<report::FileRow>& files) {
  const nlohmann::json& r = j.at("row");
  row.index = r.at("index").get<int>();
  row.name = r.at("name").get<std::string>();
  row.seconds = r.at("seconds").get<double>();
  row.accuracy = r.at("accuracy").get<double>();
  row.accuracy_split = r.at("accuracy_split").get<std::string>();
  row.accuracy_n = r.at("accuracy_n").get<int64_t>();
  row.params = r.at("params").get<int64_t>();
  row.macs = r.at("macs").get<int64_t>();
  row.size_bytes = r.at("size_bytes").get<int64_t>();
  row.shr_bytes = r.at("shr_bytes").get<int64_t>();
  row.model_file = r.at("model_file").get<std::string>();
  row.files = r.at("files").get<std::vector<std::string>>();
  row.extra = r.at("extra");
  for (const auto& sec : j.at("sections")) sections.push_back({sec[0].get<std::string>(), sec[1].get<std::string>()});
  for (const auto& f : j.at("files")) files.push_back({f[0].get<std::string>(), f[1].get<int64_t>()});
}

void StageContext::prepare(TrainOptions& o) const {
  o.checkpoint = checkpoint;
  if (group) dist::use_data_parallel(o, *group);
}

namespace {

/// A fresh folder in the temporary directory, removed with its contents at the end of its scope.
class ScratchDir {
 public:
  explicit ScratchDir(bool make) {
    if (!make) return;
    std::string tmpl = (fs::temp_directory_path() / "shrink-rank-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw BadInput("cannot create a temporary folder in ", fs::temp_directory_path().string());
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

RunSummary run_recipe(const Recipe& r, const RunOptions& o) {
  // A distributed run: rank 0 writes out_dir; the others run the same stages quietly, write their
  // stages' files into a scratch folder and only read out_dir (checkpoints with --resume).
  const bool writer = !o.group || o.group->rank() == 0;
  std::ostream quiet(nullptr);
  std::ostream& out = !writer ? quiet : o.out ? *o.out : std::cout;
  const std::string out_dir = default_out_dir(r, o);
  if (o.dry_run) {
    out << describe_plan(r, o);
    RunSummary s;
    s.out_dir = fs::absolute(out_dir).lexically_normal().string();
    return s;
  }
  if (o.threads < 0) set_threads(r.threads);

  std::error_code ec;
  const ScratchDir scratch(!writer);
  std::string ckpt_dir = (fs::path(out_dir) / "checkpoint").string();
  if (writer) {
    fs::create_directories(fs::path(out_dir) / "stages", ec);
    if (ec) throw BadInput(out_dir, ": cannot create the output folder: ", ec.message());
    ckpt_dir = open_checkpoints(r, out_dir, o.resume, out);
  }
  if (o.group) o.group->barrier();  // out_dir/checkpoint/ is checked or emptied before anyone reads it
  const std::string abs_out = fs::absolute(out_dir).lexically_normal().string();

  std::string dataset = r.dataset;
  for (const char* prefix : {"idx:", "hdf5:"}) {
    std::string p(prefix);
    if (dataset.rfind(p, 0) == 0) dataset = p + r.resolve(dataset.substr(p.size()));
  }
  DataSource data(dataset, r.resolve(r.data_dir));

  ir::Graph model;
  if (r.model_kind == "zoo") {
    model = zoo_model_for(r.model_value, data.get(ir::Split::Train), r.seed);
  } else {
    std::string p = r.resolve(r.model_value);
    if (!fs::exists(p)) throw BadInput(where(r.path, r.root["model"]), ": model file ", p, ": no such file");
    model = r.model_kind == "file" ? ir::load_model(p) : ir::import_onnx(p);
    model.infer_shapes();
  }
  ir::Graph original = model;
  {
    ir::Analysis a = ir::analyze(model, {});
    out << "model: " << r.model_kind << " " << r.model_value << ", " << a.params << " params, " << a.macs
        << " MACs\n" << std::flush;
  }

  report::RunReport rep;
  rep.name = r.name;
  rep.recipe = yaml_to_json(r.root);
  rep.producer = std::string("shrink ") + SHRINK_VERSION;

  auto rel = [&](const std::string& p) { return fs::path(p).lexically_relative(out_dir).string(); };
  double last_accuracy = -1;
  std::string last_split;
  int64_t last_n = 0;
  std::string model_file;
  std::vector<report::FileRow> files;
  const int n_stages = static_cast<int>(r.stages.size());
  for (int i = 1; i <= n_stages; ++i) {
    const Recipe::Stage& st = r.stages[static_cast<size_t>(i - 1)];
    const StageSpec* spec = find_stage(st.name);
    const std::string out_stage = (fs::path(out_dir) / "stages" / stage_dir_name(i, st.name)).string();
    const std::string dir = writer ? out_stage : (fs::path(scratch.path()) / stage_dir_name(i, st.name)).string();
    fs::create_directories(dir, ec);
    if (ec) throw BadInput(dir, ": cannot create the stage folder: ", ec.message());
    const std::string record = ckpt_dir + "/" + stage_dir_name(i, st.name) + ".json";
    if (o.resume && fs::exists(record)) {  // finished before: its model and its report rows
      report::StageRow row;
      std::vector<report::Section> sections;
      std::vector<report::FileRow> stage_files;
      try {
        read_stage_record(nlohmann::json::parse(ir::read_file(record)), row, sections, stage_files);
      } catch (const nlohmann::json::exception& e) {
        throw BadInput("run --resume: ", record, " is damaged (", e.what(), "); remove it to run the stage again");
      }
      model_file = out_stage + "/model.h5";
      model = ir::load_model(model_file);
      model.infer_shapes();
      if (spec->sets_original) original = model;
      last_accuracy = row.accuracy;
      last_split = row.accuracy_split;
      last_n = row.accuracy_n;
      rep.stages.push_back(row);
      rep.sections.insert(rep.sections.end(), sections.begin(), sections.end());
      files.insert(files.end(), stage_files.begin(), stage_files.end());
      out << "[" << i << "/" << n_stages << "] " << st.name << ": finished before, reloaded " << row.model_file
          << "\n" << std::flush;
      continue;
    }

    StageContext ctx(r, data);
    ctx.checkpoint->prefix = ckpt_dir + "/" + stage_dir_name(i, st.name) + ".";
    ctx.index = i;
    ctx.dir = dir;
    ctx.group = o.group;
    ctx.model = std::move(model);
    ctx.original = &original;
    auto t0 = std::chrono::steady_clock::now();
    spec->run(ctx, StageArgs(st.options, r.path, st.name));
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    model = std::move(ctx.model);
    model.infer_shapes();
    if (!writer) {  // the same model as rank 0's; rank 0 measures, saves and reports it
      if (spec->sets_original) original = model;
      fs::remove_all(dir, ec);
      continue;
    }

    if (ctx.accuracy < 0) {
      if (!spec->changes_model && last_accuracy >= 0) {
        ctx.accuracy = last_accuracy;
        ctx.accuracy_split = last_split;
        ctx.accuracy_n = last_n;
      } else {
        const ir::Dataset& val = data.get(ir::Split::Val, r.val_limit);
        EvalResult e = eval_graph(model, val);
        ctx.accuracy = e.accuracy;
        ctx.accuracy_split = "val";
        ctx.accuracy_n = e.n;
      }
    }
    last_accuracy = ctx.accuracy;
    last_split = ctx.accuracy_split;
    last_n = ctx.accuracy_n;

    model_file = dir + "/model.h5";
    ir::save_model(model, model_file);
    if (spec->sets_original) original = model;
    ir::Analysis a = ir::analyze(model, {});

    report::StageRow row;
    row.index = i;
    row.name = st.name;
    row.seconds = seconds;
    row.accuracy = ctx.accuracy;
    row.accuracy_split = ctx.accuracy_split;
    row.accuracy_n = ctx.accuracy_n;
    row.params = a.params;
    row.macs = a.macs;
    row.size_bytes = file_bytes(model_file);
    try {  // what this model would deploy as (a model the runtime cannot hold has no .shr form)
      row.shr_bytes = static_cast<int64_t>(exporter::write_shr(model).size());
    } catch (const Error&) {
      row.shr_bytes = -1;
    }
    row.model_file = rel(model_file);
    for (const auto& f : ctx.files) {
      row.files.push_back(rel(f));
      files.push_back({rel(f), file_bytes(f)});
    }
    row.extra = ctx.extra;
    rep.stages.push_back(row);
    std::vector<report::Section> sections;
    for (const auto& [title, html] : ctx.sections) sections.push_back({title, html});
    rep.sections.insert(rep.sections.end(), sections.begin(), sections.end());
    {  // the stage is done: its record, then its epoch checkpoints are no longer needed
      std::vector<report::FileRow> stage_files(files.end() - static_cast<std::ptrdiff_t>(ctx.files.size()), files.end());
      ir::write_file_atomic(record, stage_record(row, sections, stage_files).dump() + "\n");
      for (int k = 0; k < ctx.checkpoint->calls; ++k) fs::remove(ctx.checkpoint->file(k), ec);
    }

    char line[256];
    std::snprintf(line, sizeof line, "[%d/%d] %-9s %7.1f s  %s accuracy %s (%lld)  %lld params  %s  ", i,
                  n_stages, st.name.c_str(), seconds, ctx.accuracy_split.c_str(), fixed4(ctx.accuracy).c_str(),
                  static_cast<long long>(ctx.accuracy_n), static_cast<long long>(a.params),
                  human_bytes(row.size_bytes).c_str());
    out << line << row.model_file;
    for (const auto& f : row.files) out << ", " << f;
    out << "\n" << std::flush;
  }
  if (!writer) {
    RunSummary s;
    s.out_dir = abs_out;
    return s;
  }
  if (n_stages == 0) {
    model_file = out_dir + "/model.h5";
    ir::save_model(model, model_file);
  }
  files.insert(files.begin(), {rel(model_file), file_bytes(model_file)});

  const ir::Dataset& test = data.get(ir::Split::Test, r.test_limit);
  EvalResult final_eval = eval_graph(model, test);
  rep.test_accuracy = final_eval.accuracy;
  rep.test_n = final_eval.n;
  rep.model_file = rel(model_file);
  rep.size_bytes = file_bytes(model_file);
  rep.files = files;
  rep.analysis = ir::analyze(model, {});
  {  // the baseline: the model before compression stages, on the same test images
    EvalResult b = eval_graph(original, test);
    const ir::Analysis ba = ir::analyze(original, {});
    rep.baseline.accuracy = b.accuracy;
    rep.baseline.n = b.n;
    rep.baseline.params = ba.params;
    rep.baseline.macs = ba.macs;
  }

  RunSummary s;
  s.out_dir = abs_out;
  s.report_json = abs_out + "/report.json";
  s.report_html = abs_out + "/report.html";
  s.test_accuracy = final_eval.accuracy;
  s.size_bytes = rep.size_bytes;
  for (const auto& st : rep.stages) {  // the last runtime measurement is what gets deployed
    if (!st.extra.contains("runtime")) continue;
    const nlohmann::json& rt = st.extra["runtime"];
    s.runtime_accuracy = rt["accuracy"].get<double>();
    s.runtime_file_bytes = rt["file_bytes"].get<int64_t>();
    s.runtime_arena_bytes = rt["arena_bytes"].get<int64_t>();
    rep.latency_us = rt.value("latency_us", -1.0);
    rep.fits_on = rt.value("fits_on", nlohmann::json::array());
    for (const std::string& f : st.files)
      if (fs::path(f).filename() == rt["file"].get<std::string>()) s.runtime_file = abs_out + "/" + f;
  }
  if (s.runtime_accuracy >= 0) {
    rep.runtime_accuracy = s.runtime_accuracy;
    rep.runtime_file_bytes = s.runtime_file_bytes;
  }
  report::describe_layers(rep, model, s.runtime_file);
  report::write_report(rep, out_dir);

  out << "final: test accuracy " << fixed4(final_eval.accuracy) << " (" << final_eval.n << " images), model "
      << human_bytes(rep.size_bytes) << " (" << rep.size_bytes << " bytes, " << rep.model_file << ")\n";
  if (s.runtime_accuracy >= 0)
    out << "runtime: test accuracy " << fixed4(s.runtime_accuracy) << " measured by shrink-rt on " << s.runtime_file
        << ", flash " << human_bytes(s.runtime_file_bytes) << " (" << s.runtime_file_bytes << " bytes), arena "
        << human_bytes(s.runtime_arena_bytes) << " (" << s.runtime_arena_bytes << " bytes)\n";
  for (const auto& f : rep.fits_on)  // docs/mcu.md: estimates from the measured test firmware
    out << "fits on " << f["target"].get<std::string>() << ": " << (f["fits"].get<bool>() ? "yes" : "no")
        << " (estimate: flash " << f["flash"] << ", RAM " << f["ram"] << " bytes)\n";
  {
    const int64_t bytes = rep.deployed_bytes();
    char line[320];
    std::snprintf(line, sizeof line,
                  "baseline vs final: accuracy %s -> %s (%+.2f pp), bytes %lld -> %lld (%.1fx smaller), MACs %lld -> %lld\n",
                  fixed4(rep.baseline.accuracy).c_str(),
                  fixed4(s.runtime_accuracy >= 0 ? s.runtime_accuracy : final_eval.accuracy).c_str(),
                  100 * ((s.runtime_accuracy >= 0 ? s.runtime_accuracy : final_eval.accuracy) - rep.baseline.accuracy),
                  static_cast<long long>(rep.baseline.bytes()), static_cast<long long>(bytes),
                  bytes > 0 ? static_cast<double>(rep.baseline.bytes()) / static_cast<double>(bytes) : 0.0,
                  static_cast<long long>(rep.baseline.macs), static_cast<long long>(rep.analysis.macs));
    out << line;
  }
  out << "report: " << s.report_html << "\n";
  return s;
}

}  // namespace shrink::recipe
