// The input format of the .h5 model fuzzer (fuzz/h5_model_fuzzer.cc): a list of records that
// says what to put into an HDF5 file, which is then written through the HDF5 library. HDF5's own
// parser is trusted, not hardened (docs/security.md), so the fuzzer never feeds it raw bytes: the
// file is always structurally valid and only its *contents* are hostile (the graph JSON, the
// attributes' types, tensor names, dtypes, shapes, layouts, missing or short data, links).
//
//   std::string bytes = h5_input::encode_file("m.h5");            // a real file -> an input (seeds)
//   bool ok = h5_input::write_file(data, size, "/dev/shm/x.h5");   // an input -> a valid HDF5 file
//
// Records (integers little-endian; a record cut by the end of the input is dropped; lengths are
// clamped to what is left, so every byte string is a valid input):
//   0  root attribute   name:str8 type:u8 value   (type % 5: 0 fixed-length UTF-8 string: str32,
//                       1 variable-length string: str32, 2 int32: u64, 3 int64: u64, 4 float64: u64)
//   1  dataset          path:str16 dtype:u8 rank:u8 dims:u64 x (rank % 9) layout:u8 data:str32
//                       (dtype % 6: f32 LE, u8, f64, i32, i8, f32 BE; layout % 3: contiguous,
//                       chunked, compact; the data bytes are written only when they are at least
//                       the dataset's size, else the dataset is left unwritten)
//   2  group            path:str16
//   3  link             soft:u8 path:str16 target:str16   (hard link when soft is even)
// strN = an N-bit length, then that many bytes. Paths are relative to the root; missing parent
// groups are created. The kind is the record's first byte % 4.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace h5_input {

/// Writes the HDF5 file that `data` describes at `path` (replacing it). Records that HDF5
/// refuses (a bad name, a dataset too big for a compact layout, ...) are skipped. False only
/// when the file itself cannot be created.
bool write_file(const uint8_t* data, size_t size, const std::string& path);

/// The input that describes the HDF5 file at `path` (its root attributes, groups and datasets,
/// data included); write_file of it gives a file with the same contents. Throws
/// std::runtime_error when the file cannot be read.
std::string encode_file(const std::string& path);

}  // namespace h5_input
