// Training, distillation and evaluation loops over an Executor.
//
// Determinism: the sample order of epoch e is ir::shuffled_indices(n, seed + e) and torch's
// global generator is seeded with o.seed; with the same thread count the same options give
// bit-identical weights. The last batch of an epoch may be smaller (no sample is dropped).
#include "compress/train.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "compress/progress.h"

namespace shrink {

namespace {

std::string fixed(double v, int digits = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

void check_dataset(const ir::Dataset& d, const char* what) {
  if (d.size <= 0) throw BadInput("data set '", d.name, "' (", what, ") is empty");
  int64_t per = ir::numel(d.sample_shape);
  if (static_cast<int64_t>(d.x.size()) != d.size * per || static_cast<int64_t>(d.y.size()) != d.size)
    throw BadInput("data set '", d.name, "' (", what, "): ", d.size, " samples of shape ",
                   ir::shape_str(d.sample_shape), " need ", d.size * per, " values and ", d.size,
                   " labels, found ", d.x.size(), " and ", d.y.size());
}

// The model's input view of a data set: {N} + meta.input_shape (or the sample shape).
std::vector<int64_t> batch_shape(const Executor& model, const ir::Dataset& d, int64_t n) {
  const ir::Shape& in = model.graph().meta.input_shape.empty() ? d.sample_shape
                                                                : model.graph().meta.input_shape;
  if (ir::numel(in) != ir::numel(d.sample_shape))
    throw BadInput("data set '", d.name, "' has samples of shape ", ir::shape_str(d.sample_shape),
                   ", the model expects ", ir::shape_str(in));
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), in.begin(), in.end());
  return shape;
}

// Views of the data set's storage (no copy); valid while `d` lives. Read only.
std::pair<torch::Tensor, torch::Tensor> views(const Executor& model, const ir::Dataset& d, int64_t n) {
  auto x = torch::from_blob(const_cast<float*>(d.x.data()), batch_shape(model, d, n), torch::kFloat32);
  auto y = torch::from_blob(const_cast<int64_t*>(d.y.data()), {n}, torch::kInt64);
  return {x, y};
}

// Restores an executor's train / eval mode on scope exit.
struct ModeGuard {
  Executor& ex;
  bool was;
  ModeGuard(Executor& e, bool on) : ex(e), was(e.training()) { ex.set_training(on); }
  ~ModeGuard() { ex.set_training(was); }
};

std::map<std::string, FeatureLossFn>& loss_registry() {
  static std::map<std::string, FeatureLossFn> r;
  return r;
}

// Restores an executor's frozen set on scope exit.
struct FrozenGuard {
  Executor& ex;
  std::set<std::string> was;
  FrozenGuard(Executor& e, std::set<std::string> now) : ex(e), was(e.frozen()) { ex.set_frozen(std::move(now)); }
  ~FrozenGuard() { ex.set_frozen(was); }
};

// The trainable tensors under o.trainable, and the nodes frozen by it.
std::vector<torch::Tensor> trainable_parameters(const Executor& model, const TrainOptions& o,
                                                std::set<std::string>& frozen) {
  if (o.trainable.empty()) return model.parameters();
  std::set<std::string> train_nodes;
  for (const auto& name : o.trainable) {
    if (!model.graph().find(name)) throw BadInput("training: trainable node '", name, "' is not in the model");
    train_nodes.insert(name);
  }
  for (const auto& n : model.graph().nodes)
    if (!train_nodes.count(n.name)) frozen.insert(n.name);
  std::vector<torch::Tensor> params;
  for (const auto& [name, t] : model.named_parameters())
    if (train_nodes.count(name.substr(0, name.rfind('/')))) params.push_back(t);
  return params;
}

// Data parallelism (TrainOptions::shard_rank / shard_count / average).
void check_shards(const TrainOptions& o, int64_t n) {
  if (o.shard_count < 1 || o.shard_rank < 0 || o.shard_rank >= o.shard_count)
    throw BadInput("training: shard ", o.shard_rank, " of ", o.shard_count, ", expected 0 <= rank < count");
  if (o.shard_count == 1) return;
  if (!o.average) throw BadInput("training: data parallelism over ", o.shard_count, " processes needs `average`");
  const int64_t last = n % o.batch_size;
  if (std::min(n, o.batch_size) < o.shard_count || (last > 0 && last < o.shard_count))
    throw BadInput("training: a batch of ", last > 0 ? last : std::min(n, o.batch_size), " samples (", n,
                   " samples, batch size ", o.batch_size, ") cannot be split over ", o.shard_count,
                   " processes; change --train-limit or --batch-size");
}

// Rows [lo, hi) of a global batch that this rank computes: contiguous, sizes differ by <= 1.
std::pair<int64_t, int64_t> shard_rows(int64_t lo, int64_t hi, const TrainOptions& o) {
  const int64_t m = hi - lo;
  return {lo + m * o.shard_rank / o.shard_count, lo + m * (o.shard_rank + 1) / o.shard_count};
}

// After an epoch: BatchNorm running statistics of the nodes that trained and the loss /
// accuracy sums become their means over the ranks (ratios of the sums stay global).
void average_epoch(Executor& model, const std::set<std::string>& frozen, const TrainOptions& o, double& loss_sum,
                   int64_t& correct, int64_t& seen) {
  if (o.shard_count == 1) return;
  std::vector<torch::Tensor> t;
  for (const auto& nd : model.graph().nodes)
    if (nd.op == ir::Op::BatchNorm && !frozen.count(nd.name))
      for (const char* key : {"running_mean", "running_var"}) t.push_back(model.tensor(nd.name, key));
  torch::Tensor sums = torch::tensor({loss_sum, static_cast<double>(correct), static_cast<double>(seen)}, torch::kFloat64);
  t.push_back(sums);
  o.average(t);
  loss_sum = sums[0].item<double>();
  correct = std::llround(sums[1].item<double>());
  seen = std::max<int64_t>(1, std::llround(sums[2].item<double>()));
}

void check_terms(const Executor& model, const TrainOptions& o) {
  if ((!o.terms.empty() || !o.feed.empty()) && !o.teacher)
    throw BadInput("training: feature distillation terms and fed nodes need a teacher");
  for (const auto& t : o.terms) {
    if (!t.fn) throw BadInput("training: the '", t.kind, "' loss term has no function");
    if (!model.graph().find(t.student))
      throw BadInput("distillation: ", t.kind, " term: student node '", t.student, "' is not in the model");
    if (!o.teacher->graph().find(t.teacher))
      throw BadInput("distillation: ", t.kind, " term: teacher node '", t.teacher, "' is not in the teacher");
    if (!(t.weight >= 0)) throw BadInput("distillation: ", t.kind, " term weight is ", t.weight, ", expected >= 0");
  }
  for (const auto& f : o.feed)
    if (!model.graph().find(f) || !o.teacher->graph().find(f))
      throw BadInput("training: fed node '", f, "' must be in both the model and the teacher");
  if (!(o.ce_weight >= 0)) throw BadInput("training: ce_weight is ", o.ce_weight, ", expected >= 0");
}

// ---- epoch checkpoints (TrainCheckpoint) ----

// Every tensor of the executor as (node, key), in a fixed order: the IR's tensors and the
// trainable ones that exist only on the executor (k-means centroids).
std::vector<std::pair<std::string, std::string>> state_keys(const Executor& model) {
  std::set<std::pair<std::string, std::string>> keys;
  for (const auto& n : model.graph().nodes)
    for (const auto& [key, t] : n.tensors) keys.insert({n.name, key});
  for (const auto& [name, t] : model.named_parameters()) {
    const auto slash = name.rfind('/');
    keys.insert({name.substr(0, slash), name.substr(slash + 1)});
  }
  return {keys.begin(), keys.end()};
}

// What a checkpoint must agree with to be continued by this training.
nlohmann::json fingerprint(Executor& model, const TrainOptions& o, int64_t n, int64_t steps_per_epoch) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& [node, key] : state_keys(model))
    tensors.push_back(node + "/" + key + " " + ir::shape_str(model.tensor(node, key).sizes().vec()));
  return {{"samples", n},           {"batch_size", o.batch_size}, {"epochs", o.epochs},
          {"steps_per_epoch", steps_per_epoch}, {"seed", o.seed}, {"optimizer", o.optimizer},
          {"tensors", tensors}};
}

