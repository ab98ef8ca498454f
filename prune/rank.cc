#include "prune/rank.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "compress/executor.h"
#include "compress/executor_setup.h"
#include "compress/ir/error.h"
#include "compress/train.h"

namespace shrink::prune {

namespace {

/// The tensors whose statistics rank a prunable group's channels: its members that are
/// activations (ReLU, ReLU6, LeakyReLU: APoZ counts their zeros), or, for a group without one
/// (e.g. a linear bottleneck), its members that a non-member reads.
std::map<int, std::vector<std::string>> probes(const ir::Graph& g, const ChannelAnalysis& a) {
  std::map<int, std::vector<std::string>> out;
  for (size_t i = 0; i < a.groups.size(); ++i) {
    const ChannelGroup& grp = a.groups[i];
    if (!grp.prunable) continue;
    for (const std::string& m : grp.members) {
      const ir::Op op = g.at(m).op;
      if (op == ir::Op::ReLU || op == ir::Op::ReLU6 || op == ir::Op::LeakyReLU) out[static_cast<int>(i)].push_back(m);
    }
    if (out.count(static_cast<int>(i))) continue;
    const std::set<std::string> members(grp.members.begin(), grp.members.end());
    for (const std::string& m : grp.members) {
      bool outside = false;
      for (const std::string& c : g.consumers(m)) outside = outside || !members.count(c);
      if (outside) out[static_cast<int>(i)].push_back(m);
    }
  }
  return out;
}

double entropy_of(const std::vector<double>& v) {
  if (v.empty()) return 0;
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  if (*hi - *lo <= 0) return 0;
  constexpr int kBins = 32;
  std::vector<double> h(kBins, 0);
  for (double x : v) h[static_cast<size_t>(std::min(kBins - 1, static_cast<int>((x - *lo) / (*hi - *lo) * kBins)))] += 1;
  double e = 0;
  for (double c : h)
    if (c > 0) e -= c / v.size() * std::log(c / v.size());
  return e;
}

}  // namespace

const std::vector<std::string>& structured_methods() {
  static const std::vector<std::string> m = {"random", "mean-activation", "entropy", "scaled-entropy",
                                             "l1",     "apoz",            "sensitivity"};
  return m;
}

std::map<std::string, std::vector<double>> rank_channels(const ir::Graph& g, const ChannelAnalysis& a,
                                                         const std::string& criterion, const ir::Dataset& data,
                                                         const RankOptions& o) {
  const auto& known = structured_methods();
  if (std::find(known.begin(), known.end(), criterion) == known.end()) {
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    throw BadInput("unknown structured pruning criterion '", criterion, "' (known: ", list, ")");
  }
  std::map<std::string, std::vector<double>> scores;
  for (const ChannelGroup& grp : a.groups)
    if (grp.prunable) scores[grp.name].assign(static_cast<size_t>(grp.channels), 0.0);

  if (criterion == "random") {
    std::mt19937_64 rng(o.seed);
    std::uniform_real_distribution<double> u(0, 1);
    for (auto& [name, s] : scores)
      for (double& v : s) v = u(rng);
    return scores;
  }
  if (criterion == "l1") {
    for (const ChannelGroup& grp : a.groups) {
      if (!grp.prunable) continue;
      std::vector<double>& s = scores[grp.name];
      for (const std::string& p : grp.producers) {
        const ir::Tensor& w = *g.at(p).tensor("weight");
        const int64_t per = w.numel() / w.shape[0];
        for (int64_t c = 0; c < w.shape[0]; ++c) {
          double sum = 0;
          for (int64_t i = c * per; i < (c + 1) * per; ++i) sum += std::fabs(w.at(i));
          s[static_cast<size_t>(c)] += sum / static_cast<double>(per);
        }
      }
    }
    return scores;
  }

  // Activation criteria: statistics of the probe tensors over `data`.
  if (data.size == 0) throw BadInput("pruning criterion '", criterion, "' needs data (no samples given)");
  const auto probe = probes(g, a);
  std::vector<std::string> names;
  for (const auto& [grp, list] : probe) names.insert(names.end(), list.begin(), list.end());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  auto model = make_model_executor(g, ExecutorPurpose::Eval);
  Executor& ex = model->executor();
  const bool grad = criterion == "sensitivity";
  // Per group and channel: sums over samples (and positions).
  std::map<int, std::vector<double>> sum_abs, zeros, positions, taylor;
  std::map<int, std::vector<std::vector<double>>> sample_means;  // entropy: per channel, per sample
  for (const auto& [grp, list] : probe) {
    const size_t c = static_cast<size_t>(a.groups[static_cast<size_t>(grp)].channels);
    sum_abs[grp].assign(c, 0);
    zeros[grp].assign(c, 0);
    positions[grp].assign(c, 0);
    taylor[grp].assign(c, 0);
    sample_means[grp].assign(c, {});
  }
  auto [x_all, y_all] = dataset_to_torch(data);
  for (int64_t start = 0; start < data.size; start += o.batch_size) {
    const int64_t end = std::min(data.size, start + o.batch_size);
    torch::Tensor x = x_all.slice(0, start, end), y = y_all.slice(0, start, end);
    std::unique_ptr<torch::NoGradGuard> no_grad;
    if (!grad) no_grad = std::make_unique<torch::NoGradGuard>();
    auto out = ex.forward_with(x, names);
    std::vector<torch::Tensor> grads;
    if (grad) {
      std::vector<torch::Tensor> acts;
      for (const auto& n : names) acts.push_back(out.at(n));
      torch::Tensor loss = torch::nn::functional::cross_entropy(out.at("output"), y);
      grads = torch::autograd::grad({loss}, acts);
    }
    for (size_t k = 0; k < names.size(); ++k) {
      const std::vector<ChannelRef>& chans = a.channels.at(names[k]);
      torch::Tensor t = out.at(names[k]).detach().to(torch::kFloat64);
      const int64_t n = t.size(0), cdim = t.size(1);
      t = t.reshape({n, cdim, -1});
      const int64_t hw = t.size(2);
      torch::Tensor mean_abs = t.abs().sum(std::vector<int64_t>{0, 2});
      torch::Tensor zero = (t <= 0).to(torch::kFloat64).sum(std::vector<int64_t>{0, 2});
      torch::Tensor smean = t.mean(2).t().contiguous();  // {C, N}
      torch::Tensor tay;
      if (grad) {
        torch::Tensor gt = grads[k].detach().to(torch::kFloat64).reshape({n, cdim, -1});
        tay = (t * gt).sum(2);  // {N, C}: per sample
      }
      for (int64_t j = 0; j < cdim; ++j) {
        const ChannelRef& r = chans[static_cast<size_t>(j)];
        if (r.group < 0 || !probe.count(r.group)) continue;
        const auto& plist = probe.at(r.group);
        if (std::find(plist.begin(), plist.end(), names[k]) == plist.end()) continue;
        const size_t i = static_cast<size_t>(r.index);
        sum_abs[r.group][i] += mean_abs[j].item<double>();
        zeros[r.group][i] += zero[j].item<double>();
        positions[r.group][i] += static_cast<double>(n * hw);
        const double* sm = smean[j].data_ptr<double>();
        sample_means[r.group][i].insert(sample_means[r.group][i].end(), sm, sm + n);
        if (grad) taylor[r.group][i] += tay.select(1, j).sum().item<double>();
      }
    }
  }
  for (const auto& [grp, list] : probe) {
    std::vector<double>& s = scores[a.groups[static_cast<size_t>(grp)].name];
    for (size_t i = 0; i < s.size(); ++i) {
      const double pos = std::max(1.0, positions[grp][i]);
      const double mean_act = sum_abs[grp][i] / pos;
      if (criterion == "mean-activation") s[i] = mean_act;
      else if (criterion == "apoz") s[i] = 1.0 - zeros[grp][i] / pos;
      else if (criterion == "entropy") s[i] = entropy_of(sample_means[grp][i]);
      else if (criterion == "scaled-entropy") s[i] = entropy_of(sample_means[grp][i]) * mean_act;
      else s[i] = std::fabs(taylor[grp][i]) / static_cast<double>(data.size);
    }
  }
  return scores;
}

std::map<std::string, std::vector<bool>> choose_channels(const std::map<std::string, std::vector<double>>& scores,
                                                         const std::map<std::string, double>& ratios, bool global) {
  std::map<std::string, std::vector<bool>> keep;
  auto lowest_first = [](const std::vector<double>& s) {
    std::vector<size_t> order(s.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return s[x] < s[y]; });
    return order;
  };
  if (!global) {
    for (const auto& [name, ratio] : ratios) {
      const std::vector<double>& s = scores.at(name);
      const size_t remove = std::min(s.size() - 1, static_cast<size_t>(std::floor(ratio * static_cast<double>(s.size()))));
      std::vector<bool> k(s.size(), true);
      const auto order = lowest_first(s);
      for (size_t i = 0; i < remove; ++i) k[order[i]] = false;
      keep[name] = k;
    }
    return keep;
  }
  struct Entry { double score; std::string group; size_t index; };
  std::vector<Entry> all;
  double ratio_sum = 0;
  size_t total = 0;
  for (const auto& [name, ratio] : ratios) {
    const std::vector<double>& s = scores.at(name);
    double rms = 0;
    for (double v : s) rms += v * v;
    rms = std::sqrt(rms / std::max<size_t>(1, s.size()));
    for (size_t i = 0; i < s.size(); ++i) all.push_back({rms > 0 ? s[i] / rms : 0.0, name, i});
    keep[name].assign(s.size(), true);
    ratio_sum += ratio;
    total += s.size();
  }
  if (ratios.empty()) return keep;
  const size_t remove = static_cast<size_t>(std::floor(ratio_sum / ratios.size() * static_cast<double>(total)));
  std::stable_sort(all.begin(), all.end(), [](const Entry& x, const Entry& y) { return x.score < y.score; });
  size_t removed = 0;
  for (const Entry& e : all) {
    if (removed == remove) break;
    std::vector<bool>& k = keep[e.group];
    if (std::count(k.begin(), k.end(), true) <= 1) continue;  // never a whole group
    k[e.index] = false;
    ++removed;
  }
  return keep;
}

}  // namespace shrink::prune
