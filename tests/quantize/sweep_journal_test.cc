// The sweep journal (quantize/sweep_journal.h): torn last lines from an interruption are dropped
// on resume and never merge with the next record; a failed append leaves no partial line.
#include "quantize/sweep_journal.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace shrink::quant {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class SweepJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "shrink_journal_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "points.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string slurp() const {
    std::ifstream f(path_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  void cut_to(size_t size) const { fs::resize_file(path_, size); }
  static json record(int i) { return {{"layer", "conv" + std::to_string(i)}, {"bits", i}, {"accuracy", 0.5 + i / 64.0}}; }

  fs::path dir_;
  std::string path_;
  const json header_ = {{"sweep", {{"images", 200}, {"seed", 1}}}};
};

TEST_F(SweepJournalTest, TornLastLineIsDroppedAndTheNextAppendStartsOnItsOwnLine) {
  {
    SweepJournal j = SweepJournal::create(path_, header_);
    for (int i = 0; i < 3; ++i) j.append(record(i));
  }
  const std::string whole = slurp();
  const size_t end_of_second = whole.rfind('\n', whole.size() - 2);  // after record 1
  cut_to(end_of_second + 1 + 9);  // a kill 9 bytes into record 2
  {
    SweepJournal j = SweepJournal::resume(path_);
    EXPECT_EQ(j.header(), header_);
    ASSERT_EQ(j.records().size(), 2u);
    EXPECT_EQ(j.records()[0], record(0));
    EXPECT_EQ(j.records()[1], record(1));
    EXPECT_EQ(fs::file_size(path_), end_of_second + 1);  // the torn tail is gone
    j.append(record(2));  // the point measured again
  }
  EXPECT_EQ(slurp(), whole);
  SweepJournal j = SweepJournal::resume(path_);
  ASSERT_EQ(j.records().size(), 3u);
  EXPECT_EQ(j.records()[2], record(2));
}

TEST_F(SweepJournalTest, EveryCutResumesWithTheCompleteLinesBeforeIt) {
  {
    SweepJournal j = SweepJournal::create(path_, header_);
    for (int i = 0; i < 4; ++i) j.append(record(i));
  }
  const std::string whole = slurp();
  const size_t header_end = whole.find('\n') + 1;
  for (size_t size = header_end; size <= whole.size(); ++size) {
    {
      std::ofstream f(path_, std::ios::binary | std::ios::trunc);
      f << whole.substr(0, size);
    }
    size_t complete = 0;  // records whose '\n' survived the cut
    for (size_t k = header_end; k < size; ++k) complete += whole[k] == '\n';
    SweepJournal j = SweepJournal::resume(path_);
    ASSERT_EQ(j.records().size(), complete) << "cut at " << size;
    for (size_t i = 0; i < complete; ++i) EXPECT_EQ(j.records()[i], record(static_cast<int>(i)));
    const std::string after = slurp();
    EXPECT_TRUE(after.empty() || after.back() == '\n') << "cut at " << size;
  }
}

TEST_F(SweepJournalTest, IncompleteOrForeignHeaderIsRefused) {
  { SweepJournal::create(path_, header_); }
  cut_to(header_.dump().size() - 1);  // the header's own '\n' and last byte lost
  EXPECT_THROW(SweepJournal::resume(path_), BadInput);
  {
    std::ofstream f(path_, std::ios::trunc);
    f << "not json\n" << record(0).dump() << "\n";
  }
  EXPECT_THROW(SweepJournal::resume(path_), BadInput);
  EXPECT_THROW(SweepJournal::resume((dir_ / "missing.jsonl").string()), BadInput);
}

TEST_F(SweepJournalTest, GarbageLinesInTheMiddleAreSkipped) {
  {
    std::ofstream f(path_, std::ios::trunc);
    f << header_.dump() << "\n" << record(0).dump() << "\n{\"layer\": \"fc\n[1, 2]\n" << record(1).dump() << "\n";
  }
  SweepJournal j = SweepJournal::resume(path_);
  ASSERT_EQ(j.records().size(), 2u);
  EXPECT_EQ(j.records()[1], record(1));
}

// The disk fills up during an append (RLIMIT_FSIZE in a child, SIGXFSZ ignored so write(2)
// fails with EFBIG or writes short): BadInput, and the file is exactly as before.
TEST_F(SweepJournalTest, FailedAppendLeavesNoPartialLine) {
  { SweepJournal::create(path_, header_).append(record(0)); }
  const std::string before = slurp();
  for (rlim_t extra : {rlim_t{0}, rlim_t{10}}) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::signal(SIGXFSZ, SIG_IGN);
      const rlimit lim{before.size() + extra, before.size() + extra};
      ::setrlimit(RLIMIT_FSIZE, &lim);
      try {
        SweepJournal j = SweepJournal::resume(path_);
        j.append(record(1));
        ::_exit(1);  // must not succeed
      } catch (const BadInput& e) {
        ::_exit(std::string(e.what()).find(path_) == std::string::npos ? 3 : 0);
      }
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "limit +" << extra;
    EXPECT_EQ(slurp(), before) << "limit +" << extra;
  }
}

}  // namespace
}  // namespace shrink::quant