void save_checkpoint(const std::string& path, Executor& model, torch::optim::Optimizer& opt,
                     const nlohmann::json& print, const TrainResult& result) {
  torch::serialize::OutputArchive ar;
  nlohmann::json history = nlohmann::json::array();
  for (const EpochStats& e : result.history)
    history.push_back({e.epoch, e.loss, e.train_accuracy, e.val_accuracy, e.val_loss, e.seconds});
  ar.write("meta", c10::IValue(nlohmann::json{{"fingerprint", print}, {"history", history}}.dump()));
  const auto keys = state_keys(model);
  for (size_t i = 0; i < keys.size(); ++i)
    ar.write("t" + std::to_string(i), model.tensor(keys[i].first, keys[i].second).detach(), /*is_buffer=*/true);
  torch::serialize::OutputArchive opt_ar;
  opt.save(opt_ar);
  ar.write("optimizer", opt_ar);
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  torch::Tensor rng;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    rng = gen.get_state();
  }
  ar.write("rng", rng, /*is_buffer=*/true);
  std::ostringstream os;
  ar.save_to(os);
  ir::write_file_atomic(path, os.str());
}

// Restores the checkpoint at `path` if there is one (see TrainCheckpoint) and returns the
// epochs it had finished (0: none), with result.history filled.
int restore_checkpoint(const std::string& path, Executor& model, torch::optim::Optimizer& opt,
                       const nlohmann::json& print, const TrainOptions& o, int64_t steps_per_epoch,
                       TrainResult& result) {
  if (!std::filesystem::exists(path)) return 0;
  std::istringstream is(ir::read_file(path));
  torch::serialize::InputArchive ar;
  nlohmann::json meta;
  try {
    ar.load_from(is);
    c10::IValue v;
    ar.read("meta", v);
    meta = nlohmann::json::parse(v.toStringRef());
  } catch (const std::exception&) {
    throw BadInput("training checkpoint ", path, " cannot be read (truncated or not a checkpoint); remove it");
  }
  if (meta["fingerprint"] != print)
    throw BadInput("training checkpoint ", path, " was written by another training (data, batches, epochs, ",
                   "optimizer or model differ); remove it or start without --resume");
  for (const auto& h : meta["history"])
    result.history.push_back({h[0].get<int>(), h[1].get<double>(), h[2].get<double>(), h[3].get<double>(),
                              h[4].get<double>(), h[5].get<double>()});
  const int done = static_cast<int>(result.history.size());
  for (int e = 0; e < done; ++e) {  // catch the callbacks up; their effect on tensors is overwritten below
    for (int64_t b = 0; b < steps_per_epoch && o.on_step; ++b) o.on_step(e * steps_per_epoch + b, e);
    if (o.on_epoch) o.on_epoch(e);
  }
  torch::NoGradGuard no_grad;
  const auto keys = state_keys(model);
  for (size_t i = 0; i < keys.size(); ++i) {
    torch::Tensor t;
    ar.read("t" + std::to_string(i), t, /*is_buffer=*/true);
    model.tensor(keys[i].first, keys[i].second).copy_(t);
  }
  torch::serialize::InputArchive opt_ar;
  ar.read("optimizer", opt_ar);
  opt.load(opt_ar);
  torch::Tensor rng;
  ar.read("rng", rng, /*is_buffer=*/true);
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  }
  if (o.progress)
    std::cerr << "resumed training from " << path << " after epoch " << done << "/" << o.epochs << "\n";
  return done;
}

}  // namespace

