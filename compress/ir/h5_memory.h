// An HDF5 file built in memory and written to disk by write_file_atomic (fileio.h): the toolkit's
// two HDF5 writers (model files, `export --format hdf5`) use it.
//
//   ir::H5MemoryFile f(path);                 // nothing on disk yet
//   H5Gcreate2(f.id(), ...); H5Dwrite(...);   // the HDF5 C API, as with a file on disk
//   f.commit();                               // the image, atomically; BadInput on a full disk
//
// Why not let HDF5 write the file: when one of its writes fails (a full disk, a file-size limit),
// HDF5 1.10 cannot close the file, and its exit handler then crashes on the half-closed file, so
// the process would die of SIGSEGV after its one-line error. With the core driver (no backing
// store) HDF5 never touches the disk; the only write is ours, whose every error is a BadInput
// naming the file and leaves the previous file as it was.
#pragma once
#include <hdf5.h>

#include <string>

namespace shrink::ir {

class H5MemoryFile {
 public:
  /// `path` is where commit() writes; `v18_format`: H5F_LIBVER_V18 bounds (files that HDF5 1.8
  /// reads). Throws InternalError if HDF5 cannot create the file in memory.
  explicit H5MemoryFile(std::string path, bool v18_format = false);
  ~H5MemoryFile();  ///< closes the file if commit() did not
  H5MemoryFile(const H5MemoryFile&) = delete;
  H5MemoryFile& operator=(const H5MemoryFile&) = delete;

  hid_t id() const { return file_; }
  /// Flushes, copies the file's image, closes the file and writes the image to the path with
  /// write_file_atomic. BadInput "cannot write PATH: ..." on failure.
  void commit();

 private:
  std::string path_;
  hid_t file_ = -1;
};

}  // namespace shrink::ir
