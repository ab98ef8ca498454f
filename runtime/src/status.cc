#include "shrink_rt.h"

#ifndef SHRINK_VERSION
#define SHRINK_VERSION "0.0.0"
#endif

extern "C" const char* shrink_rt_version(void) { return SHRINK_VERSION; }

extern "C" const char* shrink_rt_status_str(shrink_rt_status s) {
  switch (s) {
    case SHRINK_RT_OK: return "ok";
    case SHRINK_RT_INVALID_ARGUMENT: return "invalid argument";
    case SHRINK_RT_UNSUPPORTED: return "unsupported";
    case SHRINK_RT_OUT_OF_MEMORY: return "out of memory";
    case SHRINK_RT_CORRUPT_MODEL: return "corrupt model";
    case SHRINK_RT_IO_ERROR: return "i/o error";
    case SHRINK_RT_NOT_A_MODEL: return "not a .shr model";
    case SHRINK_RT_CHECKSUM_MISMATCH: return "checksum mismatch";
  }
  return "unknown status";
}

extern "C" const char* shrink_rt_storage_str(shrink_rt_storage s) {
  switch (s) {
    case SHRINK_RT_DENSE: return "dense";
    case SHRINK_RT_CSR: return "csr";
    case SHRINK_RT_CODEBOOK: return "codebook";
    case SHRINK_RT_CSR_CODEBOOK: return "csr-codebook";
  }
  return "unknown";
}