void register_feature_loss(const std::string& kind, FeatureLossFn fn) { loss_registry()[kind] = std::move(fn); }

FeatureLossFn feature_loss(const std::string& kind) {
  auto it = loss_registry().find(kind);
  if (it == loss_registry().end()) {
    std::string known;
    for (const auto& k : feature_loss_kinds()) known += (known.empty() ? "" : ", ") + k;
    throw BadInput("unknown feature loss '", kind, "' (known: ", known.empty() ? "none registered" : known, ")");
  }
  return it->second;
}

std::vector<std::string> feature_loss_kinds() {
  std::vector<std::string> v;
  for (const auto& [k, f] : loss_registry()) v.push_back(k);
  return v;
}

std::pair<torch::Tensor, torch::Tensor> dataset_to_torch(const ir::Dataset& data, int64_t limit) {
  check_dataset(data, "to torch");
  int64_t n = limit < 0 ? data.size : std::min(limit, data.size);
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), data.sample_shape.begin(), data.sample_shape.end());
  auto x = torch::from_blob(const_cast<float*>(data.x.data()), shape, torch::kFloat32).clone();
  auto y = torch::from_blob(const_cast<int64_t*>(data.y.data()), {n}, torch::kInt64).clone();
  return {x, y};
}

torch::Tensor training_loss(const torch::Tensor& student, const torch::Tensor& labels,
                            const torch::Tensor& teacher, double temperature, double alpha, double ce_weight) {
  if (student.dim() != 2 || labels.dim() != 1 || labels.size(0) != student.size(0))
    throw BadInput("loss: logits of shape ", student.sizes(), " and labels of shape ", labels.sizes(),
                   ", expected {N, K} and {N}");
  const int64_t k = student.size(1);
  if (labels.numel() > 0) {
    int64_t lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
    if (lo < 0 || hi >= k)
      throw BadInput("loss: label ", lo < 0 ? lo : hi, " is outside [0, ", k, ") of the model's ", k,
                     " outputs");
  }
  torch::Tensor loss = torch::nn::functional::cross_entropy(student, labels);
  if (ce_weight != 1) loss = loss * ce_weight;
  if (teacher.defined()) {
    if (teacher.sizes() != student.sizes())
      throw BadInput("distillation: teacher logits ", teacher.sizes(), " differ from the student's ",
                     student.sizes());
    if (!(temperature > 0)) throw BadInput("distillation: temperature is ", temperature, ", expected > 0");
    torch::Tensor log_pt = torch::log_softmax(teacher.detach() / temperature, 1);
    torch::Tensor log_ps = torch::log_softmax(student / temperature, 1);
    torch::Tensor kl = (log_pt.exp() * (log_pt - log_ps)).sum(1).mean();
    loss = loss + alpha * temperature * temperature * kl;
  }
  return loss;
}

