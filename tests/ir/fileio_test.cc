// Atomic writes: temp name in the same folder, rename on commit, cleanup without commit.
#include "compress/ir/fileio.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "compress/ir/error.h"
#include "tests/ir/file_limit.h"

namespace shrink::ir {
namespace {

namespace fs = std::filesystem;

class FileIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "shrink_fileio_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  static void write_raw(const std::string& path, const std::string& bytes) {
    std::ofstream os(path, std::ios::binary);
    os << bytes;
  }

  fs::path dir_;
};

TEST_F(FileIoTest, CommitRenamesIntoPlace) {
  const std::string path = (dir_ / "model.shr").string();
  {
    AtomicFile f(path);
    EXPECT_EQ(f.path(), path);
    const std::string prefix = (dir_ / ".model.shr.tmp.").string() + std::to_string(::getpid()) + ".";
    EXPECT_EQ(f.temp_path().rfind(prefix, 0), 0u) << f.temp_path();
    write_raw(f.temp_path(), "new bytes");
    EXPECT_FALSE(fs::exists(path));
    f.commit();
    EXPECT_FALSE(fs::exists(f.temp_path()));
  }
  EXPECT_EQ(read_file(path), "new bytes");
  EXPECT_EQ(entries(), std::vector<std::string>{"model.shr"});
}

TEST_F(FileIoTest, NoCommitKeepsPreviousFileAndRemovesTemp) {
  const std::string path = (dir_ / "m.h5").string();
  write_raw(path, "previous");
  {
    AtomicFile f(path);
    write_raw(f.temp_path(), "half-writ");
    EXPECT_EQ(entries().size(), 2u);
  }  // e.g. an exception unwound past the writer
  EXPECT_EQ(entries(), std::vector<std::string>{"m.h5"});
  EXPECT_EQ(read_file(path), "previous");
  {
    AtomicFile f(path);  // nothing written at all: still fine
  }
  EXPECT_EQ(entries(), std::vector<std::string>{"m.h5"});
}

TEST_F(FileIoTest, TempNamesAreUnique) {
  const std::string path = (dir_ / "x.bin").string();
  AtomicFile a(path), b(path);
  EXPECT_NE(a.temp_path(), b.temp_path());
}

TEST_F(FileIoTest, WriteAndReadBinary) {
  const std::string path = (dir_ / "blob.bin").string();
  std::string bytes("a\0b\xff\n\r", 6);
  write_file_atomic(path, bytes);
  EXPECT_EQ(read_file(path), bytes);
  write_file_atomic(path, "replaced");
  EXPECT_EQ(read_file(path), "replaced");
  write_file_atomic(path, "");
  EXPECT_EQ(read_file(path), "");
  EXPECT_EQ(entries(), std::vector<std::string>{"blob.bin"});
}

TEST_F(FileIoTest, ErrorsNameThePath) {
  const std::string missing = (dir_ / "nope.h5").string();
  try {
    read_file(missing);
    FAIL() << "read_file did not throw";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  const std::string in_missing_dir = (dir_ / "no_such_dir" / "m.h5").string();
  EXPECT_THROW(AtomicFile{in_missing_dir}, BadInput);
  EXPECT_THROW(write_file_atomic(in_missing_dir, "x"), BadInput);
  EXPECT_THROW(read_file(dir_.string()), BadInput);
}

// Issue 9, "no partial files": the file size limit (what a full disk looks like to write(2),
// EFBIG instead of ENOSPC) is hit part-way through write_file_atomic in a forked child, with
// SIGXFSZ ignored so that the write fails instead of killing the child. The child must get a
// BadInput naming the path; the previous file must be intact and no temporary may remain.
TEST_F(FileIoTest, FullDiskDuringWriteKeepsOldFileAndLeavesNoTemp) {
  const std::string path = (dir_ / "m.h5").string();
  const std::string previous(10000, 'p');
  write_file_atomic(path, previous);
  const std::string next(100000, 'n');
  for (rlim_t limit : {rlim_t{0}, rlim_t{1}, rlim_t{4096}, rlim_t{99999}}) {
    SCOPED_TRACE("RLIMIT_FSIZE " + std::to_string(limit));
    EXPECT_EQ(test::write_under_file_limit(limit, [&] { write_file_atomic(path, next); }, {path, std::strerror(EFBIG)}),
              "");
    EXPECT_EQ(read_file(path), previous);
    EXPECT_EQ(entries(), std::vector<std::string>{"m.h5"});
  }
  write_file_atomic(path, next);  // without the limit the same write succeeds
  EXPECT_EQ(read_file(path), next);
}

}  // namespace
}  // namespace shrink::ir
