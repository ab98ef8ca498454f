// shrink-rt: the runtime's command line (run, eval, bench, inspect). Links only shrink_rt and
// zlib (to read the Fashion-MNIST idx .gz files). Bad input: one line on stderr, exit 2.
//
//   shrink-rt run m.shr --input x.npy -o y.npy [--dump-layers DIR]
//   shrink-rt eval m.shr --data fashion-mnist [--data-dir D] [--split test|val] [--limit N] [--json]
//   shrink-rt bench m.shr [--iters N] [--threads 1] [--json]
//   shrink-rt inspect m.shr
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cerrno>
#include <cmath>
#include <set>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "kernels/kernels.h"
#include "fits_on.h"
#include "npy.h"
#include "shrink_rt.h"

namespace {

const char* kUsage =
    "usage: shrink-rt <command> [options]\n"
    "\n"
    "commands:\n"
    "  run      m.shr --input x.npy -o y.npy [--dump-layers DIR]   run a model on a float32 (or int64:\n"
    "           already-quantized) array {input...} or {N, input...}; writes float32 outputs\n"
    "  eval     m.shr --data fashion-mnist [--data-dir D] [--split test|val] [--limit N] [--json]\n"
    "           accuracy and loss ({\"accuracy\", \"loss\", \"n\"} with --json)\n"
    "  bench    m.shr [--iters N] [--threads 1] [--json]   batch-1 latency and per-layer profile\n"
    "  inspect  m.shr                                      tensors, formats, storage, sizes, kernels\n"
    "  version                                             print the runtime version\n";

/// A bad-input failure: one line, exit 2.
struct Bad {
  std::string msg;
};

[[noreturn]] void bad(const std::string& m) { throw Bad{m}; }

/// Options after the command: one positional (the model) and --key value / --flag.
struct Args {
  std::string model;
  std::vector<std::pair<std::string, std::string>> kv;
  bool has(const char* k) const {
    for (auto& p : kv)
      if (p.first == k) return true;
    return false;
  }
  std::string get(const char* k, const std::string& def = "") const {
    for (auto& p : kv)
      if (p.first == k) return p.second;
    return def;
  }
};

Args parse(int argc, char** argv, const std::vector<std::string>& valued, const std::vector<std::string>& flags) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "-o") s = "--output";
    if (s.rfind("--", 0) == 0) {
      std::string key = s.substr(2), val;
      const size_t eq = key.find('=');
      if (eq != std::string::npos) {
        val = key.substr(eq + 1);
        key = key.substr(0, eq);
      }
      if (std::find(valued.begin(), valued.end(), key) != valued.end()) {
        if (eq == std::string::npos) {
          if (i + 1 >= argc) bad("option --" + key + " needs a value");
          val = argv[++i];
        }
      } else if (std::find(flags.begin(), flags.end(), key) == flags.end()) {
        bad("unknown option " + s + " for '" + argv[1] + "' (see shrink-rt --help)");
      }
      a.kv.emplace_back(key, val);
    } else if (a.model.empty()) {
      a.model = s;
    } else {
      bad("unexpected argument '" + s + "'");
    }
  }
  if (a.model.empty()) bad(std::string("'") + argv[1] + "' needs a model file, m.shr");
  return a;
}

int64_t to_int(const std::string& s, const char* what) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end || errno) bad(std::string(what) + " must be an integer, got '" + s + "'");
  return v;
}

/// A loaded model with its arena.
struct Runner {
  shrink_rt_model* m = nullptr;
  std::vector<unsigned char> arena;
  shrink_rt_tensor_info in{}, out{};
  explicit Runner(const std::string& path, bool keep_all = false) {
    char err[512];
    if (shrink_rt_load_file(path.c_str(), &m, err, sizeof err) != SHRINK_RT_OK) bad(err);
    if (keep_all && shrink_rt_keep_all_tensors(m) != SHRINK_RT_OK) bad("cannot plan the arena for --dump-layers");
    shrink_rt_tensor_info_get(m, shrink_rt_input_tensor(m, 0), &in);
    shrink_rt_tensor_info_get(m, shrink_rt_output_tensor(m, 0), &out);
    arena.assign(shrink_rt_arena_size(m), 0);
  }
  ~Runner() { shrink_rt_free(m); }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;
  void run_f32(const float* x, float* y) {
    check(shrink_rt_set_input_f32(m, arena.data(), arena.size(), 0, x, static_cast<size_t>(in.numel)));
    run();
    check(shrink_rt_get_output_f32(m, arena.data(), 0, y, static_cast<size_t>(out.numel)));
  }
  void run() { check(shrink_rt_run(m, arena.data(), arena.size())); }
  static void check(shrink_rt_status s) {
    if (s != SHRINK_RT_OK) bad(std::string("run failed: ") + shrink_rt_status_str(s));
  }
};

