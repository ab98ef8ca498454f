// Data set readers: gzip (or plain) IDX files through zlib, HDF5 files through the HDF5 C API.
// Contracts: see dataset.h and docs/data.md.
#include "compress/ir/dataset.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include <hdf5.h>

#include "compress/ir/error.h"

namespace shrink::ir {
namespace {

constexpr const char* kDefaultFashionDir = "/usr/share/datasets/fashion-mnist";
constexpr uint32_t kIdxImagesMagic = 0x00000803;  // unsigned byte, 3 dims
constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // unsigned byte, 1 dim
constexpr int64_t kMaxClasses = 1 << 20;          // sanity bound on label values

const std::vector<std::string>& fashion_labels() {
  static const std::vector<std::string> names = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
int64_t file_size(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}
bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// A gzip or plain file read as a stream (zlib reads a file without a gzip header as it is).
/// Every error (cannot open, corrupt or truncated stream, trailing bytes) names the file.
class GzStream {
 public:
  explicit GzStream(std::string path) : path_(std::move(path)) {
    errno = 0;
    f_ = gzopen(path_.c_str(), "rb");
    if (!f_) throw BadInput("cannot open ", path_, ": ", std::strerror(errno ? errno : ENOENT));
    gzbuffer(f_, 1 << 18);
  }
  ~GzStream() { if (f_) gzclose(f_); }
  GzStream(const GzStream&) = delete;
  GzStream& operator=(const GzStream&) = delete;
  const std::string& path() const { return path_; }

  /// Reads up to n bytes; fewer only at the end of the stream.
  size_t read(void* dst, size_t n) {
    size_t done = 0;
    while (done < n) {
      const unsigned want = static_cast<unsigned>(std::min<size_t>(n - done, size_t{1} << 30));
      const int got = gzread(f_, static_cast<char*>(dst) + done, want);
      if (got < 0) fail();
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }
  /// Checks that the stream ends here and that zlib saw no error (a truncated gzip member).
  void finish(int64_t expected_bytes) {
    char extra;
    if (read(&extra, 1) != 0)
      throw BadInput(path_, ": bytes past the end of the data the header describes (",
                     expected_bytes, " bytes)");
    int code = Z_OK;
    gzerror(f_, &code);
    if (code != Z_OK) fail();
  }

 private:
  [[noreturn]] void fail() {
    int code = 0;
    const std::string msg = gzerror(f_, &code);
    throw BadInput(path_, ": corrupt or truncated gzip data (", msg, ")");
  }
  std::string path_;
  gzFile f_ = nullptr;
};

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

/// Reads and checks an IDX header of unsigned bytes with `ndims` dims; returns the dims.
std::vector<int64_t> read_idx_header(GzStream& in, uint32_t magic, size_t ndims) {
  uint8_t h[16];
  const size_t header = 4 + 4 * ndims;
  const size_t got = in.read(h, header);
  if (got < header)
    throw BadInput(in.path(), ": truncated IDX header (", got, " bytes, expected ", header, ")");
  const uint32_t m = be32(h);
  if (m != magic) {
    char found[16], want[16];
    std::snprintf(found, sizeof found, "0x%08x", m);
    std::snprintf(want, sizeof want, "0x%08x", magic);
    throw BadInput(in.path(), ": bad IDX magic ", found, ", expected ", want,
                   magic == kIdxImagesMagic ? " (unsigned-byte images, 3 dims)"
                                            : " (unsigned-byte labels, 1 dim)");
  }
  std::vector<int64_t> dims;
  int64_t n = 1;
  for (size_t i = 0; i < ndims; ++i) {
    const int64_t d = be32(h + 4 + 4 * i);
    if (i > 0 && d == 0) throw BadInput(in.path(), ": IDX dimension ", i, " is 0");
    dims.push_back(d);
    n *= d;  // at most 3 factors below 2^32, checked after each step
    if (n > (int64_t{1} << 40)) throw BadInput(in.path(), ": IDX dims are implausibly large");
  }
  return dims;
}

/// Streams `total` payload bytes, calling sink(offset, ptr, len) per chunk; then checks the end.
template <class Sink>
void stream_payload(GzStream& in, int64_t total, Sink&& sink) {
  std::vector<uint8_t> chunk(size_t{1} << 20);
  int64_t done = 0;
  while (done < total) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(total - done, chunk.size()));
    const size_t got = in.read(chunk.data(), want);
    if (got < want)
      throw BadInput(in.path(), ": truncated, the header promises ", total, " data bytes, the file has ",
                     done + static_cast<int64_t>(got));
    sink(done, chunk.data(), got);
    done += static_cast<int64_t>(got);
  }
  in.finish(total);
}

/// Picks `DIR/name.gz`, else `DIR/name`.
std::string idx_file(const std::string& dir, const std::string& name) {
  const std::string gz = dir + "/" + name + ".gz";
  if (is_file(gz)) return gz;
  const std::string plain = dir + "/" + name;
  if (is_file(plain)) return plain;
  throw BadInput("data set folder ", dir, ": neither ", name, ".gz nor ", name, " exists");
}

/// Range [begin, begin + count) of a pool of n samples for a split. Train and val divide the
/// training pool (train = first floor(11n/12), val = the rest); test takes all of the test pool.
std::pair<int64_t, int64_t> split_range(Split split, int64_t n, int64_t limit) {
  int64_t begin = 0, count = n;
  if (split != Split::Test) {
    const int64_t n_train = n / 12 * 11 + (n % 12) * 11 / 12;  // floor(11 n / 12), no overflow
    if (split == Split::Train) {
      count = n_train;
    } else {
      begin = n_train;
      count = n - n_train;
    }
  }
  if (limit >= 0) count = std::min(count, limit);
  return {begin, count};
}

void finish_labels(Dataset& d, int64_t max_label, const std::string& where) {
  d.num_classes = max_label + 1;
  if (d.num_classes > kMaxClasses)
    throw BadInput(where, ": label ", max_label, " is larger than ", kMaxClasses - 1);
}

Dataset load_idx(const std::string& dir, Split split, int64_t limit, bool fashion,
                 const std::string& name) {
  if (!is_dir(dir)) throw BadInput("data set folder ", dir, " does not exist or is not a folder");
  const std::string prefix = split == Split::Test ? "t10k" : "train";
  const std::string img_path = idx_file(dir, prefix + "-images-idx3-ubyte");
  const std::string lab_path = idx_file(dir, prefix + "-labels-idx1-ubyte");
  GzStream img_in(img_path), lab_in(lab_path);
  const auto idims = read_idx_header(img_in, kIdxImagesMagic, 3);
  const auto ldims = read_idx_header(lab_in, kIdxLabelsMagic, 1);
  const int64_t n = idims[0];
  if (ldims[0] != n)
    throw BadInput(lab_path, ": has ", ldims[0], " labels, but ", img_path, " has ", n, " images");

  Dataset d;
  d.name = name + ":" + split_name(split);
  d.sample_shape = {1, idims[1], idims[2]};
  const int64_t per = idims[1] * idims[2];
  const auto [begin, count] = split_range(split, n, limit);
  d.size = count;

  // Labels: all of them (num_classes comes from the whole file, so every split agrees).
  int64_t max_label = -1;
  d.y.reserve(static_cast<size_t>(std::min(count, file_size(lab_path) * 1032 + 4096)));
  stream_payload(lab_in, n, [&](int64_t off, const uint8_t* p, size_t len) {
    for (size_t i = 0; i < len; ++i) {
      max_label = std::max<int64_t>(max_label, p[i]);
      const int64_t k = off + static_cast<int64_t>(i);
      if (k >= begin && k < begin + count) d.y.push_back(p[i]);
    }
  });
  finish_labels(d, max_label, lab_path);
  if (fashion) {
    if (d.num_classes > 10)
      throw BadInput(lab_path, ": label ", max_label, " found, Fashion-MNIST labels are 0..9");
    d.num_classes = 10;
    d.labels = fashion_labels();
  }

  // Images: the whole file is decompressed (and so checked); only the split is converted.
  float lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = static_cast<float>(v) / 255.0f;
  const int64_t lo = begin * per, hi = (begin + count) * per;
  // Never allocate from the header alone: deflate expands at most ~1032:1, so a file of S
  // bytes holds at most 1032 S payload bytes; grow with the data actually read.
  d.x.reserve(static_cast<size_t>(std::min(hi - lo, file_size(img_path) * 1032 + 4096)));
  stream_payload(img_in, n * per, [&](int64_t off, const uint8_t* p, size_t len) {
    const int64_t a = std::max(off, lo), b = std::min(off + static_cast<int64_t>(len), hi);
    if (b > a) d.x.resize(static_cast<size_t>(b - lo));
    float* dst = d.x.data();
    for (int64_t k = a; k < b; ++k) dst[k - lo] = lut[p[k - off]];
  });
  return d;
}

// ---- HDF5 ----------------------------------------------------------------------------------

/// Silences HDF5's own error printing while alive (our message is the one line), then restores.
class Hdf5Quiet {
 public:
  Hdf5Quiet() { H5Eget_auto2(H5E_DEFAULT, &func_, &data_); H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
  ~Hdf5Quiet() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

/// Closes an HDF5 handle with the matching close function.
class H5Handle {
 public:
  H5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5Handle() { if (id_ >= 0) close_(id_); }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

std::vector<hsize_t> dataset_dims(hid_t space) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) return {};
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

/// Reads rows [begin, begin + count) of a dataset whose first dim is the sample index.
void read_rows(hid_t ds, hid_t space, const std::vector<hsize_t>& dims, int64_t begin,
               int64_t count, hid_t mem_type, void* out, const std::string& what) {
  if (count == 0) return;
  std::vector<hsize_t> start(dims.size(), 0), cnt = dims;
  start[0] = static_cast<hsize_t>(begin);
  cnt[0] = static_cast<hsize_t>(count);
  H5Handle mem(H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr), H5Sclose);
  if (!mem.ok() || H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, cnt.data(),
                                       nullptr) < 0 ||
      H5Dread(ds, mem_type, mem.get(), space, H5P_DEFAULT, out) < 0)
    throw BadInput(what, ": cannot read the data (corrupt file or unsupported type)");
}

Dataset load_hdf5(const std::string& path, Split split, int64_t limit) {
  Hdf5Quiet quiet;
  if (!is_file(path)) throw BadInput("cannot open ", path, ": no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) throw BadInput(path, ": not an HDF5 file");
  H5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) throw BadInput("cannot open ", path, " as HDF5");

  auto open = [&](const char* name) {
    if (H5Lexists(file.get(), name, H5P_DEFAULT) <= 0)
      throw BadInput(path, ": no dataset '", name, "' (expected x float32 N x C x H x W or N x F, "
                     "y int64 N)");
    return H5Dopen2(file.get(), name, H5P_DEFAULT);
  };
  H5Handle x(open("x"), H5Dclose);
  H5Handle y(open("y"), H5Dclose);
  if (!x.ok() || !y.ok()) throw BadInput(path, ": cannot open datasets x / y");
  H5Handle xt(H5Dget_type(x.get()), H5Tclose), yt(H5Dget_type(y.get()), H5Tclose);
  if (H5Tget_class(xt.get()) != H5T_FLOAT)
    throw BadInput(path, ": dataset x must be floating point (float32), found another type");
  if (H5Tget_class(yt.get()) != H5T_INTEGER)
    throw BadInput(path, ": dataset y must be an integer type (int64), found another type");
  H5Handle xs(H5Dget_space(x.get()), H5Sclose), ys(H5Dget_space(y.get()), H5Sclose);
  const auto xd = dataset_dims(xs.get());
  const auto yd = dataset_dims(ys.get());
  if (xd.size() != 4 && xd.size() != 2)
    throw BadInput(path, ": dataset x has rank ", xd.size(), ", expected 4 (N x C x H x W) or 2 (N x F)");
  if (yd.size() != 1) throw BadInput(path, ": dataset y has rank ", yd.size(), ", expected 1 (N)");
  if (xd[0] != yd[0])
    throw BadInput(path, ": x has ", xd[0], " samples but y has ", yd[0]);

  Dataset d;
  d.name = "hdf5:" + path + ":" + split_name(split);
  for (size_t i = 1; i < xd.size(); ++i) {
    if (xd[i] == 0) throw BadInput(path, ": dataset x has a zero dimension");
    d.sample_shape.push_back(static_cast<int64_t>(xd[i]));
  }
  const int64_t n = static_cast<int64_t>(xd[0]);
  const int64_t per = numel(d.sample_shape);

  // num_classes from the labels of the whole pool, so every split agrees.
  std::vector<int64_t> all(static_cast<size_t>(n));
  read_rows(y.get(), ys.get(), yd, 0, n, H5T_NATIVE_INT64, all.data(), path + " dataset y");
  int64_t max_label = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (all[i] < 0) throw BadInput(path, ": dataset y holds a negative label ", all[i], " at ", i);
    max_label = std::max(max_label, all[i]);
  }
  finish_labels(d, max_label, path);

