/* Bare-metal shrink runtime on a Cortex-M4 (QEMU mps2-an386): runs the model exported with
 * `shrink export m.h5 --format c --name model -o DIR` (DIR/model.c, DIR/model.h) on the inputs of
 * inputs.h (scripts/mcu_npy.py header x.npy inputs.h) and prints, per input, the outputs as
 * float32 bit patterns and as the model's output integers, then the memory and tick figures, over
 * semihosting (docs/mcu.md).
 *
 *   qemu-system-arm -M mps2-an386 -nographic -semihosting -kernel fw_int8.elf
 *   -> "y 0: c0700000 c0940000 ..."  "q 0: -30 -37 ..."  "mcu: model 437440 bytes, arena ..."
 */
#include <stdio.h>
#include <string.h>

#include "inputs.h"
#include "mcu.h"
#include "model.h"
#include "shrink_rt.h"

/* The arena a run needs, asked of the runtime's planner at export time for this target (the
 * scalar kernels' plan on a Cortex-M4, docs/export.md); checked against the runtime below. */
static uint8_t arena[MODEL_ARENA_BYTES];

#ifdef MODEL_KERNELS
/* Only the kernels the model runs (the export's list): the linker drops the others. */
static const shrink_rt_kernel* const kernels[] = {MODEL_KERNELS(SHRINK_RT_KERNEL_REF) NULL};
#define MCU_KERNELS "the model's"
#else
/* An export without the list (shrink before the kernel table): every kernel. */
#define kernels shrink_rt_kernels_all
#define MCU_KERNELS "all"
#endif

static void print_u32_bits(const char* tag, int sample, const float* y, size_t n) {
  printf("%s %d:", tag, sample);
  for (size_t k = 0; k < n; ++k) {
    uint32_t bits;
    memcpy(&bits, &y[k], sizeof bits);
    printf(" %08lx", (unsigned long)bits);
  }
  printf("\n");
}

int main(void) {
  char err[128];
  shrink_rt_model* m = NULL;
  const shrink_rt_status st = shrink_rt_load_kernels(model_data, MODEL_SIZE, kernels, &m, err, sizeof err);
  if (st != SHRINK_RT_OK) {
    printf("mcu: load failed: %s: %s\n", shrink_rt_status_str(st), err);
    return 1;
  }
  if (shrink_rt_arena_size(m) > sizeof arena) {
    printf("mcu: the model needs %lu bytes of arena, MODEL_ARENA_BYTES is %lu\n",
           (unsigned long)shrink_rt_arena_size(m), (unsigned long)sizeof arena);
    return 1;
  }
  shrink_rt_tensor_info out;
  shrink_rt_tensor_info_get(m, shrink_rt_output_tensor(m, 0), &out);
  static float y[MCU_OUTPUT_MAX];
  if (out.numel > MCU_OUTPUT_MAX) {
    printf("mcu: %lld outputs, MCU_OUTPUT_MAX is %d\n", (long long)out.numel, MCU_OUTPUT_MAX);
    return 1;
  }
  const size_t n = (size_t)out.numel;
  shrink_rt_dtype qtype;
  int qbits, qfl;
  const int has_q = shrink_rt_output_format(m, 0, &qtype, &qbits, &qfl) == SHRINK_RT_OK;
  uint64_t run_ticks = 0;
  for (int s = 0; s < MCU_INPUT_COUNT; ++s) {
    const uint64_t t0 = mcu_ticks();
    if (shrink_rt_set_input_f32(m, arena, sizeof arena, 0, mcu_inputs[s], MCU_INPUT_NUMEL) != SHRINK_RT_OK ||
        shrink_rt_run(m, arena, sizeof arena) != SHRINK_RT_OK ||
        shrink_rt_get_output_f32(m, arena, 0, y, n) != SHRINK_RT_OK) {
      printf("mcu: run %d failed\n", s);
      return 1;
    }
    run_ticks += mcu_ticks() - t0;
    print_u32_bits("y", s, y, n);
    if (has_q) {
      static int16_t q16[MCU_OUTPUT_MAX];
      static int8_t q8[MCU_OUTPUT_MAX];
      void* q = qtype == SHRINK_RT_I8 ? (void*)q8 : (void*)q16;
      if (shrink_rt_get_output_q(m, arena, 0, q, n) != SHRINK_RT_OK) return 1;
      printf("q %d:", s);
      for (size_t k = 0; k < n; ++k) printf(" %d", qtype == SHRINK_RT_I8 ? q8[k] : q16[k]);
      printf("\n");
    }
  }
  printf("mcu: kernels: %s (%d)\n", MCU_KERNELS, shrink_rt_model_kernels(m, NULL, 0));
  printf("mcu: model %lu bytes, arena %lu bytes (planner %lu), heap peak %lu bytes, stack high-water %lu of %lu "
         "bytes\n",
         (unsigned long)MODEL_SIZE, (unsigned long)sizeof arena, (unsigned long)shrink_rt_arena_size(m),
         (unsigned long)mcu_heap_peak(), (unsigned long)mcu_stack_high_water(), (unsigned long)mcu_stack_size());
  printf("mcu: %d runs, %lu SysTick ticks per run\n", MCU_INPUT_COUNT,
         (unsigned long)(run_ticks / (uint64_t)MCU_INPUT_COUNT));
  shrink_rt_free(m);
  return 0;
}