std::string shape_str(const int32_t* dims, int rank) {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

void write_or_fail(const std::string& path, const char* descr, const std::vector<int64_t>& shape, const void* d,
                   size_t n) {
  std::string err;
  if (!shrink::rttool::write_npy(path, descr, shape, d, n, err)) bad(err);
}

// ---- run -------------------------------------------------------------------------------------

/// Appends tensor `ti`'s values at `d` as float32: integers dequantized (q * 2^-FL, exact in
/// float for |q| < 2^24), as `shrink infer --dump-layers` writes the simulation's values, so that
/// `shrink compare` can compare the two folders directly.
void append_dequantized(const shrink_rt_tensor_info& ti, const void* d, std::vector<float>& out) {
  const size_t n = static_cast<size_t>(ti.numel);
  const float scale = std::ldexp(1.0f, -ti.fl);
  switch (ti.dtype) {
    case SHRINK_RT_I8:
      for (size_t i = 0; i < n; ++i) out.push_back(static_cast<const int8_t*>(d)[i] * scale);
      break;
    case SHRINK_RT_I16:
      for (size_t i = 0; i < n; ++i) out.push_back(static_cast<const int16_t*>(d)[i] * scale);
      break;
    case SHRINK_RT_U8:
      for (size_t i = 0; i < n; ++i) out.push_back(static_cast<const uint8_t*>(d)[i] * scale);
      break;
    case SHRINK_RT_I32:
      for (size_t i = 0; i < n; ++i) out.push_back(static_cast<float>(static_cast<const int32_t*>(d)[i] * double{scale}));
      break;
    default:
      out.insert(out.end(), static_cast<const float*>(d), static_cast<const float*>(d) + n);
  }
}

int cmd_run(int argc, char** argv) {
  Args a = parse(argc, argv, {"input", "output", "dump-layers"}, {});
  if (!a.has("input")) bad("run needs --input x.npy");
  if (!a.has("output")) bad("run needs -o y.npy (the output)");
  const std::string dump = a.get("dump-layers");
  Runner r(a.model, !dump.empty());
  if (!dump.empty()) {
    struct stat st;
    if (stat(dump.c_str(), &st) != 0 && mkdir(dump.c_str(), 0777) != 0) bad("cannot create folder " + dump);
  }
  shrink::rttool::NpyArray x;
  std::string err;
  if (!shrink::rttool::read_npy(a.get("input"), x, err)) bad(err);
  const std::vector<int64_t> in_shape(r.in.dims, r.in.dims + r.in.rank);
  bool batched;
  if (x.shape == in_shape) batched = false;
  else if (x.shape.size() == in_shape.size() + 1 && std::equal(in_shape.begin(), in_shape.end(), x.shape.begin() + 1))
    batched = true;
  else
    bad(a.get("input") + ": shape does not match the model's input " + shape_str(r.in.dims, r.in.rank) +
        " (expected it or {N, ...})");
  int qbits = 0, qfl = 0;
  shrink_rt_dtype qt = SHRINK_RT_I8;
  if (x.is_int64 && shrink_rt_input_format(r.m, 0, &qt, &qbits, &qfl) != SHRINK_RT_OK)
    bad(a.get("input") + ": int64 (already-quantized) input needs an integer model; this one runs in float");
  const int64_t n = batched ? x.shape[0] : 1, per = r.in.numel, outn = r.out.numel;
  std::vector<float> y(static_cast<size_t>(n * outn));
  std::vector<int16_t> q(static_cast<size_t>(per));
  std::vector<int8_t> q8(static_cast<size_t>(per));
  const int tcount = shrink_rt_tensor_count(r.m);
  std::vector<std::vector<float>> dumps(dump.empty() ? 0 : static_cast<size_t>(tcount));
  for (int64_t s = 0; s < n; ++s) {
    if (x.is_int64) {
      for (int64_t i = 0; i < per; ++i) {
        const int64_t v = std::min<int64_t>(std::max<int64_t>(x.i64[static_cast<size_t>(s * per + i)], -32768), 32767);
        q[static_cast<size_t>(i)] = static_cast<int16_t>(v);
        q8[static_cast<size_t>(i)] = static_cast<int8_t>(std::min<int64_t>(std::max<int64_t>(v, -128), 127));
      }
      // Values beyond the storage type are saturated here, beyond B bits by the runtime.
      const void* p = qt == SHRINK_RT_I16 ? static_cast<const void*>(q.data()) : q8.data();
      Runner::check(shrink_rt_set_input_q(r.m, r.arena.data(), r.arena.size(), 0, p, static_cast<size_t>(per)));
      r.run();
      Runner::check(shrink_rt_get_output_f32(r.m, r.arena.data(), 0, y.data() + s * outn, static_cast<size_t>(outn)));
    } else {
      r.run_f32(x.f32.data() + s * per, y.data() + s * outn);
    }
    for (size_t t = 0; t < dumps.size(); ++t) {
      shrink_rt_tensor_info ti;
      shrink_rt_tensor_info_get(r.m, static_cast<int>(t), &ti);
      if (ti.is_constant) continue;
      const void* d = shrink_rt_tensor_data(r.m, r.arena.data(), static_cast<int>(t));
      if (d) append_dequantized(ti, d, dumps[t]);
    }
  }
  std::vector<int64_t> oshape;
  if (batched) oshape.push_back(n);
  oshape.insert(oshape.end(), r.out.dims, r.out.dims + r.out.rank);
  write_or_fail(a.get("output"), "<f4", oshape, y.data(), y.size() * sizeof(float));
  // File names are the tensors' names, except that a quantized copy "X:q" (the network input
  // after its Quantize op) is what consumers see, so it is written as X.npy (as shrink infer
  // does) and the float X before it as "X:f32.npy".
  std::set<std::string> names;
  for (size_t t = 0; t < dumps.size(); ++t) {
    shrink_rt_tensor_info ti;
    shrink_rt_tensor_info_get(r.m, static_cast<int>(t), &ti);
    names.insert(ti.name);
  }
  for (size_t t = 0; t < dumps.size(); ++t) {
    shrink_rt_tensor_info ti;
    shrink_rt_tensor_info_get(r.m, static_cast<int>(t), &ti);
    if (ti.is_constant || dumps[t].empty()) continue;
    std::string name = ti.name;
    if (names.count(name + ":q")) name += ":f32";
    else if (name.size() > 2 && name.compare(name.size() - 2, 2, ":q") == 0) name.resize(name.size() - 2);
    for (char& c : name)
      if (c == '/' || c == '\\') c = '_';
    std::vector<int64_t> shape{n};
    shape.insert(shape.end(), ti.dims, ti.dims + ti.rank);
    write_or_fail(dump + "/" + name + ".npy", "<f4", shape, dumps[t].data(), dumps[t].size() * sizeof(float));
  }
  std::printf("wrote %s %s\n", a.get("output").c_str(), [&] {
    std::string s = "[";
    for (size_t i = 0; i < oshape.size(); ++i) s += (i ? ", " : "") + std::to_string(oshape[i]);
    return s + "]";
  }().c_str());
  return 0;
}

// ---- eval ------------------------------------------------------------------------------------

/// Reads a whole .gz (or plain) file with zlib.
std::vector<unsigned char> read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) bad("cannot open " + path);
  std::vector<unsigned char> out;
  unsigned char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  const bool failed = n < 0;
  gzclose(f);
  if (failed) bad(path + ": corrupt gzip data");
  return out;
}

