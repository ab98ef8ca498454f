/* Reset and exception handlers of the Cortex-M4 firmware (mps2_an386.ld): copies .data, clears
 * .bss, paints the stack for the high-water mark (mcu_stack_high_water), enables SysTick as a
 * cycle-style counter (mcu_ticks), runs the C/C++ constructors, then main, then exit.
 *
 *   arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb startup.c semihost.c main.c ... -T mps2_an386.ld
 */
#include <stdint.h>
#include <stdlib.h>

#include "mcu.h"

extern uint32_t __data_start__[], __data_end__[], __data_load__[];
extern uint32_t __bss_start__[], __bss_end__[];
extern uint32_t __stack_limit__[], __stack_top__[];

int main(void);
void __libc_init_array(void);

#define STACK_PAINT 0x5AC3A55Au

/* SysTick (ARMv7-M system control space) */
#define SYST_CSR (*(volatile uint32_t*)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t*)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t*)0xE000E018u)
static volatile uint32_t systick_wraps;

void SysTick_Handler(void) { ++systick_wraps; }

uint64_t mcu_ticks(void) {
  uint32_t wraps, cvr;
  do {
    wraps = systick_wraps;
    cvr = SYST_CVR;
  } while (wraps != systick_wraps);
  return (uint64_t)wraps * 0x1000000u + (0xFFFFFFu - cvr);
}

size_t mcu_stack_high_water(void) {
  const uint32_t* p = __stack_limit__;
  while (p < __stack_top__ && *p == STACK_PAINT) ++p;
  return (size_t)((const char*)__stack_top__ - (const char*)p);
}

size_t mcu_stack_size(void) { return (size_t)((const char*)__stack_top__ - (const char*)__stack_limit__); }

__attribute__((noreturn)) void Reset_Handler(void) {
  for (uint32_t *s = __data_load__, *d = __data_start__; d < __data_end__;) *d++ = *s++;
  for (uint32_t* d = __bss_start__; d < __bss_end__;) *d++ = 0;
  /* Paint the stack below the current frame (a small margin for this function's own frame). */
  uint32_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (volatile uint32_t* p = __stack_limit__; (uint32_t)p < sp - 64; ++p) *p = STACK_PAINT;
#if defined(__ARM_FP)
  /* Hard-float build: enable CP10 / CP11 (the FPU) before any floating-point instruction. */
  *(volatile uint32_t*)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n isb");
#endif
  SYST_RVR = 0xFFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 7u; /* processor clock, interrupt on wrap, enabled */
  mcu_semihost_init();
  __libc_init_array();
  exit(main());
}

__attribute__((noreturn)) static void fault(const char* what) {
  mcu_semihost_puts(what);
  mcu_semihost_exit(1);
}

void NMI_Handler(void) { fault("NMI\n"); }
void HardFault_Handler(void) { fault("HardFault\n"); }
void MemManage_Handler(void) { fault("MemManage fault\n"); }
void BusFault_Handler(void) { fault("BusFault\n"); }
void UsageFault_Handler(void) { fault("UsageFault\n"); }
void Default_Handler(void) { fault("unexpected interrupt\n"); }

typedef void (*vector)(void);
__attribute__((section(".vectors"), used)) const vector mcu_vectors[16 + 32] = {
    (vector)__stack_top__, Reset_Handler,   NMI_Handler,     HardFault_Handler, MemManage_Handler,
    BusFault_Handler,      UsageFault_Handler, 0,            0,                 0,
    0,                     Default_Handler, Default_Handler, 0,                 Default_Handler,
    SysTick_Handler,
    [16 ... 47] = Default_Handler,
};