double learning_rate(const TrainOptions& o, int64_t step, int64_t total) {
  double frac = total > 0 ? static_cast<double>(step) / static_cast<double>(total) : 0.0;
  if (o.schedule == "cosine") return o.lr * 0.5 * (1.0 + std::cos(M_PI * frac));
  if (o.schedule == "step") return o.lr * (frac >= 0.75 ? 0.01 : frac >= 0.5 ? 0.1 : 1.0);
  if (o.schedule == "constant") return o.lr;
  throw BadInput("training: schedule '", o.schedule, "' is unknown (known: cosine, step, constant)");
}

TrainResult train(Executor& model, const ir::Dataset& data, const TrainOptions& o,
                  const ir::Dataset* val) {
  check_dataset(data, "training");
  if (o.epochs < 0) throw BadInput("training: epochs is ", o.epochs, ", expected >= 0");
  if (o.batch_size < 1) throw BadInput("training: batch_size is ", o.batch_size, ", expected >= 1");
  if (!(o.lr > 0)) throw BadInput("training: lr is ", o.lr, ", expected > 0");
  learning_rate(o, 0, 1);  // validates the schedule name
  const int64_t n = o.limit < 0 ? data.size : std::min(o.limit, data.size);
  if (n < 1) throw BadInput("training: limit is ", o.limit, ", expected >= 1");

  check_terms(model, o);
  const bool kd = o.teacher && o.alpha > 0;
  const bool need_logits = o.ce_weight > 0 || kd;
  if (!need_logits && o.terms.empty())
    throw BadInput("training: nothing to minimise (ce_weight 0 and no distillation term)");
  at::manual_seed(o.seed);
  std::set<std::string> frozen = model.frozen();
  std::vector<torch::Tensor> params = trainable_parameters(model, o, frozen);
  if (params.empty()) throw BadInput("training: the model has no trainable tensors");
  check_shards(o, n);
  FrozenGuard frozen_guard(model, frozen);
  std::vector<std::string> student_names, teacher_names(o.feed);
  for (const auto& t : o.terms) {
    student_names.push_back(t.student);
    teacher_names.push_back(t.teacher);
  }
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (o.optimizer == "adam") {
    opt = std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  } else if (o.optimizer == "sgd") {
    opt = std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
  } else {
    throw BadInput("training: optimizer '", o.optimizer, "' is unknown (known: adam, sgd)");
  }

  auto [x_all, y_all] = views(model, data, data.size);
  const int64_t steps_per_epoch = (n + o.batch_size - 1) / o.batch_size;
  const int64_t total_steps = steps_per_epoch * o.epochs;
  std::unique_ptr<ModeGuard> teacher_mode;
  if (o.teacher) teacher_mode = std::make_unique<ModeGuard>(*o.teacher, false);

  TrainResult result;
  int call = -1;
  nlohmann::json print;
  int first_epoch = 0;
  if (o.checkpoint) {
    call = o.checkpoint->calls++;
    print = fingerprint(model, o, n, steps_per_epoch);
    first_epoch = restore_checkpoint(o.checkpoint->file(call), model, *opt, print, o, steps_per_epoch, result);
  }
  int64_t step = first_epoch * steps_per_epoch;
  for (int epoch = first_epoch; epoch < o.epochs; ++epoch) {
    std::vector<int64_t> order = ir::shuffled_indices(n, o.seed + static_cast<uint64_t>(epoch));
    torch::Tensor perm = torch::from_blob(order.data(), {n}, torch::kInt64);
    ProgressBar bar(steps_per_epoch, "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs),
                    o.progress);
    model.set_training(true);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    for (int64_t b = 0; b < steps_per_epoch; ++b) {
      const int64_t lo = b * o.batch_size, hi = std::min(n, lo + o.batch_size);
      const auto [row_lo, row_hi] = shard_rows(lo, hi, o);  // all of [lo, hi) in one process
      torch::Tensor idx = perm.slice(0, row_lo, row_hi);
      torch::Tensor xb = x_all.index_select(0, idx);
      torch::Tensor yb = y_all.index_select(0, idx);
      double lr = learning_rate(o, step, total_steps);
      for (auto& group : opt->param_groups()) group.options().set_lr(lr);

      std::map<std::string, torch::Tensor> tv;
      if (o.teacher) {
        torch::NoGradGuard no_grad;
        tv = o.teacher->forward_with(xb, teacher_names, kd);
      }
      opt->zero_grad();
      std::map<std::string, torch::Tensor> sv;
      if (o.feed.empty()) {
        sv = model.forward_with(xb, student_names, need_logits);
      } else {
        std::map<std::string, torch::Tensor> given;
        for (const auto& f : o.feed) given[f] = tv.at(f);
        sv = model.forward_from(given, student_names, need_logits);
      }
      torch::Tensor loss = torch::zeros({}, torch::kFloat32);
      if (need_logits)
        loss = training_loss(sv.at("output"), yb, kd ? tv.at("output") : torch::Tensor(), o.temperature, o.alpha,
                             o.ce_weight);
      for (const auto& t : o.terms) {
        const torch::Tensor& a = sv.at(t.student);
        const torch::Tensor& b = tv.at(t.teacher);
        if (a.sizes() != b.sizes())
          throw BadInput("distillation: ", t.kind, " term: student '", t.student, "' has shape ", a.sizes(),
                         ", teacher '", t.teacher, "' ", b.sizes());
        loss = loss + t.weight * t.fn(a, b);
      }
      if (o.shard_count == 1) {
        loss.backward();
      } else {  // weighted so that the mean over ranks is the gradient of the whole batch's mean loss
        (loss * (static_cast<double>((row_hi - row_lo) * o.shard_count) / static_cast<double>(hi - lo))).backward();
        std::vector<torch::Tensor> grads;
        for (auto& p : params) {
          if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
          grads.push_back(p.grad());
        }
        o.average(grads);
      }
      opt->step();

      const int64_t m = row_hi - row_lo;
      loss_sum += loss.item<double>() * static_cast<double>(m);
      if (need_logits) correct += sv.at("output").detach().argmax(1).eq(yb).sum().item<int64_t>();
      seen += m;
      if (o.on_step) o.on_step(step, epoch);
      ++step;
      bar.update(b + 1, "loss " + fixed(loss_sum / seen) + (need_logits ? " acc " + fixed(double(correct) / seen) : ""));
    }
    average_epoch(model, frozen, o, loss_sum, correct, seen);
    EpochStats st;
    st.epoch = epoch;
    st.loss = loss_sum / static_cast<double>(seen);
    st.train_accuracy = need_logits ? static_cast<double>(correct) / static_cast<double>(seen) : -1;
    std::string status = "loss " + fixed(st.loss) + (need_logits ? " acc " + fixed(st.train_accuracy) : "");
    if (val) {
      EvalResult e = evaluate(model, *val);
      st.val_accuracy = e.accuracy;
      st.val_loss = e.loss;
      status += " val_loss " + fixed(e.loss) + " val_acc " + fixed(e.accuracy);
    }
    st.seconds = bar.elapsed();
    bar.finish(status);
    result.history.push_back(st);
    if (o.on_epoch) o.on_epoch(epoch);
    // Data parallel: every rank holds the same state; rank 0 writes it, every rank reads it on resume.
    if (o.checkpoint && o.shard_rank == 0) save_checkpoint(o.checkpoint->file(call), model, *opt, print, result);
  }
  model.set_training(false);
  return result;
}