uint32_t be32(const std::vector<unsigned char>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) | b[at + 3];
}

/// The shortest decimal that reads back as v (as nlohmann::json prints doubles).
std::string shortest(double v) {
  char b[40];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(b, sizeof b, "%.*g", digits, v);
    if (std::strtod(b, nullptr) == v) break;
  }
  return b;
}

int cmd_eval(int argc, char** argv) {
  Args a = parse(argc, argv, {"data", "data-dir", "split", "limit"}, {"json"});
  const std::string data = a.get("data");
  if (data.empty()) bad("eval needs --data fashion-mnist");
  if (data != "fashion-mnist") bad("--data '" + data + "': shrink-rt eval reads fashion-mnist only");
  const std::string dir = a.get("data-dir", "/usr/share/datasets/fashion-mnist");
  const std::string split = a.get("split", "test");
  if (split != "test" && split != "val") bad("--split must be test or val, got '" + split + "'");
  const int64_t limit = to_int(a.get("limit", "-1"), "--limit");
  if (limit == 0 || limit < -1) bad("--limit must be -1 (all) or >= 1, got " + std::to_string(limit));
  const bool json = a.has("json");
  Runner r(a.model);
  const std::string prefix = dir + "/" + (split == "test" ? "t10k" : "train");
  const std::vector<unsigned char> img = read_gz(prefix + "-images-idx3-ubyte.gz");
  const std::vector<unsigned char> lab = read_gz(prefix + "-labels-idx1-ubyte.gz");
  if (img.size() < 16 || be32(img, 0) != 0x803 || lab.size() < 8 || be32(lab, 0) != 0x801)
    bad(prefix + "-*-idx*-ubyte.gz: not idx image / label files");
  // Rows and columns up to 4096 keep n * per below 2^56 (no overflow in the size check below).
  if (be32(img, 8) > 4096 || be32(img, 12) > 4096)
    bad(prefix + "-images-idx3-ubyte.gz: images of " + std::to_string(be32(img, 8)) + "x" + std::to_string(be32(img, 12)) +
        " pixels are not plausible (at most 4096x4096)");
  const int64_t n = be32(img, 4), per = int64_t{be32(img, 8)} * be32(img, 12);
  if (be32(lab, 4) != n || static_cast<int64_t>(img.size()) != 16 + n * per || static_cast<int64_t>(lab.size()) != 8 + n)
    bad(prefix + ": image and label files disagree or are truncated");
  if (per != r.in.numel) bad("the model's input " + shape_str(r.in.dims, r.in.rank) + " does not take 28x28 images");
  // Splits as shrink: test = the test file; val = the last n - floor(11 n / 12) of train.
  int64_t begin = 0, count = n;
  if (split == "val") {
    begin = n / 12 * 11 + (n % 12) * 11 / 12;
    count = n - begin;
  }
  if (limit > 0) count = std::min(count, limit);
  float lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = static_cast<float>(v) / 255.0f;
  std::vector<float> x(static_cast<size_t>(per)), y(static_cast<size_t>(r.out.numel));
  int64_t correct = 0;
  double loss = 0;
  for (int64_t s = begin; s < begin + count; ++s) {
    for (int64_t i = 0; i < per; ++i) x[static_cast<size_t>(i)] = lut[img[static_cast<size_t>(16 + s * per + i)]];
    r.run_f32(x.data(), y.data());
    const int label = lab[static_cast<size_t>(8 + s)];
    if (label >= r.out.numel) bad("label " + std::to_string(label) + " is beyond the model's outputs");
    size_t best = 0;
    for (size_t k = 1; k < y.size(); ++k)
      if (y[k] > y[best]) best = k;
    correct += static_cast<int64_t>(best) == label;
    // Cross entropy of the outputs as logits, in double.
    double mx = y[0], sum = 0;
    for (float v : y) mx = std::max(mx, static_cast<double>(v));
    for (float v : y) sum += std::exp(static_cast<double>(v) - mx);
    loss += mx + std::log(sum) - y[static_cast<size_t>(label)];
  }
  const double acc = count ? static_cast<double>(correct) / static_cast<double>(count) : 0.0;
  loss = count ? loss / static_cast<double>(count) : 0.0;
  if (json)
    std::printf("{\"accuracy\":%s,\"loss\":%s,\"n\":%lld}\n", shortest(acc).c_str(), shortest(loss).c_str(),
                static_cast<long long>(count));
  else std::printf("%s %s: accuracy %.4f, loss %.4f, n %lld\n", data.c_str(), split.c_str(), acc, loss, static_cast<long long>(count));
  return 0;
}

