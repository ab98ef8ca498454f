// c10d wrapper: TCPStore + ProcessGroupGloo (compress/dist.h). USE_C10D_GLOO is defined for
// this file only (compress/CMakeLists.txt): the c10d Gloo header is empty without it.
#include "compress/dist.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <numeric>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "compress/ir/error.h"
#include "compress/train.h"

namespace shrink::dist {
namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

int to_int(const std::string& s, const std::string& what) {
  size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size()) throw BadInput(what, " ", s, ": expected an integer");
  return v;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

Options resolve(std::optional<int> world_size, std::optional<int> rank, const std::string& master,
                std::optional<int> timeout_seconds) {
  Options o;
  std::string ws_src = "--world-size", rank_src = "--rank", port_src = "--master";
  if (world_size) o.world_size = *world_size;
  else if (auto v = env("WORLD_SIZE")) o.world_size = to_int(*v, ws_src = "WORLD_SIZE");
  if (rank) o.rank = *rank;
  else if (auto v = env("RANK")) o.rank = to_int(*v, rank_src = "RANK");
  if (o.world_size < 1) throw BadInput(ws_src, " ", o.world_size, ": expected >= 1 processes");
  if (o.rank < 0 || o.rank >= o.world_size)
    throw BadInput(rank_src, " ", o.rank, ": expected 0 <= rank < world size ", o.world_size);
  bool have_addr = false;
  if (!master.empty()) {
    const size_t colon = master.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == master.size())
      throw BadInput("--master ", master, ": expected ADDR:PORT (e.g. 127.0.0.1:29500)");
    o.master_addr = master.substr(0, colon);
    o.master_port = to_int(master.substr(colon + 1), "--master port");
    have_addr = true;
  } else {
    if (auto v = env("MASTER_ADDR")) o.master_addr = *v, have_addr = true;
    if (auto v = env("MASTER_PORT")) o.master_port = to_int(*v, port_src = "MASTER_PORT");
  }
  if (o.master_port < 1 || o.master_port > 65535)
    throw BadInput(port_src, " port ", o.master_port, ": expected 1..65535");
  if (o.world_size > 1 && !have_addr)
    throw BadInput(ws_src, " ", o.world_size, ": needs --master ADDR:PORT or MASTER_ADDR / MASTER_PORT");
  if (timeout_seconds) {
    if (*timeout_seconds < 1) throw BadInput("--dist-timeout ", *timeout_seconds, ": expected >= 1 seconds");
    o.timeout = std::chrono::seconds(*timeout_seconds);
  }
  return o;
}

struct Group::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};

namespace {

/// Runs a c10d call; any failure becomes one BadInput line naming the rank and the operation.
void guarded(int rank, int size, const char* what, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const c10::Error& e) {
    throw BadInput("distributed rank ", rank, "/", size, ": ", what, " failed (a rank died or timed out?): ",
                   first_line(e.what_without_backtrace()));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw BadInput("distributed rank ", rank, "/", size, ": ", what, " failed (a rank died or timed out?): ",
                   first_line(e.what()));
  }
}

}  // namespace

Group::Group(const Options& o) : rank_(o.rank), size_(o.world_size), timeout_(o.timeout) {
  if (size_ <= 1) return;  // no process group, no overhead
  impl_ = std::make_unique<Impl>();
  const std::string where = o.master_addr + ":" + std::to_string(o.master_port);
  guarded(rank_, size_, ("rendezvous at " + where).c_str(), [&] {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(o.master_port);
    so.isServer = rank_ == 0;
    so.numWorkers = static_cast<size_t>(size_);
    so.waitWorkers = true;
    so.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o.timeout);
    impl_->store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
    auto po = c10d::ProcessGroupGloo::Options::create(std::chrono::duration_cast<std::chrono::milliseconds>(o.timeout));
    // Loopback for a local job; otherwise the address this host reaches the master from.
    const bool local = o.master_addr == "127.0.0.1" || o.master_addr == "localhost";
    po->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                : c10d::ProcessGroupGloo::createDefaultDevice());
    po->threads = 2;
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, rank_, size_, po);
  });
}

