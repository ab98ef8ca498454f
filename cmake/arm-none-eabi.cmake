# CMake toolchain file: bare-metal Arm Cortex-M4 with arm-none-eabi-gcc (Debian gcc-arm-none-eabi,
# libnewlib-arm-none-eabi, libstdc++-arm-none-eabi-newlib). Thumb-2, soft float by default (the
# runtime's integer paths need no FPU); -DSHRINK_M4_HARD_FLOAT=ON uses the FPv4-SP FPU with the
# hard-float ABI. The runtime library only: the host tools and tests are not built for this target
# (SHRINK_RUNTIME_ONLY and no tests are forced), and the kernel list (cmake/shrink_rt_sources.cmake)
# picks the portable scalar kernels with dispatch_generic.cc, since the processor is not x86.
# MinSizeRel turns on SHRINK_RT_OPTIMIZE_SIZE and SHRINK_RT_TERSE_MESSAGES (below). With
# SHRINK_MCU_MODEL_DIRS set, examples/cortex-m4/ builds one firmware per model, each linking only
# its model's kernels (docs/mcu.md).
#
#   cmake -S . -B build-m4 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake
#   ninja -C build-m4 shrink_rt            # libshrink_rt.a for Cortex-M4
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
set(CMAKE_AR arm-none-eabi-ar CACHE FILEPATH "")
set(CMAKE_RANLIB arm-none-eabi-ranlib CACHE FILEPATH "")
set(CMAKE_SIZE arm-none-eabi-size CACHE FILEPATH "")
# The compiler checks link a static library: a bare-metal program needs a linker script.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# For size: the hot kernels (conv2d_q, dense_q) at -Os like the rest of a MinSizeRel build instead of
# -O3 (runtime/CMakeLists.txt): about 12 KB less flash, about 1.5x the instructions (docs/mcu.md).
if(CMAKE_BUILD_TYPE STREQUAL "MinSizeRel")
  set(_optimize_size_default ON)
else()
  set(_optimize_size_default OFF)
endif()
option(SHRINK_RT_OPTIMIZE_SIZE "Cortex-M4: every runtime source for size, the hot kernels included" ${_optimize_size_default})
# Status messages as source sites ("loader.cc:82", runtime/src/check.h): about 9 KB less flash.
option(SHRINK_RT_TERSE_MESSAGES "runtime: status messages as source sites only (for microcontrollers)" ${_optimize_size_default})
option(SHRINK_M4_HARD_FLOAT "Cortex-M4 with the FPv4-SP FPU and the hard-float ABI" OFF)
if(SHRINK_M4_HARD_FLOAT)
  set(_m4_flags "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard")
else()
  set(_m4_flags "-mcpu=cortex-m4 -mthumb -mfloat-abi=soft")
endif()
# Each function and object in its own section, so that --gc-sections drops what a firmware does
# not use; newlib-nano's smaller printf / malloc.
set(CMAKE_C_FLAGS_INIT "${_m4_flags} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${_m4_flags} -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${_m4_flags}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_m4_flags} --specs=nano.specs -Wl,--gc-sections")

set(SHRINK_RUNTIME_ONLY ON CACHE BOOL "" FORCE)
set(SHRINK_BUILD_TESTS OFF CACHE BOOL "" FORCE)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
