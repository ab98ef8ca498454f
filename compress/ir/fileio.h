// Atomic file writing: every output is written to a temporary name in the same folder,
// flushed and fsynced, then renamed into place; on failure the temporary is removed.
//
//   ir::AtomicFile f("out/model.shr");   // f.temp_path() is where to write
//   write_everything(f.temp_path());
//   f.commit();                          // rename; without commit, the destructor cleans up
#pragma once
#include <string>
#include <vector>

namespace shrink::ir {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  ///< throws BadInput if the folder does not exist
  ~AtomicFile();                          ///< removes the temporary unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  const std::string& temp_path() const { return temp_; }
  const std::string& path() const { return path_; }
  void commit();  ///< fsync the temporary, rename over path, fsync the folder

 private:
  std::string path_, temp_;
  bool committed_ = false;
};

/// Writes bytes atomically (AtomicFile). Throws BadInput / InternalError with the path.
void write_file_atomic(const std::string& path, const std::string& bytes);
/// Reads a whole file; throws BadInput("cannot open <path>: <reason>").
std::string read_file(const std::string& path);

}  // namespace shrink::ir