// ---- bench -----------------------------------------------------------------------------------

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

std::string json_str(const char* s) {
  std::string o = "\"";
  for (const char* p = s; *p; ++p) {
    if (*p == '"' || *p == '\\') o += '\\';
    if (static_cast<unsigned char>(*p) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", *p);
      o += b;
      continue;
    }
    o += *p;
  }
  return o + "\"";
}

int cmd_bench(int argc, char** argv) {
  Args a = parse(argc, argv, {"iters", "threads"}, {"json"});
  const int64_t iters = to_int(a.get("iters", "200"), "--iters");
  if (iters < 1) bad("--iters must be >= 1");
  if (to_int(a.get("threads", "1"), "--threads") != 1) bad("--threads: the runtime runs on one thread (use 1)");
  Runner r(a.model);
  std::vector<float> x(static_cast<size_t>(r.in.numel), 0.5f), y(static_cast<size_t>(r.out.numel));
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < 5; ++i) r.run_f32(x.data(), y.data());
  std::vector<double> total;
  for (int64_t i = 0; i < iters; ++i) {
    Runner::check(shrink_rt_set_input_f32(r.m, r.arena.data(), r.arena.size(), 0, x.data(), x.size()));
    const auto t0 = Clock::now();
    r.run();
    total.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  const int nops = shrink_rt_op_count(r.m);
  std::vector<std::vector<double>> per(static_cast<size_t>(nops));
  shrink_rt_set_profiling(r.m, 1);
  for (int64_t i = 0; i < iters; ++i) {
    r.run_f32(x.data(), y.data());
    for (int k = 0; k < nops; ++k) {
      double us = 0;
      shrink_rt_profile(r.m, k, &us);
      per[static_cast<size_t>(k)].push_back(us);
    }
  }
  const double med = median(total);
  if (a.has("json")) {
    std::printf("{\"batch1_median_us\":%.3f,\"iters\":%lld,\"threads\":1,\"arena_bytes\":%zu,\"isa\":\"%s\",\"layers\":[",
                med, static_cast<long long>(iters), r.arena.size(), shrink::rt::kernels::isa_name());
    for (int k = 0; k < nops; ++k) {
      shrink_rt_op_info oi;
      shrink_rt_op_info_get(r.m, k, &oi);
      std::printf("%s{\"name\":%s,\"op\":\"%s\",\"median_us\":%.3f}", k ? "," : "", json_str(oi.name).c_str(), oi.op,
                  median(per[static_cast<size_t>(k)]));
    }
    std::printf("]}\n");
  } else {
    std::printf("%s: batch 1, 1 thread, %lld iterations, %s kernels: median %.1f us\n", a.model.c_str(),
                static_cast<long long>(iters), shrink::rt::kernels::isa_name(), med);
    for (int k = 0; k < nops; ++k) {
      shrink_rt_op_info oi;
      shrink_rt_op_info_get(r.m, k, &oi);
      std::printf("  %-32s %-14s %10.2f us\n", oi.name, oi.op, median(per[static_cast<size_t>(k)]));
    }
  }
  return 0;
}

