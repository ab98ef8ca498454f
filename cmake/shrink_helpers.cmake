# shrink_library(NAME DIR [DEPS ...]): one library per folder, sources globbed from DIR (not recursive).
function(shrink_library name)
  cmake_parse_arguments(ARG "" "" "DEPS;PRIVATE_DEPS" ${ARGN})
  file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  add_library(${name} STATIC ${_srcs})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# The one precompiled header of the LibTorch-side targets: compiled once for shrink_core,
# reused by every other target that includes LibTorch.
function(shrink_use_torch_pch target)
  if(TARGET shrink_core AND NOT target STREQUAL shrink_core)
    target_precompile_headers(${target} REUSE_FROM shrink_core)
  endif()
endfunction()

# add_shrink_test(NAME DIR LIBS...): one GoogleTest binary per test folder.
function(add_shrink_test name)
  cmake_parse_arguments(ARG "TORCH" "" "LIBS" ${ARGN})
  file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
  if(NOT _srcs)
    return()
  endif()
  add_executable(${name} ${_srcs})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    SHRINK_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    SHRINK_BINARY_DIR="${PROJECT_BINARY_DIR}"
    SHRINK_BIN_DIR="${PROJECT_BINARY_DIR}/bin")
  if(ARG_TORCH)
    shrink_use_torch_pch(${name})
  endif()
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  include(GoogleTest)
  # OMP_WAIT_POLICY=PASSIVE: Debian's LibTorch uses libgomp, whose threads otherwise spin
  # while they wait, which makes parallel tests on 2 cores many times slower.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 900 ENVIRONMENT "OMP_WAIT_POLICY=PASSIVE")
endfunction()
