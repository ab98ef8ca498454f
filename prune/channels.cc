#include "prune/channels.h"

#include <algorithm>
#include <numeric>
#include <set>

#include "compress/ir/error.h"

namespace shrink::prune {

namespace {

using ir::Node;
using ir::Op;

bool is_depthwise(const Node& n) {
  return n.op == Op::Conv2d && n.groups > 1 && n.groups == n.in_channels && n.out_channels == n.in_channels;
}

int64_t channel_count(const ir::Shape& s) { return s.empty() ? 1 : s[0]; }

struct Builder {
  std::vector<ChannelGroup> raw;
  std::vector<int> parent;

  int root(int x) {
    while (parent[static_cast<size_t>(x)] != x) x = parent[static_cast<size_t>(x)] = parent[static_cast<size_t>(parent[static_cast<size_t>(x)])];
    return x;
  }
  void unite(int a, int b) {
    a = root(a), b = root(b);
    if (a != b) parent[static_cast<size_t>(std::max(a, b))] = std::min(a, b);
  }
  int make(const Node& n, int64_t c) {
    ChannelGroup grp;
    grp.name = n.name;
    grp.channels = c;
    grp.producers = {n.name};
    raw.push_back(grp);
    parent.push_back(static_cast<int>(parent.size()));
    return static_cast<int>(raw.size() - 1);
  }
  void forbid(int grp, const std::string& why) {
    ChannelGroup& r = raw[static_cast<size_t>(grp)];
    if (r.prunable) r.why_not = why;
    r.prunable = false;
  }
  void forbid(const std::vector<ChannelRef>& chans, const std::string& why) {
    std::set<int> seen;
    for (const ChannelRef& c : chans)
      if (c.group >= 0 && seen.insert(c.group).second) forbid(c.group, why);
  }
};

std::vector<ChannelRef> fixed(int64_t n) {
  std::vector<ChannelRef> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = {-1, i};
  return v;
}

/// Keeps the entries of dims 0 and 1 of `t` ({d0, d1, rest...}) whose flags are true (empty
/// flags: keep the whole dim).
ir::Tensor slice01(const ir::Tensor& t, const std::vector<bool>& k0, const std::vector<bool>& k1) {
  const int64_t d0 = t.shape.at(0), d1 = t.shape.size() > 1 ? t.shape[1] : 1;
  const int64_t rest = d0 * d1 != 0 ? t.numel() / (d0 * d1) : 0;
  auto keep0 = [&](int64_t i) { return k0.empty() || k0[static_cast<size_t>(i)]; };
  auto keep1 = [&](int64_t i) { return k1.empty() || k1[static_cast<size_t>(i)]; };
  ir::Shape shape = t.shape;
  int64_t n0 = 0, n1 = 0;
  for (int64_t i = 0; i < d0; ++i) n0 += keep0(i);
  for (int64_t i = 0; i < d1; ++i) n1 += keep1(i);
  shape[0] = n0;
  if (shape.size() > 1) shape[1] = n1;
  std::vector<float> v;
  v.reserve(static_cast<size_t>(n0 * n1 * rest));
  for (int64_t i = 0; i < d0; ++i) {
    if (!keep0(i)) continue;
    for (int64_t j = 0; j < d1; ++j) {
      if (!keep1(j)) continue;
      const float* p = t.data.data() + (i * d1 + j) * rest;
      v.insert(v.end(), p, p + rest);
    }
  }
  return ir::Tensor(shape, std::move(v));
}

}  // namespace

int ChannelAnalysis::find(const std::string& name) const {
  for (size_t i = 0; i < groups.size(); ++i)
    if (groups[i].name == name) return static_cast<int>(i);
  std::string known;
  for (const auto& grp : groups)
    if (grp.prunable) known += (known.empty() ? "" : ", ") + grp.name;
  throw BadInput("no channel group named '", name, "' (prunable: ", known, ")");
}

ChannelAnalysis analyze_channels(const ir::Graph& in) {
  ir::Graph g = in;
  g.infer_shapes();
  Builder b;
  std::map<std::string, std::vector<ChannelRef>> ch;
  ch[ir::Graph::kInput] = fixed(channel_count(g.meta.input_shape));
  for (const Node& n : g.nodes) {
    auto input = [&](size_t i) -> const std::vector<ChannelRef>& {
      auto it = ch.find(n.inputs.at(i));
      if (it == ch.end()) throw BadInput("node '", n.name, "' reads '", n.inputs[i], "', which comes later");
      return it->second;
    };
    auto forbid_inputs = [&](const std::string& why) {
      for (size_t i = 0; i < n.inputs.size(); ++i) b.forbid(input(i), why);
    };
    std::vector<ChannelRef> out;
    switch (n.op) {
      case Op::Conv2d:
        if (is_depthwise(n)) {
          out = input(0);
          break;
        }
        if (n.groups != 1) forbid_inputs("feeds the grouped convolution '" + n.name + "'");
        [[fallthrough]];
      case Op::Linear: {
        const int grp = b.make(n, n.out_channels);
        if (n.op == Op::Conv2d && n.groups != 1) b.forbid(grp, "made by the grouped convolution '" + n.name + "'");
        out.resize(static_cast<size_t>(n.out_channels));
        for (int64_t i = 0; i < n.out_channels; ++i) out[static_cast<size_t>(i)] = {grp, i};
        break;
      }
      case Op::BatchNorm: case Op::ReLU: case Op::ReLU6: case Op::LeakyReLU: case Op::Sigmoid: case Op::Tanh:
      case Op::MaxPool: case Op::AvgPool: case Op::GlobalAvgPool: case Op::Identity:
        out = input(0);
        break;
      case Op::Add: {
        out = input(0);
        for (size_t i = 1; i < n.inputs.size(); ++i) {
          const std::vector<ChannelRef>& other = input(i);
          bool lined_up = other.size() == out.size();
          for (size_t j = 0; lined_up && j < out.size(); ++j)
            lined_up = out[j].group >= 0 && other[j].group >= 0 && out[j].index == other[j].index;
          if (!lined_up) {
            forbid_inputs("meets unaligned channels in the Add '" + n.name + "'");
            continue;
          }
          for (size_t j = 0; j < out.size(); ++j) b.unite(out[j].group, other[j].group);
        }
        break;
      }
      case Op::Concat:
        if (n.axis == 1) {
          for (size_t i = 0; i < n.inputs.size(); ++i) out.insert(out.end(), input(i).begin(), input(i).end());
        } else {
          forbid_inputs("enters the Concat '" + n.name + "' on axis " + std::to_string(n.axis));
          out = fixed(channel_count(n.shape));
        }
        break;
      case Op::Flatten: {
        const ir::Shape& s = g.shape_of(n.inputs.at(0));
        const int64_t per = s.size() <= 1 ? 1 : ir::numel(s) / s[0];
        if (n.axis != 1) {
          forbid_inputs("enters the Flatten '" + n.name + "' from axis " + std::to_string(n.axis));
          out = fixed(channel_count(n.shape));
          break;
        }
        for (const ChannelRef& c : input(0)) out.insert(out.end(), static_cast<size_t>(per), c);
        break;
      }
      default:  // Reshape, Softmax: channels lose their identity
        forbid_inputs(std::string("enters the ") + ir::op_name(n.op) + " '" + n.name + "'");
        out = fixed(channel_count(n.shape));
    }
    ch[n.name] = std::move(out);
  }
  for (const std::string& o : g.outputs) b.forbid(ch.at(o), "reaches the graph output '" + o + "'");

  // One group per union-find root, in order of creation.
  ChannelAnalysis a;
  std::map<int, int> final_of;
  for (size_t i = 0; i < b.raw.size(); ++i) {
    const int r = b.root(static_cast<int>(i));
    auto [it, fresh] = final_of.emplace(r, static_cast<int>(a.groups.size()));
    if (fresh) {
      ChannelGroup grp = b.raw[static_cast<size_t>(r)];
      grp.producers.clear();
      grp.prunable = true;
      grp.why_not.clear();
      a.groups.push_back(grp);
    }
    ChannelGroup& grp = a.groups[static_cast<size_t>(it->second)];
    const ChannelGroup& src = b.raw[i];
    grp.producers.insert(grp.producers.end(), src.producers.begin(), src.producers.end());
    if (!src.prunable && grp.prunable) {
      grp.prunable = false;
      grp.why_not = src.why_not;
    }
  }
  for (const Node& n : g.nodes) {
    std::vector<ChannelRef>& chans = ch[n.name];
    std::set<int> seen;
    for (ChannelRef& c : chans) {
      if (c.group < 0) continue;
      c.group = final_of.at(b.root(c.group));
      if (seen.insert(c.group).second) a.groups[static_cast<size_t>(c.group)].members.push_back(n.name);
    }
  }
  a.channels = std::move(ch);
  return a;
}

void set_channel_masks(ir::Graph& g, const ChannelAnalysis& a, const std::map<std::string, std::vector<bool>>& keep) {
  std::map<int, const std::vector<bool>*> by_group;
  for (const auto& [name, flags] : keep) {
    const int i = a.find(name);
    const ChannelGroup& grp = a.groups[static_cast<size_t>(i)];
    if (!grp.prunable) throw BadInput("the channels of '", name, "' cannot be pruned: it ", grp.why_not);
    if (static_cast<int64_t>(flags.size()) != grp.channels)
      throw BadInput("'", name, "': ", flags.size(), " keep flags for ", grp.channels, " channels");
    if (std::none_of(flags.begin(), flags.end(), [](bool f) { return f; }))
      throw BadInput("'", name, "': every channel would be removed");
    by_group[i] = &flags;
  }
  for (Node& n : g.nodes) {
    const std::vector<ChannelRef>& chans = a.channels.at(n.name);
    bool touched = false;
    std::vector<float> m(chans.size(), 1.0f);
    for (size_t j = 0; j < chans.size(); ++j) {
      auto it = by_group.find(chans[j].group);
      if (it == by_group.end()) continue;
      touched = true;
      m[j] = (*it->second)[static_cast<size_t>(chans[j].index)] ? 1.0f : 0.0f;
    }
    if (!touched) continue;
    if (const ir::Tensor* old = n.tensor("out_mask"); old && old->numel() == static_cast<int64_t>(m.size()))
      for (size_t j = 0; j < m.size(); ++j) m[j] *= old->data[j];
    const int64_t size = static_cast<int64_t>(m.size());
    n.tensors["out_mask"] = ir::Tensor({size}, std::move(m));
  }
}

ir::Graph thin(const ir::Graph& in) {
  if (in.state.contains("quant")) throw BadInput("thinning a quantized model: prune before quantizing");
  ir::Graph g = in;
  const ChannelAnalysis a = analyze_channels(g);
  // removed[group][index] from the group's first producer's mask.
  std::vector<std::vector<bool>> removed(a.groups.size());
  for (size_t i = 0; i < a.groups.size(); ++i) {
    const ChannelGroup& grp = a.groups[i];
    const ir::Tensor* m = g.at(grp.producers.at(0)).tensor("out_mask");
    removed[i].assign(static_cast<size_t>(grp.channels), false);
    if (!m || !grp.prunable) continue;
    for (int64_t c = 0; c < grp.channels && c < m->numel(); ++c) removed[i][static_cast<size_t>(c)] = m->at(c) == 0.0f;
  }
  auto keep_of = [&](const std::string& name) {
    const std::vector<ChannelRef>& chans = a.channels.at(name);
    std::vector<bool> k(chans.size(), true);
    for (size_t j = 0; j < chans.size(); ++j)
      if (chans[j].group >= 0) k[j] = !removed[static_cast<size_t>(chans[j].group)][static_cast<size_t>(chans[j].index)];
    return k;
  };
  auto count = [](const std::vector<bool>& k) { return static_cast<int64_t>(std::count(k.begin(), k.end(), true)); };
  for (Node& n : g.nodes) {
    n.tensors.erase("out_mask");
    const std::vector<bool> kout = keep_of(n.name);
    if (count(kout) == static_cast<int64_t>(kout.size()) && n.op != Op::Conv2d && n.op != Op::Linear) continue;
    auto slice = [&](const char* key, const std::vector<bool>& k0, const std::vector<bool>& k1) {
      if (ir::Tensor* t = n.tensor(key)) *t = slice01(*t, k0, k1);
    };
    switch (n.op) {
      case Op::Conv2d:
      case Op::Linear: {
        const bool dw = is_depthwise(n);
        const std::vector<bool> kin = dw ? std::vector<bool>{} : keep_of(n.inputs.at(0));
        slice("weight", kout, kin);
        slice("weight_mask", kout, kin);
        slice("bias", kout, {});
        n.out_channels = count(kout);
        if (dw) n.in_channels = n.groups = n.out_channels;
        else n.in_channels = count(kin);
        break;
      }
      case Op::BatchNorm:
        for (const char* key : {"weight", "bias", "running_mean", "running_var"}) slice(key, kout, {});
        break;
      default:
        break;
    }
  }
  g.infer_shapes();
  return g;
}

}  // namespace shrink::prune
