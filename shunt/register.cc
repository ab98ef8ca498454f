#include "shunt/register.h"

#include <algorithm>
#include <memory>

#include "compress/executor.h"
#include "compress/ir/error.h"
#include "compress/recipe.h"
#include "distill/losses.h"
#include "shunt/shunt.h"

namespace shrink::shunt {

namespace {

using recipe::OptType;

ShuntOptions read_stage(const recipe::StageArgs& a) {
  ShuntOptions o;
  o.spec.arch = a.get_string("arch", o.spec.arch);
  o.spec.width = a.get_float("width", 0);
  o.shunt_train = recipe::read_train_options(a.sub("train"), o.shunt_train);
  o.finetune = recipe::read_train_options(a.sub("finetune"), o.finetune);
  o.compare_plain = a.get_bool("compare_plain", false);
  return o;
}

}  // namespace

void register_all() {
  distill::register_losses();
  if (recipe::find_stage("shunt")) return;
  ShuntOptions d;
  recipe::StageSpec s;
  s.name = "shunt";
  s.description = "replace a run of residual blocks by a shunt (Knowledge Quotient), trained by feature matching, "
                  "then the whole model fine-tuned with knowledge distillation";
  s.options = {
      {"blocks", OptType::String, "auto", "the run to replace: I-J (block ids or names) or auto (from the KQs)", {}},
      {"max_kq", OptType::Float, "0.1", "auto: bound on the run's summed Knowledge Quotient", {}},
      {"kq_limit", OptType::Int, "data.val_limit", "val images measuring the KQs", {}},
      {"arch", OptType::String, "arch1", "shunt architecture: arch1, arch2, arch3, arch4 (docs/shunt.md)", {}},
      {"width", OptType::Float, "0", "hidden channels per output channel (0: the architecture's default)", {}},
      {"train", OptType::Map, "(none)", "phase 1, the shunt alone against the run's output: training keys",
       recipe::train_option_specs(d.shunt_train)},
      {"finetune", OptType::Map, "(none)", "phase 2, the whole model: training keys",
       recipe::train_option_specs(d.finetune)},
      recipe::distill_option_spec(),
      {"compare_plain", OptType::Bool, "false", "also fine-tune without KD from the same start; both in the report", {}},
  };
  s.check = [](const recipe::StageArgs& a) {
    ShuntOptions o = read_stage(a);
    try {
      check_spec(o.spec);
    } catch (const BadInput& e) {
      a.fail(a.has("width") && o.spec.width < 0 ? "width" : "arch", e.what());
    }
    recipe::check_train_options(o.shunt_train, [&](const std::string& k, const std::string& m) { a.sub("train").fail(k, m); });
    recipe::check_train_options(o.finetune, [&](const std::string& k, const std::string& m) { a.sub("finetune").fail(k, m); });
    recipe::check_distill(a);
    if (a.get_float("max_kq", 0.1) < 0) a.fail("max_kq", "must be >= 0");
    const int64_t kl = a.get_int("kq_limit", -1);
    if (kl == 0 || kl < -1) a.fail("kq_limit", "must be -1 (all) or >= 1");
  };
  s.run = [](recipe::StageContext& ctx, const recipe::StageArgs& a) {
    ShuntOptions o = read_stage(a);
    o.spec.seed = o.shunt_train.seed = o.finetune.seed = ctx.recipe.seed;
    ctx.prepare(o.shunt_train);  // resumable runs; data parallel
    ctx.prepare(o.finetune);
    // KD from the original unless the recipe's `distill` map says otherwise (alpha 0: none).
    std::unique_ptr<Executor> teacher = recipe::make_teacher(ctx, a, o.finetune);
    const std::vector<Block> blocks = find_blocks(ctx.model);
    try {
      residual_blocks(blocks, ctx.model.meta.name);
    } catch (const BadInput& e) {
      a.fail("blocks", e.what());
    }
    const std::string spec = a.get_string("blocks", "auto");
    Run run;
    KqTable kq;
    if (spec == "auto") {
      const ir::Dataset& kval = ctx.data.get(ir::Split::Val, a.get_int("kq_limit", ctx.recipe.val_limit));
      kq = knowledge_quotients(ctx.model, kval);
      ctx.extra["kq"] = kq_to_json(kq);
      run = choose_run(ctx.model, kq, o.spec, a.get_float("max_kq", 0.1));
      ctx.extra["run_kq"] = run_kq(kq, run);
    } else {
      try {
        auto [first, last] = parse_block_range(blocks, spec);
        run = make_run(blocks, first, last);
      } catch (const BadInput& e) {
        a.fail("blocks", e.what());
      }
    }
    const ir::Dataset& val = ctx.data.get(ir::Split::Val, ctx.recipe.val_limit);
    // One training set for both phases: the larger of their limits (each phase takes its first N).
    const int64_t limit = o.finetune.limit < 0 || o.shunt_train.limit < 0 ? -1 : std::max(o.finetune.limit, o.shunt_train.limit);
    const ir::Dataset& train_set = ctx.data.get(ir::Split::Train, limit);
    ShuntResult r = shunt_model(ctx.model, run, o, train_set, val);
    ctx.sections.emplace_back("Shunt (stage " + std::to_string(ctx.index) + ")", result_to_html(r, o.spec, &kq));
    ctx.model = std::move(r.model);
    ctx.accuracy = r.accuracy_kd;
    ctx.accuracy_split = "val";
    ctx.accuracy_n = val.size;
    nlohmann::json j = result_to_json(r, o.spec);
    for (auto it = j.begin(); it != j.end(); ++it) ctx.extra[it.key()] = it.value();
  };
  recipe::register_stage(std::move(s));
}

}  // namespace shrink::shunt
