/* shrink runtime: loads .shr models and runs them with integer kernels.
 * Plain C API, no allocation in the run path (the caller provides the arena).
 *
 *   shrink_rt_version();   // "0.1.0"
 *
 * The loader, kernels and the rest of the API arrive with issue 4 (runtime and export).
 */
#ifndef SHRINK_RT_H_
#define SHRINK_RT_H_

#ifdef __cplusplus
extern "C" {
#endif

/** Status codes. Append only. */
typedef enum {
  SHRINK_RT_OK = 0,
  SHRINK_RT_INVALID_ARGUMENT = 1,
  SHRINK_RT_UNSUPPORTED = 2,
  SHRINK_RT_OUT_OF_MEMORY = 3,
  SHRINK_RT_CORRUPT_MODEL = 4,
} shrink_rt_status;

/** Version of the runtime library, e.g. "0.1.0". */
const char* shrink_rt_version(void);
/** A short English name of a status code ("ok", "corrupt model", ...). */
const char* shrink_rt_status_str(shrink_rt_status s);

#ifdef __cplusplus
}
#endif
#endif /* SHRINK_RT_H_ */
