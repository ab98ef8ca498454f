/* newlib system calls for the firmware over Arm semihosting (QEMU -semihosting): stdout through
 * SYS_WRITE on ":tt", exit through SYS_EXIT, and an _sbrk heap between .bss and the stack that
 * records its peak. The other calls come from libnosys (--specs=nosys.specs).
 *
 *   mcu_semihost_init(); printf("hello\n");   // on QEMU's standard output
 */
#include <errno.h>
#include <stdint.h>
#include <sys/types.h>

#include "mcu.h"

enum { SYS_OPEN = 0x01, SYS_WRITE0 = 0x04, SYS_WRITE = 0x05, SYS_EXIT = 0x18 };
enum { ADP_Stopped_ApplicationExit = 0x20026, ADP_Stopped_RunTimeErrorUnknown = 0x20023 };

static int semihost_call(int op, void* arg) {
  register int r0 __asm__("r0") = op;
  register void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static int stdout_handle = -1;

void mcu_semihost_init(void) {
  uint32_t args[3] = {(uint32_t)":tt", 4 /* "w" */, 3 /* strlen(":tt") */};
  stdout_handle = semihost_call(SYS_OPEN, args);
}

void mcu_semihost_puts(const char* s) { semihost_call(SYS_WRITE0, (void*)s); }

void mcu_semihost_exit(int status) {
  semihost_call(SYS_EXIT, (void*)(status == 0 ? ADP_Stopped_ApplicationExit : ADP_Stopped_RunTimeErrorUnknown));
  for (;;) {
  }
}

int _write(int fd, const char* buf, int len) {
  if (fd != 1 && fd != 2) {
    errno = EBADF;
    return -1;
  }
  uint32_t args[3] = {(uint32_t)stdout_handle, (uint32_t)buf, (uint32_t)len};
  return len - semihost_call(SYS_WRITE, args); /* SYS_WRITE returns the bytes NOT written */
}

void _exit(int status) { mcu_semihost_exit(status); }

extern char __heap_start__[], __heap_end__[];
static char* heap_break = __heap_start__;
static char* heap_max = __heap_start__;

void* _sbrk(ptrdiff_t increment) {
  if (increment > __heap_end__ - heap_break || increment < __heap_start__ - heap_break) {
    errno = ENOMEM;
    return (void*)-1;
  }
  char* old = heap_break;
  heap_break += increment;
  if (heap_break > heap_max) heap_max = heap_break;
  return old;
}

size_t mcu_heap_peak(void) { return (size_t)(heap_max - __heap_start__); }