EvalResult evaluate(Executor& model, const ir::Dataset& data, int64_t batch_size, bool progress) {
  check_dataset(data, "evaluation");
  if (batch_size < 1) throw BadInput("evaluation: batch_size is ", batch_size, ", expected >= 1");
  ModeGuard mode(model, false);
  torch::NoGradGuard no_grad;
  auto [x_all, y_all] = views(model, data, data.size);
  const int64_t steps = (data.size + batch_size - 1) / batch_size;
  ProgressBar bar(steps, "eval " + data.name, progress);
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t b = 0; b < steps; ++b) {
    const int64_t lo = b * batch_size, hi = std::min(data.size, lo + batch_size);
    torch::Tensor logits = model.forward(x_all.slice(0, lo, hi));
    torch::Tensor yb = y_all.slice(0, lo, hi);
    loss_sum += training_loss(logits, yb).item<double>() * static_cast<double>(hi - lo);
    correct += logits.argmax(1).eq(yb).sum().item<int64_t>();
    bar.update(b + 1);
  }
  EvalResult r;
  r.n = data.size;
  r.accuracy = static_cast<double>(correct) / static_cast<double>(data.size);
  r.loss = loss_sum / static_cast<double>(data.size);
  bar.finish("loss " + fixed(r.loss) + " acc " + fixed(r.accuracy));
  return r;
}

