/* Board support of the Cortex-M4 firmware (startup.c, semihost.c): semihosting output and exit,
 * the stack high-water mark, heap peak and a SysTick tick counter.
 *
 *   size_t used = mcu_stack_high_water();   // bytes of stack ever used since reset
 */
#ifndef SHRINK_EXAMPLES_CORTEX_M4_MCU_H
#define SHRINK_EXAMPLES_CORTEX_M4_MCU_H
#include <stddef.h>
#include <stdint.h>

void mcu_semihost_init(void);
void mcu_semihost_puts(const char* s);
/* Ends the QEMU process: status 0 -> exit code 0, anything else -> 1. */
__attribute__((noreturn)) void mcu_semihost_exit(int status);
/* Bytes of the painted stack that were overwritten since reset, and the stack's size. */
size_t mcu_stack_high_water(void);
size_t mcu_stack_size(void);
/* Highest heap break reached (bytes above the end of .bss) by malloc / new. */
size_t mcu_heap_peak(void);
/* SysTick ticks since reset (processor clock; under QEMU -icount, proportional to instructions). */
uint64_t mcu_ticks(void);
#endif
