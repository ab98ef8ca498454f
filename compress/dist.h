// Distributed runs over LibTorch's c10d: TCPStore rendezvous (rank 0 hosts it) and a
// ProcessGroupGloo over TCP. One process per rank; world size 1 creates no process group.
//
//   dist::Options o = dist::resolve(flag_world_size, flag_rank, "--master value or empty");
//   dist::Group g(o);                                  // blocks until every rank has joined
//   g.allreduce({grad_a, grad_b}, dist::Reduce::Avg);  // in place, on every rank
//   std::vector<std::string> all = g.allgather(my_records_json);  // index = rank
//
// Failures (a rank that died, a collective or the rendezvous past the timeout, a bad address)
// throw shrink::BadInput with one line naming the rank and the operation (exit 2 on the CLI),
// so a job fails instead of hanging. docs/cli.md ("Distributed runs") documents the flags.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

namespace shrink {
struct TrainOptions;
}

namespace shrink::dist {

struct Options {
  int world_size = 1;
  int rank = 0;
  std::string master_addr = "127.0.0.1";  ///< where rank 0 hosts the TCPStore
  int master_port = 29500;
  /// Rendezvous and every collective; a peer that closed its connections fails at once.
  std::chrono::seconds timeout{1800};
};

/// Options from the flags (world_size / rank: nullopt when not given; master "ADDR:PORT" or
/// empty) and the environment WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT; flags win. Nothing
/// set: world size 1. BadInput naming the flag or variable for a bad value (rank outside
/// [0, world size), port outside 1..65535, world size > 1 without a master address).
Options resolve(std::optional<int> world_size, std::optional<int> rank, const std::string& master,
                std::optional<int> timeout_seconds = std::nullopt);

enum class Reduce { Sum, Avg };

/// One process's membership of a job. Not copyable; collectives must be called by every rank
/// in the same order (as in torch.distributed).
class Group {
 public:
  explicit Group(const Options& o);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool distributed() const { return size_ > 1; }

  /// Element-wise sum (or mean) over the ranks, in place, of CPU tensors (reduced in float32,
  /// or float64 if any tensor is float64). World size 1: nothing happens.
  void allreduce(std::vector<torch::Tensor> tensors, Reduce op = Reduce::Sum);
  /// Every rank's bytes, indexed by rank (any lengths). World size 1: {bytes}.
  std::vector<std::string> allgather(const std::string& bytes);
  /// Rank 0's bytes on every rank (the others' argument is ignored).
  std::string broadcast(const std::string& bytes);
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0, size_ = 1;
  std::chrono::seconds timeout_{1800};
};

/// Data-parallel training over g (docs/scaling.md): sets o.shard_rank / shard_count / average
/// (gradients averaged with allreduce every step) and turns the progress bar off on ranks other
/// than 0. Nothing happens for a group of one. g must outlive the training.
void use_data_parallel(TrainOptions& o, Group& g);

/// Shards a sweep over g: sets o.shard_rank, o.shard_count and o.gather (allgather) of the sweep
/// options of quantization or pruning (quant::SweepOptions, prune::SweepOptions), and turns
/// o.progress off on ranks other than 0. Nothing happens for a group of one.
template <class SweepOptions>
void shard_sweep(SweepOptions& o, Group& g) {
  if (!g.distributed()) return;
  o.shard_rank = g.rank();
  o.shard_count = g.size();
  o.gather = [&g](const std::string& mine) { return g.allgather(mine); };
  o.progress = o.progress && g.rank() == 0;
}

/// Which part each item goes to (index = item, value in [0, parts)): largest cost first to the
/// least loaded part (ties: lowest part), deterministic, so every rank computes the same split.
std::vector<int> balance(const std::vector<double>& cost, int parts);

}  // namespace shrink::dist
