// Tests of the C source writer (export/c_writer.h): the generated files compile with the system C
// compiler as C99 with -Wall -Werror, two models link into one program, and the program's arrays
// hold the .shr bytes of write_shr exactly, aligned to 8, with the runtime's arena size.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "compress/ir/error.h"
#include "export/c_writer.h"
#include "export/export.h"
#include "export/shr_writer.h"
#include "tests/ir/test_graphs.h"

// Designated initializers that leave the other fields at their defaults ({.name = ""}) are the
// intended style here.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace shrink::exporter {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int sh(const std::string& cmd) {
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct Tmp {
  fs::path dir;
  Tmp() {
    std::string t = (fs::temp_directory_path() / "shrink-cexport-XXXXXX").string();
    if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp");
    dir = t;
  }
  ~Tmp() { fs::remove_all(dir); }
};

TEST(CWriter, Identifiers) {
  EXPECT_EQ(c_identifier("lenet5"), "lenet5");
  EXPECT_EQ(c_identifier("mobilenet-v2.q8"), "mobilenet_v2_q8");
  EXPECT_EQ(c_identifier("8bit"), "m_8bit");
  EXPECT_EQ(c_identifier(""), "shrink_model");
  ir::Graph g = test::make_test_resblock();
  EXPECT_THROW(write_c(g, "m.h", {.name = "bad-name"}), BadInput);
  EXPECT_THROW(write_c(g, "m.h", {.name = "1x"}), BadInput);
  Tmp t;
  EXPECT_THROW(export_c(g, (t.dir / "no_such_dir").string()), BadInput);  // neither .c nor a folder
}

TEST(CWriter, CompilesAndHoldsTheShrBytes) {
  Tmp t;
  ir::Graph a = test::make_test_resblock(2);
  ir::Graph b = test::make_test_resblock(7);
  b.meta.name = "res-block.7";  // prefix res_block_7
  export_model(a, "c", t.dir.string());                          // model.c / model.h, prefix resblock
  export_model(b, "c", (t.dir / "second.c").string(), {.name = ""});  // second.c / second.h
  ASSERT_TRUE(fs::exists(t.dir / "model.h"));
  ASSERT_TRUE(fs::exists(t.dir / "second.h"));
  const std::string hdr = slurp(t.dir / "model.h");
  EXPECT_NE(hdr.find("#define RESBLOCK_ARENA_BYTES "), std::string::npos);
  EXPECT_NE(slurp(t.dir / "second.h").find("extern const uint8_t res_block_7_data[RES_BLOCK_7_SIZE];"),
            std::string::npos);

  const CSource ca = write_c(a, "model.h"), cb = write_c(b, "second.h");
  EXPECT_GT(ca.arena_bytes, 0u);
  EXPECT_EQ(slurp(t.dir / "model.c"), ca.code);

  // A program that links both models, checks their alignment and constants, and writes them out.
  std::ofstream(t.dir / "main.c") << R"(#include <stdint.h>
#include <stdio.h>
#include "model.h"
#include "second.h"
static int dump(const char* path, const uint8_t* p, size_t n) {
  FILE* f = fopen(path, "wb");
  if (!f || fwrite(p, 1, n, f) != n) return 1;
  return fclose(f) != 0;
}
int main(void) {
  if ((uintptr_t)resblock_data % 8 != 0 || (uintptr_t)res_block_7_data % 8 != 0) return 3;
  if (resblock_size != RESBLOCK_SIZE || res_block_7_size != sizeof res_block_7_data) return 4;
  if (resblock_arena_bytes != RESBLOCK_ARENA_BYTES) return 5;
  printf("%lu %lu\n", (unsigned long)RESBLOCK_ARENA_BYTES, (unsigned long)RES_BLOCK_7_ARENA_BYTES);
  return dump("a.shr", resblock_data, resblock_size) || dump("b.shr", res_block_7_data, res_block_7_size);
}
)";
  const std::string cd = "cd '" + t.dir.string() + "' && ";
  const std::string flags = " -std=c99 -pedantic -Wall -Wextra -Werror ";
  ASSERT_EQ(sh(cd + "cc -c" + flags + "model.c && cc -c" + flags + "second.c && cc -c" + flags + "main.c"), 0);
  ASSERT_EQ(sh(cd + "cc -o prog model.o second.o main.o && ./prog > arena.txt"), 0);
  EXPECT_EQ(slurp(t.dir / "a.shr"), write_shr(a));
  EXPECT_EQ(slurp(t.dir / "b.shr"), write_shr(b));
  EXPECT_EQ(slurp(t.dir / "arena.txt"), std::to_string(ca.arena_bytes) + " " + std::to_string(cb.arena_bytes) + "\n");
}

}  // namespace
}  // namespace shrink::exporter
