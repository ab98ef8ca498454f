// C API: loading, freeing and inspecting models (shrink_rt.h). Nothing here throws or aborts.
#include <cerrno>
#include <cstdio>
#include <new>

#include "check.h"
#include "interpreter.h"

namespace shrink::rt {

void FileBytes::Free::operator()(uint8_t* p) const { ::operator delete(p, std::align_val_t{64}); }

Status read_model_file(const char* path, FileBytes& out) noexcept {
  out = FileBytes{};
  if (path == nullptr) return SHRINK_RT_FAIL(SHRINK_RT_INVALID_ARGUMENT, "no file name (null pointer)");
  std::FILE* f = std::fopen(path, "rb");
  if (!f) return SHRINK_RT_FAIL(SHRINK_RT_IO_ERROR, "cannot open %s: %s", path, std::strerror(errno));
  struct Closer {
    std::FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{f};
  if (std::fseek(f, 0, SEEK_END) != 0) return SHRINK_RT_FAIL(SHRINK_RT_IO_ERROR, "cannot seek in %s", path);
  const long end = std::ftell(f);
  if (end < 0 || std::fseek(f, 0, SEEK_SET) != 0) return SHRINK_RT_FAIL(SHRINK_RT_IO_ERROR, "cannot tell the size of %s", path);
  const uint64_t size = static_cast<uint64_t>(end);
  // Before allocating for the whole file: its header must be a .shr header that claims this size
  // (anything else is refused by load_model anyway, with a better message from the full check).
  shr::FileHeader h{};
  if (size >= sizeof h) {
    if (std::fread(&h, 1, sizeof h, f) != sizeof h || std::fseek(f, 0, SEEK_SET) != 0)
      return SHRINK_RT_FAIL(SHRINK_RT_IO_ERROR, "cannot read %s", path);
    if (std::memcmp(h.magic, shr::kMagic, 8) == 0 && h.version == shr::kVersion && h.file_size != size)
      return SHRINK_RT_FAIL(SHRINK_RT_CORRUPT_MODEL, "%s: %s: the file has %llu bytes, the header says %llu", path,
                  h.file_size > size ? "truncated" : "trailing bytes", static_cast<unsigned long long>(size),
                  static_cast<unsigned long long>(h.file_size));
  }
  if (size > SIZE_MAX / 2)
    return SHRINK_RT_FAIL(SHRINK_RT_OUT_OF_MEMORY, "%s: %llu bytes do not fit in memory", path, static_cast<unsigned long long>(size));
  try {
    uint8_t* p = static_cast<uint8_t*>(::operator new(size ? static_cast<size_t>(size) : 1, std::align_val_t{64}));
    out.data.reset(p);
  } catch (const std::bad_alloc&) {
    return SHRINK_RT_FAIL(SHRINK_RT_OUT_OF_MEMORY, "%s: cannot allocate %llu bytes", path, static_cast<unsigned long long>(size));
  }
  out.size = static_cast<size_t>(size);
  if (size && std::fread(out.data.get(), 1, out.size, f) != out.size) {
    out = FileBytes{};
    return SHRINK_RT_FAIL(SHRINK_RT_IO_ERROR, "cannot read %llu bytes from %s", static_cast<unsigned long long>(size), path);
  }
  return {};
}

}  // namespace shrink::rt

namespace {

using shrink::rt::Status;

shrink_rt_status report(const Status& s, char* msg, size_t msg_size) {
  if (msg && msg_size) {
    const size_t len = s.ok() ? 0 : s.message.size();
    const size_t n = len < msg_size - 1 ? len : msg_size - 1;
    std::memcpy(msg, s.message.data(), n);
    msg[n] = '\0';
  }
  return s.code;
}

shrink_rt_status finish(shrink_rt_model* m, Status s, const shrink_rt_kernel* const* kernels, shrink_rt_model** out,
                        char* msg, size_t msg_size) {
  if (s.ok()) {
    m->plan.reset(new (std::nothrow) shrink::rt::Plan);
    s = m->plan ? shrink::rt::prepare_plan(m->model, *m->plan, shrink::rt::kernel_set(kernels))
                : SHRINK_RT_FAIL(SHRINK_RT_OUT_OF_MEMORY, "cannot allocate the arena plan");
  }
  if (s.ok()) {
    *out = m;
  } else {
    delete m;
  }
  return report(s, msg, msg_size);
}

const shrink::rt::Model* model(const shrink_rt_model* m) { return m ? &m->model : nullptr; }

template <class V>
bool valid_index(const V& v, int i) {
  return i >= 0 && static_cast<size_t>(i) < v.size();
}

}  // namespace

extern "C" {

shrink_rt_status shrink_rt_load_kernels(const void* data, size_t size, const shrink_rt_kernel* const* kernels,
                                        shrink_rt_model** out, char* msg, size_t msg_size) {
  if (!out || !kernels)
    return report(SHRINK_RT_FAIL(SHRINK_RT_INVALID_ARGUMENT, "out or the kernel list is a null pointer"), msg, msg_size);
  *out = nullptr;
  shrink_rt_model* m = new (std::nothrow) shrink_rt_model;
  if (!m) return report(SHRINK_RT_FAIL(SHRINK_RT_OUT_OF_MEMORY, "cannot allocate the model"), msg, msg_size);
  return finish(m, shrink::rt::load_model(data, size, m->model), kernels, out, msg, msg_size);
}

// Every kernel: the only reference to shrink_rt_kernels_all, so a firmware that calls
// shrink_rt_load_kernels alone links only the kernels of its list.
shrink_rt_status shrink_rt_load(const void* data, size_t size, shrink_rt_model** out, char* msg, size_t msg_size) {
  return shrink_rt_load_kernels(data, size, shrink_rt_kernels_all, out, msg, msg_size);
}

shrink_rt_status shrink_rt_load_file(const char* path, shrink_rt_model** out, char* msg, size_t msg_size) {
  if (!out) return report(SHRINK_RT_FAIL(SHRINK_RT_INVALID_ARGUMENT, "out is a null pointer"), msg, msg_size);
  *out = nullptr;
  shrink_rt_model* m = new (std::nothrow) shrink_rt_model;
  if (!m) return report(SHRINK_RT_FAIL(SHRINK_RT_OUT_OF_MEMORY, "cannot allocate the model"), msg, msg_size);
  Status s = shrink::rt::read_model_file(path, m->owned);
  if (s.ok()) {
    s = shrink::rt::load_model(m->owned.data.get(), m->owned.size, m->model);
    if (!s.ok()) {
      try {
        s.message.insert(0, std::string(path) + ": ");
      } catch (const std::bad_alloc&) {
      }
    }
  }
  return finish(m, s, shrink_rt_kernels_all, out, msg, msg_size);
}

void shrink_rt_free(shrink_rt_model* m) { delete m; }

const char* shrink_rt_model_name(const shrink_rt_model* m) { return m ? m->model.name.data() : nullptr; }
const char* shrink_rt_model_producer(const shrink_rt_model* m) { return m ? m->model.producer.data() : nullptr; }
int shrink_rt_format_version(const shrink_rt_model* m) { return m ? static_cast<int>(m->model.version) : -1; }
size_t shrink_rt_model_size(const shrink_rt_model* m) { return m ? m->model.size : 0; }
int shrink_rt_input_count(const shrink_rt_model* m) { return m ? static_cast<int>(m->model.inputs.size()) : -1; }
int shrink_rt_output_count(const shrink_rt_model* m) { return m ? static_cast<int>(m->model.outputs.size()) : -1; }

int shrink_rt_input_tensor(const shrink_rt_model* m, int i) {
  return m && valid_index(m->model.inputs, i) ? static_cast<int>(m->model.inputs[static_cast<size_t>(i)]) : -1;
}

int shrink_rt_output_tensor(const shrink_rt_model* m, int i) {
  return m && valid_index(m->model.outputs, i) ? static_cast<int>(m->model.outputs[static_cast<size_t>(i)]) : -1;
}

int shrink_rt_label_count(const shrink_rt_model* m) { return m ? static_cast<int>(m->model.labels.size()) : -1; }

const char* shrink_rt_label(const shrink_rt_model* m, int i) {
  return m && valid_index(m->model.labels, i) ? m->model.labels[static_cast<size_t>(i)].data() : nullptr;
}

float shrink_rt_input_mean(const shrink_rt_model* m, int c) {
  const auto* md = model(m);
  if (!md || md->mean.empty() || c < 0) return 0.0f;
  return md->mean.size() == 1 ? md->mean[0] : (valid_index(md->mean, c) ? md->mean[static_cast<size_t>(c)] : 0.0f);
}

float shrink_rt_input_std(const shrink_rt_model* m, int c) {
  const auto* md = model(m);
  if (!md || md->std.empty() || c < 0) return 1.0f;
  return md->std.size() == 1 ? md->std[0] : (valid_index(md->std, c) ? md->std[static_cast<size_t>(c)] : 1.0f);
}

int shrink_rt_tensor_count(const shrink_rt_model* m) { return m ? static_cast<int>(m->model.tensors.size()) : -1; }

shrink_rt_status shrink_rt_tensor_info_get(const shrink_rt_model* m, int id, shrink_rt_tensor_info* out) {
  if (!m || !out || !valid_index(m->model.tensors, id)) return SHRINK_RT_INVALID_ARGUMENT;
  const shrink::rt::TensorDesc& t = m->model.tensors[static_cast<size_t>(id)];
  *out = shrink_rt_tensor_info{};
  out->name = t.name.data();
  out->dtype = static_cast<shrink_rt_dtype>(t.dtype);
  out->storage = static_cast<shrink_rt_storage>(t.storage);
  out->encoding = static_cast<int>(t.encoding);
  out->is_constant = t.constant ? 1 : 0;
  out->rank = t.rank;
  for (int i = 0; i < 4; ++i) out->dims[i] = t.dims[static_cast<size_t>(i)];
  out->numel = t.numel;
  out->bits = t.bits;
  out->fl = t.fl_of(0);
  out->per_channel = t.channel_fl_count;
  out->index_bits = t.index_bits;
  out->centroid_count = t.centroid_count;
  out->nnz = t.nnz;
  out->stored_bytes = static_cast<size_t>(t.stored_bytes);
  out->decoded_bytes = static_cast<size_t>(t.decoded_bytes);
  return SHRINK_RT_OK;
}

int shrink_rt_op_count(const shrink_rt_model* m) { return m ? static_cast<int>(m->model.ops.size()) : -1; }

shrink_rt_status shrink_rt_op_info_get(const shrink_rt_model* m, int i, shrink_rt_op_info* out) {
  if (!m || !out || !valid_index(m->model.ops, i)) return SHRINK_RT_INVALID_ARGUMENT;
  const shrink::rt::OpDesc& o = m->model.ops[static_cast<size_t>(i)];
  auto id = [](uint32_t t) { return t == shrink::shr::kNoTensor ? -1 : static_cast<int>(t); };
  out->name = o.name.data();
  out->op = shrink::shr::op_name(o.code);
  out->opcode = static_cast<int>(o.code);
  out->input_count = static_cast<int>(o.input_count);
  out->output = static_cast<int>(o.output);
  out->weight = id(o.weight);
  out->bias = id(o.bias);
  out->lut = id(o.lut);
  return SHRINK_RT_OK;
}

int shrink_rt_op_input(const shrink_rt_model* m, int i, int j) {
  if (!m || !valid_index(m->model.ops, i)) return -1;
  const shrink::rt::OpDesc& o = m->model.ops[static_cast<size_t>(i)];
  if (j < 0 || static_cast<uint32_t>(j) >= o.input_count) return -1;
  return static_cast<int>(o.input(static_cast<uint32_t>(j)));
}

}  // extern "C"

static_assert(static_cast<int>(shrink::shr::DType::U32) == SHRINK_RT_U32 &&
                  static_cast<int>(shrink::shr::DType::I32) == SHRINK_RT_I32,
              "shrink_rt_dtype mirrors shr::DType");
static_assert(static_cast<int>(shrink::shr::Storage::Codebook) == SHRINK_RT_CODEBOOK &&
                  static_cast<int>(shrink::shr::Storage::CsrCodebook) == SHRINK_RT_CSR_CODEBOOK,
              "shrink_rt_storage mirrors shr::Storage");