void fill_metadata_from_data(ir::Graph& g, const ir::Dataset& data) {
  check_dataset(data, "metadata");
  if (g.meta.mean.empty() && g.meta.std.empty()) {
    // Channel = the first sample dimension of an image ({C, H, W}); a vector has one "channel".
    const int64_t per = ir::numel(data.sample_shape);
    const int64_t channels = data.sample_shape.size() >= 2 ? data.sample_shape[0] : 1;
    const int64_t inner = per / channels;
    std::vector<double> sum(static_cast<size_t>(channels), 0.0), sq(static_cast<size_t>(channels), 0.0);
    for (int64_t i = 0; i < data.size; ++i)
      for (int64_t c = 0; c < channels; ++c) {
        const float* p = data.x.data() + i * per + c * inner;
        double s = 0, q = 0;
        for (int64_t j = 0; j < inner; ++j) {
          s += p[j];
          q += static_cast<double>(p[j]) * p[j];
        }
        sum[static_cast<size_t>(c)] += s;
        sq[static_cast<size_t>(c)] += q;
      }
    const double count = static_cast<double>(data.size) * static_cast<double>(inner);
    for (int64_t c = 0; c < channels; ++c) {
      double mean = sum[static_cast<size_t>(c)] / count;
      double var = std::max(0.0, sq[static_cast<size_t>(c)] / count - mean * mean);
      double sd = std::sqrt(var);
      g.meta.mean.push_back(static_cast<float>(mean));
      g.meta.std.push_back(static_cast<float>(sd > 1e-12 ? sd : 1.0));
    }
  }
  if (g.meta.labels.empty()) g.meta.labels = data.labels;
}

void set_threads(int n) {
  int threads = n > 0 ? n : static_cast<int>(std::thread::hardware_concurrency());
  torch::set_num_threads(std::max(threads, 1));
}

}  // namespace shrink
