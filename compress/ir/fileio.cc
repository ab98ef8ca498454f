// Atomic file writing. The temporary is `<dir>/.<basename>.tmp.<pid>.<counter>`: same folder
// (so rename is atomic on the same file system), hidden, unique per process and per object.
#include "compress/ir/fileio.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "compress/ir/error.h"

namespace shrink::ir {

namespace {

std::atomic<unsigned long> g_counter{0};

std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// fsync by path; `what` names the object in the error message.
void fsync_path(const std::string& p, bool directory) {
  int fd = ::open(p.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) {
    if (directory) return;  // some file systems do not allow opening a folder; rename is still done
    throw InternalError("cannot open ", p, " to sync it: ", std::strerror(errno));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0 && !directory) throw InternalError("cannot sync ", p, ": ", std::strerror(err));
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  if (path_.empty() || path_.back() == '/') throw BadInput("output path '", path_, "' is not a file name");
  const std::string dir = dir_of(path_);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw BadInput("cannot write ", path_, ": folder ", dir, " does not exist");
  if (::stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw BadInput("cannot write ", path_, ": it is a folder");
  const auto slash = path_.find_last_of('/');
  const std::string prefix = slash == std::string::npos ? "" : path_.substr(0, slash + 1);
  temp_ = prefix + "." + base_of(path_) + ".tmp." + std::to_string(::getpid()) + "." +
          std::to_string(g_counter.fetch_add(1));
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_.c_str());
}

void AtomicFile::commit() {
  if (committed_) throw InternalError("AtomicFile for ", path_, " committed twice");
  struct stat st {};
  if (::stat(temp_.c_str(), &st) != 0)
    throw InternalError("cannot commit ", path_, ": temporary ", temp_, " was not written");
  fsync_path(temp_, false);
  if (std::rename(temp_.c_str(), path_.c_str()) != 0)
    throw BadInput("cannot write ", path_, ": rename from ", temp_, " failed: ", std::strerror(errno));
  committed_ = true;
  fsync_path(dir_of(path_), true);
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  AtomicFile f(path);
  // O_EXCL: never write through a file (or symlink) that someone else put at the temporary name.
  const int fd = ::open(f.temp_path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) throw BadInput("cannot write ", path, ": cannot create ", f.temp_path(), ": ", std::strerror(errno));
  // Every failure below closes the descriptor and throws; ~AtomicFile then removes the temporary.
  auto fail = [&](const char* what, int err) {
    ::close(fd);
    throw BadInput("cannot write ", path, ": ", what, " ", f.temp_path(), " failed: ", std::strerror(err));
  };
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t r = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) fail("write to", r < 0 ? errno : ENOSPC);  // EFBIG, ENOSPC, EDQUOT, EIO...
    done += static_cast<size_t>(r);
  }
  if (::fsync(fd) != 0) fail("fsync of", errno);
  if (::close(fd) != 0) throw BadInput("cannot write ", path, ": closing ", f.temp_path(), " failed: ", std::strerror(errno));
  f.commit();  // fsyncs again (cheap: nothing dirty), renames, fsyncs the folder
}

std::string read_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw BadInput("cannot open ", path, ": it is a folder");
  std::ifstream is(path, std::ios::binary);
  if (!is) throw BadInput("cannot open ", path, ": ", std::strerror(errno));
  std::ostringstream ss;
  ss << is.rdbuf();
  if (is.bad()) throw BadInput("cannot read ", path, ": ", std::strerror(errno));
  return ss.str();
}

}  // namespace shrink::ir
