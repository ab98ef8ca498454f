// compress/dist.h: options from flags and environment, the balanced split, and the Gloo
// collectives with two ranks as two threads of this process over loopback (a free port each).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "compress/dist.h"
#include "compress/ir/error.h"

namespace shrink::dist {
namespace {

/// A TCP port nobody listens on right now (bound to 0 by the kernel, then released).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

Options local(int world, int rank, int port, int timeout_s = 20) {
  return resolve(world, rank, "127.0.0.1:" + std::to_string(port), timeout_s);
}

/// Clears the distributed environment variables for a test and restores them afterwards.
struct EnvGuard {
  EnvGuard() {
    for (const char* v : {"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT"}) ::unsetenv(v);
  }
  ~EnvGuard() {
    for (const char* v : {"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT"}) ::unsetenv(v);
  }
};

TEST(DistOptions, FlagsWinOverEnvironment) {
  EnvGuard g;
  Options none = resolve(std::nullopt, std::nullopt, "");
  EXPECT_EQ(none.world_size, 1);
  EXPECT_EQ(none.rank, 0);
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("RANK", "3", 1);
  ::setenv("MASTER_ADDR", "10.0.0.7", 1);
  ::setenv("MASTER_PORT", "1234", 1);
  Options e = resolve(std::nullopt, std::nullopt, "");
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.master_addr, "10.0.0.7");
  EXPECT_EQ(e.master_port, 1234);
  Options f = resolve(2, 1, "127.0.0.1:5555", 7);
  EXPECT_EQ(f.world_size, 2);
  EXPECT_EQ(f.rank, 1);
  EXPECT_EQ(f.master_addr, "127.0.0.1");
  EXPECT_EQ(f.master_port, 5555);
  EXPECT_EQ(f.timeout.count(), 7);
}

TEST(DistOptions, BadValuesNameTheirSource) {
  EnvGuard g;
  auto msg = [](auto fn) {
    try {
      fn();
    } catch (const BadInput& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg([] { resolve(2, 2, "127.0.0.1:1"); }).find("--rank 2"), std::string::npos);
  EXPECT_NE(msg([] { resolve(0, 0, ""); }).find("--world-size 0"), std::string::npos);
  EXPECT_NE(msg([] { resolve(2, 0, "nohost"); }).find("ADDR:PORT"), std::string::npos);
  EXPECT_NE(msg([] { resolve(2, 0, "h:70000"); }).find("1..65535"), std::string::npos);
  EXPECT_NE(msg([] { resolve(2, 0, ""); }).find("MASTER_ADDR"), std::string::npos);
  ::setenv("WORLD_SIZE", "two", 1);
  EXPECT_NE(msg([] { resolve(std::nullopt, std::nullopt, ""); }).find("WORLD_SIZE two"), std::string::npos);
}

TEST(DistBalance, LargestFirstToLeastLoaded) {
  // By cost 8, 7, 6, 5, 4: 8 -> part 0, 7 -> 1, 6 -> 1 (7 < 8), 5 -> 0 (8 < 13), 4 -> 0 (13 = 13:
  // the lower part). Loads 17 and 13.
  std::vector<int> o = balance({5, 8, 4, 7, 6}, 2);
  EXPECT_EQ(o, (std::vector<int>{0, 0, 0, 1, 1}));
  EXPECT_EQ(balance({1, 1, 1}, 1), (std::vector<int>{0, 0, 0}));
  EXPECT_TRUE(balance({}, 3).empty());
}

TEST(DistGroup, WorldOfOneHasNoProcessGroup) {
  Group g(Options{});
  EXPECT_FALSE(g.distributed());
  torch::Tensor t = torch::tensor({1.0f, 2.0f});
  g.allreduce({t}, Reduce::Avg);
  EXPECT_TRUE(torch::equal(t, torch::tensor({1.0f, 2.0f})));
  EXPECT_EQ(g.allgather("abc"), std::vector<std::string>{"abc"});
  g.barrier();
}

TEST(DistGroup, TwoRanksReduceAndGather) {
  const int port = free_port();
  auto rank_fn = [port](int rank) {
    Group g(local(2, rank, port));
    torch::Tensor a = torch::full({3}, static_cast<float>(rank + 1));
    torch::Tensor b = torch::full({2, 2}, static_cast<float>(10 * (rank + 1)));
    g.allreduce({a, b}, Reduce::Sum);
    torch::Tensor c = torch::full({1}, rank == 0 ? 1.0f : 4.0f);
    g.allreduce({c}, Reduce::Avg);
    std::vector<std::string> all = g.allgather(rank == 0 ? std::string("zero") : std::string(1000, 'x'));
    std::string from0 = g.broadcast(rank == 0 ? "hello" : "ignored");
    g.barrier();
    return std::make_tuple(a, b, c, all, from0);
  };
  auto f1 = std::async(std::launch::async, rank_fn, 1);
  auto r0 = rank_fn(0);
  auto r1 = f1.get();
  for (const auto& r : {r0, r1}) {
    EXPECT_TRUE(torch::equal(std::get<0>(r), torch::full({3}, 3.0f)));
    EXPECT_TRUE(torch::equal(std::get<1>(r), torch::full({2, 2}, 30.0f)));
    EXPECT_FLOAT_EQ(std::get<2>(r).item<float>(), 2.5f);
    ASSERT_EQ(std::get<3>(r).size(), 2u);
    EXPECT_EQ(std::get<3>(r)[0], "zero");
    EXPECT_EQ(std::get<3>(r)[1], std::string(1000, 'x'));
    EXPECT_EQ(std::get<4>(r), "hello");
  }
}

TEST(DistGroup, MissingRankFailsWithinTheTimeout) {
  // Rank 1 never joins: rank 0's rendezvous gives up after the timeout with one clear line.
  const int port = free_port();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    Group g(local(2, 0, port, 2));
    FAIL() << "expected the rendezvous to fail";
  } catch (const BadInput& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("distributed rank 0/2: rendezvous"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 15.0);
}

TEST(DistGroup, PeerThatLeavesFailsTheCollective) {
  // Both join; rank 1 then leaves (its group destroyed, as when its process dies) while rank 0
  // waits in an allreduce: rank 0 fails with one line instead of hanging.
  const int port = free_port();
  auto f1 = std::async(std::launch::async, [port] {
    Group g(local(2, 1, port, 5));
    g.barrier();
  });
  Group g0(local(2, 0, port, 5));
  g0.barrier();
  f1.get();
  const auto t0 = std::chrono::steady_clock::now();
  torch::Tensor t = torch::ones({4});
  EXPECT_THROW(g0.allreduce({t}), BadInput);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 15.0);
}

}  // namespace
}  // namespace shrink::dist
