// The journal of a sweep (DIR/points.jsonl, `shrink sweep --resume`): a header line, then one
// JSON record per line, that a kill or a power cut at any moment leaves readable. Header-only and
// LibTorch-free (POSIX I/O and nlohmann::json).
//
//   auto j = quant::SweepJournal::create(dir + "/points.jsonl", {{"sweep", header}});  // new sweep
//   auto j = quant::SweepJournal::resume(dir + "/points.jsonl");   // j.header(), j.records()
//   j.append(rec.to_json());                                        // after each measured point
//
// Contract: append() writes a record and its '\n' with one write(2) on an O_APPEND descriptor,
// then fdatasync, so an interruption leaves at most one line without its '\n' at the end (a
// torn line). resume() drops that torn tail, truncating the file after the last complete line so
// that the next append starts on a line of its own, and skips complete lines that are not JSON
// objects; a dropped point is simply measured again. create() writes the header atomically
// (temporary file, fsync, rename).
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"

namespace shrink::quant {

class SweepJournal {
 public:
  /// A new journal at `path` (replacing any) whose first line is `header`.
  static SweepJournal create(const std::string& path, const nlohmann::json& header) {
    ir::write_file_atomic(path, header.dump() + "\n");
    SweepJournal j(path);
    j.header_ = header;
    return j;
  }

  /// An existing journal: its header and the records of its complete lines. Throws BadInput
  /// when the file cannot be read or its first line is not a complete JSON object.
  static SweepJournal resume(const std::string& path) {
    const std::string text = ir::read_file(path);
    const size_t end = text.rfind('\n');  // the end of the last complete line
    const size_t first = text.find('\n');
    if (first == std::string::npos) throw BadInput(path, ": the header line is incomplete; run without --resume");
    SweepJournal j(path);
    j.header_ = nlohmann::json::parse(text.substr(0, first), nullptr, false);
    if (!j.header_.is_object()) throw BadInput(path, ": line 1 is not a journal header; run without --resume");
    for (size_t at = first + 1; at < end + 1;) {
      const size_t nl = text.find('\n', at);
      nlohmann::json r = nlohmann::json::parse(text.substr(at, nl - at), nullptr, false);
      if (r.is_object()) j.records_.push_back(std::move(r));
      at = nl + 1;
    }
    if (end + 1 < text.size() && ::ftruncate(j.fd_, static_cast<off_t>(end + 1)) != 0)
      throw BadInput("cannot write ", path, ": ", std::strerror(errno));
    return j;
  }

  SweepJournal(SweepJournal&& o) noexcept
      : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)), header_(std::move(o.header_)),
        records_(std::move(o.records_)) {}
  SweepJournal& operator=(SweepJournal&& o) noexcept {
    std::swap(path_, o.path_);
    std::swap(fd_, o.fd_);
    std::swap(header_, o.header_);
    std::swap(records_, o.records_);
    return *this;
  }
  SweepJournal(const SweepJournal&) = delete;
  SweepJournal& operator=(const SweepJournal&) = delete;
  ~SweepJournal() {
    if (fd_ >= 0) ::close(fd_);
  }

  const std::string& path() const { return path_; }
  const nlohmann::json& header() const { return header_; }
  /// The records read by resume() (not those appended since).
  const std::vector<nlohmann::json>& records() const { return records_; }

  /// Appends `record` as one line (one write(2), then fdatasync). On a failed or short write
  /// (disk full, file size limit) the file is cut back to its previous end and BadInput names
  /// the path and the reason.
  void append(const nlohmann::json& record) {
    const std::string line = record.dump() + "\n";
    struct stat st {};
    const off_t before = ::fstat(fd_, &st) == 0 ? st.st_size : -1;
    ssize_t n;
    do {
      n = ::write(fd_, line.data(), line.size());
    } while (n < 0 && errno == EINTR);
    const int err = n < 0 ? errno : ENOSPC;
    if (n != static_cast<ssize_t>(line.size())) {
      if (n > 0 && before >= 0) (void)!::ftruncate(fd_, before);
      throw BadInput("cannot write ", path_, ": ", std::strerror(err));
    }
    if (::fdatasync(fd_) != 0) throw BadInput("cannot write ", path_, ": ", std::strerror(errno));
  }

 private:
  explicit SweepJournal(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0) throw BadInput("cannot write ", path_, ": ", std::strerror(errno));
  }

  std::string path_;
  int fd_ = -1;
  nlohmann::json header_;
  std::vector<nlohmann::json> records_;
};

}  // namespace shrink::quant
