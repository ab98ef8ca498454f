/* The smallest program using the shrink runtime: loads a .shr model, runs it once on an input
 * of zeros and prints the top class. Links only shrink_rt (C API, runtime/include/shrink_rt.h).
 *
 *   example_minimal model.shr      ->  "top class 3 (Dress) score 4.125"
 */
#include <stdio.h>
#include <stdlib.h>

#include "shrink_rt.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: example_minimal model.shr\n");
    return 2;
  }
  char err[256];
  shrink_rt_model* m = NULL;
  if (shrink_rt_load_file(argv[1], &m, err, sizeof err) != SHRINK_RT_OK) {
    fprintf(stderr, "example_minimal: %s\n", err);
    return 2;
  }
  shrink_rt_tensor_info in, out;
  shrink_rt_tensor_info_get(m, shrink_rt_input_tensor(m, 0), &in);
  shrink_rt_tensor_info_get(m, shrink_rt_output_tensor(m, 0), &out);
  size_t arena_size = shrink_rt_arena_size(m);
  void* arena = malloc(arena_size);
  float* x = calloc((size_t)in.numel, sizeof(float));
  float* y = calloc((size_t)out.numel, sizeof(float));
  int code = 1;
  if (arena && x && y && shrink_rt_set_input_f32(m, arena, arena_size, 0, x, (size_t)in.numel) == SHRINK_RT_OK &&
      shrink_rt_run(m, arena, arena_size) == SHRINK_RT_OK &&
      shrink_rt_get_output_f32(m, arena, 0, y, (size_t)out.numel) == SHRINK_RT_OK) {
    int best = 0;
    for (int i = 1; i < (int)out.numel; ++i)
      if (y[i] > y[best]) best = i;
    const char* label = shrink_rt_label(m, best);
    printf("top class %d (%s) score %g\n", best, label ? label : "?", (double)y[best]);
    code = 0;
  } else {
    fprintf(stderr, "example_minimal: the run failed\n");
  }
  free(y);
  free(x);
  free(arena);
  shrink_rt_free(m);
  return code;
}