// ---- inspect ---------------------------------------------------------------------------------

std::string format_str(const shrink_rt_tensor_info& t) {
  if (t.dtype == SHRINK_RT_F32) return "f32";
  const char* ty = t.dtype == SHRINK_RT_I8 ? "i8" : t.dtype == SHRINK_RT_I16 ? "i16" : "i32";
  char b[64];
  if (t.per_channel) std::snprintf(b, sizeof b, "%s %d-bit fl per channel", ty, t.bits);
  else std::snprintf(b, sizeof b, "%s %d-bit fl %d", ty, t.bits, t.fl);
  return b;
}

/// The kernel an op runs, as the interpreter chooses it.
std::string kernel_of(const shrink_rt_model* m, const shrink_rt_op_info& o) {
  shrink_rt_tensor_info x, w;
  shrink_rt_tensor_info_get(m, shrink_rt_op_input(m, 0, 0) >= 0 ? shrink_rt_op_input(m, 0, 0) : 0, &x);
  if (o.weight < 0) return "";
  shrink_rt_tensor_info_get(m, o.weight, &w);
  const bool conv = o.opcode == 0, fl = w.dtype == SHRINK_RT_F32;
  std::string k = conv ? "conv2d" : "dense";
  if (w.storage == SHRINK_RT_CSR) k += "_csr";
  if (w.storage == SHRINK_RT_CSR_CODEBOOK) k += "_csr_codebook";
  k += fl ? "_f32" : "_q";
  if (w.storage == SHRINK_RT_CODEBOOK) k += " (codebook expanded into the arena)";
  return k;
}

// "fits on" estimates for microcontrollers (runtime/tools/fits_on.h, docs/mcu.md), not a link.
void print_fits_on(const shrink_rt_model* m) {
  const shrink::rt::FitsEstimate e = shrink::rt::fits_estimate(m);
  for (const shrink::rt::McuTarget& t : shrink::rt::kMcuTargets)
    std::printf("fits on %s: %s (estimate: flash %zu = file %zu + firmware %zu, RAM %zu = Cortex-M4 arena %zu + "
                "decoded %zu + firmware %zu bytes; docs/mcu.md)\n",
                t.name, e.fits(t) ? "yes" : "no", e.flash(), e.file, shrink::rt::kM4FirmwareFlash, e.ram(), e.arena,
                e.decoded, shrink::rt::kM4FirmwareRam);
}

