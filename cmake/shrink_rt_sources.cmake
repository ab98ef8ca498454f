# shrink_rt_sources(OUT RUNTIME_DIR): the sources of the runtime library (runtime/src/*.cc and
# runtime/kernels/*.cc), shared by runtime/CMakeLists.txt and the clang fuzz project (fuzz/).
# The scalar kernels everywhere; the AVX2 files only on x86-64 (they carry the avx2 target
# attribute per function, so no per-file flags), chosen at run time by dispatch_x86.cc; other
# targets get dispatch_generic.cc instead.
#
#   include(${PROJECT_SOURCE_DIR}/cmake/shrink_rt_sources.cmake)
#   shrink_rt_sources(_srcs ${PROJECT_SOURCE_DIR}/runtime)
function(shrink_rt_sources out dir)
  file(GLOB _src CONFIGURE_DEPENDS ${dir}/src/*.cc)
  file(GLOB _kernels CONFIGURE_DEPENDS ${dir}/kernels/*.cc)
  list(FILTER _kernels EXCLUDE REGEX "(_avx2|dispatch_x86|dispatch_generic)\\.cc$")
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    file(GLOB _x86 CONFIGURE_DEPENDS ${dir}/kernels/*_avx2.cc)
    list(APPEND _kernels ${_x86} ${dir}/kernels/dispatch_x86.cc)
  else()
    list(APPEND _kernels ${dir}/kernels/dispatch_generic.cc)
  endif()
  set(${out} ${_src} ${_kernels} PARENT_SCOPE)
endfunction()