  const auto [begin, count] = split_range(split, n, limit);
  d.size = count;
  d.y.assign(all.begin() + begin, all.begin() + begin + count);
  d.x.resize(static_cast<size_t>(count * per));
  read_rows(x.get(), xs.get(), xd, begin, count, H5T_NATIVE_FLOAT, d.x.data(), path + " dataset x");
  return d;
}

}  // namespace

Split split_from_name(const std::string& s) {
  if (s == "train") return Split::Train;
  if (s == "val") return Split::Val;
  if (s == "test") return Split::Test;
  throw BadInput("unknown split '", s, "', expected train, val or test");
}

const char* split_name(Split s) {
  switch (s) {
    case Split::Train: return "train";
    case Split::Val: return "val";
    case Split::Test: return "test";
  }
  return "?";
}

Dataset load_dataset(const std::string& spec, Split split, int64_t limit,
                     const std::string& data_dir) {
  if (spec == "fashion-mnist") {
    const std::string dir = data_dir.empty() ? kDefaultFashionDir : data_dir;
    return load_idx(dir, split, limit, /*fashion=*/true, "fashion-mnist");
  }
  if (spec.rfind("idx:", 0) == 0) {
    const std::string dir = spec.substr(4);
    if (dir.empty()) throw BadInput("data set 'idx:' names no folder, expected idx:DIR");
    return load_idx(dir, split, limit, /*fashion=*/false, spec);
  }
  if (spec.rfind("hdf5:", 0) == 0) {
    const std::string file = spec.substr(5);
    if (file.empty()) throw BadInput("data set 'hdf5:' names no file, expected hdf5:FILE");
    return load_hdf5(file, split, limit);
  }
  throw BadInput("unknown data set '", spec, "', expected fashion-mnist, idx:DIR or hdf5:FILE");
}

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed) {
  if (n < 0) throw BadInput("shuffled_indices: negative size ", n);
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(seed);
  // Fisher-Yates with an unbiased bounded draw of our own (std::uniform_int_distribution is
  // implementation-defined, so the permutation would differ between standard libraries).
  for (int64_t i = n - 1; i > 0; --i) {
    const uint64_t range = static_cast<uint64_t>(i) + 1;
    const uint64_t reject_below = (0 - range) % range;  // 2^64 mod range
    uint64_t r;
    do r = rng(); while (r < reject_below);
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(r % range)]);
  }
  return idx;
}

}  // namespace shrink::ir