int cmd_inspect(int argc, char** argv) {
  Args a = parse(argc, argv, {}, {});
  Runner r(a.model);
  const shrink_rt_model* m = r.m;
  std::printf("model %s (written by %s, format version %d)\n", shrink_rt_model_name(m), shrink_rt_model_producer(m),
              shrink_rt_format_version(m));
  std::printf("flash %zu bytes (file), RAM %zu bytes (arena)\n", shrink_rt_model_size(m), shrink_rt_arena_size(m));
  print_fits_on(m);
  std::printf("kernels: %s\n", shrink::rt::kernels::active_paths());
  std::vector<const char*> used(static_cast<size_t>(std::max(shrink_rt_model_kernels(m, nullptr, 0), 0)));
  shrink_rt_model_kernels(m, used.data(), static_cast<int>(used.size()));
  std::printf("model kernels (shrink_rt_load_kernels):");
  for (const char* k : used) std::printf(" %s", k);
  std::printf("\n");
  std::printf("input %s, output %s, %d labels\n", shape_str(r.in.dims, r.in.rank).c_str(),
              shape_str(r.out.dims, r.out.rank).c_str(), shrink_rt_label_count(m));
  std::printf("\ntensors:\n");
  size_t weights = 0, decoded = 0;
  for (int i = 0; i < shrink_rt_tensor_count(m); ++i) {
    shrink_rt_tensor_info t;
    shrink_rt_tensor_info_get(m, i, &t);
    const char* storage = shrink_rt_storage_str(t.storage);
    std::string extra;
    if (t.storage == SHRINK_RT_CSR || t.storage == SHRINK_RT_CSR_CODEBOOK) extra = " nnz " + std::to_string(t.nnz);
    if (t.storage == SHRINK_RT_CODEBOOK || t.storage == SHRINK_RT_CSR_CODEBOOK)
      extra += " " + std::to_string(t.index_bits) + "-bit indices, " + std::to_string(t.centroid_count) + " centroids";
    weights += t.stored_bytes;
    decoded += t.decoded_bytes;
    std::string bytes = t.is_constant ? " " + std::to_string(t.stored_bytes) + " B" : "";
    if (t.encoding == 1) bytes += " huffman, " + std::to_string(t.decoded_bytes) + " B decoded";
    std::printf("  %3d %-32s %-10s %-24s %s%s%s\n", i, t.name, shape_str(t.dims, t.rank).c_str(), format_str(t).c_str(),
                t.is_constant ? storage : "activation", extra.c_str(), bytes.c_str());
  }
  std::printf("\nops:\n");
  for (int i = 0; i < shrink_rt_op_count(m); ++i) {
    shrink_rt_op_info o;
    shrink_rt_op_info_get(m, i, &o);
    std::printf("  %3d %-32s %-14s -> %d %s\n", i, o.name, o.op, o.output, kernel_of(m, o).c_str());
  }
  std::printf("\nconstants %zu bytes", weights);
  if (decoded) std::printf(" (Huffman-coded index data decoded at load: %zu bytes)", decoded);
  std::printf("\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Past the file size limit write(2) then fails with EFBIG (and the output's temporary is
  // removed, npy.h) instead of the process being killed with a partial temporary left behind.
  std::signal(SIGXFSZ, SIG_IGN);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "version" || cmd == "--version") {
      std::printf("shrink-rt %s\n", shrink_rt_version());
      return 0;
    }
    if (cmd == "run") return cmd_run(argc, argv);
    if (cmd == "eval") return cmd_eval(argc, argv);
    if (cmd == "bench") return cmd_bench(argc, argv);
    if (cmd == "inspect") return cmd_inspect(argc, argv);
    bad("unknown command '" + cmd + "' (see shrink-rt --help)");
  } catch (Bad& b) {
    // One line whatever the input: names and header text from a hostile file may hold control bytes.
    for (char& c : b.msg)
      if (static_cast<unsigned char>(c) < 0x20) c = '?';
    std::fprintf(stderr, "shrink-rt: %s\n", b.msg.c_str());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "shrink-rt: out of memory\n");
    return 1;
  }
}