Group::~Group() = default;

void Group::allreduce(std::vector<torch::Tensor> tensors, Reduce op) {
  if (size_ <= 1 || tensors.empty()) return;
  guarded(rank_, size_, "allreduce", [&] {
    // One flat buffer per call (one collective, not one per tensor); float64 if any is.
    torch::Dtype dtype = torch::kFloat32;
    for (const auto& t : tensors)
      if (t.scalar_type() == torch::kFloat64) dtype = torch::kFloat64;
    std::vector<torch::Tensor> parts;
    for (const auto& t : tensors) parts.push_back(t.detach().reshape({-1}).to(dtype));
    std::vector<torch::Tensor> flat = {torch::cat(parts)};
    impl_->pg->allreduce(flat)->wait(timeout_);
    if (op == Reduce::Avg) flat[0].div_(static_cast<double>(size_));
    int64_t at = 0;
    torch::NoGradGuard no_grad;
    for (auto& t : tensors) {
      const int64_t n = t.numel();
      t.copy_(flat[0].slice(0, at, at + n).view(t.sizes()));
      at += n;
    }
  });
}

std::vector<std::string> Group::allgather(const std::string& bytes) {
  if (size_ <= 1) return {bytes};
  std::vector<std::string> out(static_cast<size_t>(size_));
  guarded(rank_, size_, "allgather", [&] {
    // Lengths first, then every rank's bytes padded to the longest.
    std::vector<torch::Tensor> len_in = {torch::full({1}, static_cast<int64_t>(bytes.size()), torch::kInt64)};
    std::vector<std::vector<torch::Tensor>> len_out(1);
    for (int r = 0; r < size_; ++r) len_out[0].push_back(torch::zeros({1}, torch::kInt64));
    impl_->pg->allgather(len_out, len_in)->wait(timeout_);
    int64_t longest = 1;
    for (const auto& t : len_out[0]) longest = std::max(longest, t.item<int64_t>());
    torch::Tensor mine = torch::zeros({longest}, torch::kUInt8);
    std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(mine.data_ptr<uint8_t>()));
    std::vector<torch::Tensor> in = {mine};
    std::vector<std::vector<torch::Tensor>> all(1);
    for (int r = 0; r < size_; ++r) all[0].push_back(torch::zeros({longest}, torch::kUInt8));
    impl_->pg->allgather(all, in)->wait(timeout_);
    for (int r = 0; r < size_; ++r) {
      const char* p = reinterpret_cast<const char*>(all[0][static_cast<size_t>(r)].data_ptr<uint8_t>());
      out[static_cast<size_t>(r)].assign(p, static_cast<size_t>(len_out[0][static_cast<size_t>(r)].item<int64_t>()));
    }
  });
  return out;
}

std::string Group::broadcast(const std::string& bytes) {
  if (size_ <= 1) return bytes;
  return allgather(rank_ == 0 ? bytes : std::string()).front();
}

void Group::barrier() {
  if (size_ <= 1) return;
  guarded(rank_, size_, "barrier", [&] { impl_->pg->barrier()->wait(timeout_); });
}

void use_data_parallel(TrainOptions& o, Group& g) {
  if (!g.distributed()) return;
  o.shard_rank = g.rank();
  o.shard_count = g.size();
  o.average = [&g](std::vector<torch::Tensor>& t) { g.allreduce(t, Reduce::Avg); };
  if (g.rank() != 0) o.progress = false;
}

std::vector<int> balance(const std::vector<double>& cost, int parts) {
  if (parts < 1) throw BadInput("balance: expected >= 1 parts, got ", parts);
  std::vector<size_t> order(cost.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost[a] > cost[b]; });
  std::vector<double> load(static_cast<size_t>(parts), 0.0);
  std::vector<int> owner(cost.size(), 0);
  for (size_t i : order) {
    const int p = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[i] = p;
    load[static_cast<size_t>(p)] += std::max(0.0, cost[i]);
  }
  return owner;
}

}  // namespace shrink::dist
