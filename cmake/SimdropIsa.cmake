# Per-ISA translation units: each kernel file is compiled with its own flags
# into an OBJECT library; the rest of the library is built for the baseline
# architecture and picks a kernel at run time.
include(SimdropWarnings)

set(SIMDROP_ISA_TARGETS "")

# simdrop_isa_object(<name> <define> SOURCES <files...> FLAGS <flags...>): the
# ISA's translation units (under src/kernels/arch/) compiled with its flags
# into one OBJECT library.
function(simdrop_isa_object name define)
  cmake_parse_arguments(PARSE_ARGV 2 isa "" "" "SOURCES;FLAGS")
  set(target simdrop_isa_${name})
  list(TRANSFORM isa_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/src/kernels/arch/)
  add_library(${target} OBJECT ${isa_SOURCES})
  target_compile_features(${target} PRIVATE cxx_std_17)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include)
  target_link_libraries(${target} PRIVATE simdrop_xsimd)
  target_compile_options(${target} PRIVATE ${isa_FLAGS})
  if(SIMDROP_KERNEL_VARIANTS STREQUAL "lean")
    target_compile_definitions(${target} PRIVATE SIMDROP_LEAN_KERNELS)
  endif()
  # Kernels are always optimised, at -O3 so that the small fixed loops over
  # lanes and groups unroll into registers (g++ 12 cannot compile xsimd's AVX-512 select at -O0,
  # and unoptimised inline helpers could be merged across ISA files by the linker).
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE ${SIMDROP_KERNEL_OPTIMIZATION})
  endif()
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  simdrop_warnings(${target})
  simdrop_exact_float(${target})
  set(SIMDROP_ISA_TARGETS ${SIMDROP_ISA_TARGETS} ${target} PARENT_SCOPE)
  set(SIMDROP_ISA_DEFINES ${SIMDROP_ISA_DEFINES} ${define} PARENT_SCOPE)
endfunction()

# Which kernel instances have a one-pass kernel (src/kernels/generic/entries.inc,
# "Which instances exist"): "release" (every variant the benchmarks need) or
# "lean" (about a third of them: the sanitizer builds, whose tests reach the
# others through the composed entries; the native build tests them all).
set(SIMDROP_KERNEL_VARIANTS "release" CACHE STRING "Kernel instances compiled: release or lean")
set_property(CACHE SIMDROP_KERNEL_VARIANTS PROPERTY STRINGS release lean)
if(NOT SIMDROP_KERNEL_VARIANTS MATCHES "^(release|lean)$")
  message(FATAL_ERROR "SIMDROP_KERNEL_VARIANTS must be release or lean, not '${SIMDROP_KERNEL_VARIANTS}'")
endif()

# The kernels' optimisation level: -O3 (the default, what every figure was
# measured with); the sanitizer stages build them at -O1, three times faster
# under ASan, since they check memory safety, not speed.
set(SIMDROP_KERNEL_OPTIMIZATION "-O3" CACHE STRING "Optimisation flag of the kernel translation units")

function(simdrop_add_isa_kernels library)
  set(SIMDROP_ISA_TARGETS "")
  set(SIMDROP_ISA_DEFINES "")
  if(SIMDROP_SIMD)
    if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
      simdrop_isa_object(avx2 SIMDROP_HAVE_AVX2
        SOURCES avx2.cpp avx2_masks.cpp avx2_halves.cpp avx2_fused.cpp avx2_apply.cpp
        FLAGS -mavx2 -mfma -mf16c)
      simdrop_isa_object(avx512 SIMDROP_HAVE_AVX512
        SOURCES avx512.cpp avx512_masks.cpp avx512_halves.cpp avx512_fused.cpp avx512_apply.cpp
        FLAGS -mavx512f -mavx512cd -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -mf16c -mbmi2)
      # The bf16 entry again with AVX-512 BF16, chosen at run time (avx512_bf16.cpp).
      simdrop_isa_object(avx512_bf16 SIMDROP_HAVE_AVX512_BF16
        SOURCES avx512_bf16.cpp
        FLAGS -mavx512f -mavx512cd -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -mf16c -mbmi2 -mavx512bf16)
      if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        # g++ 12 warns falsely inside its own AVX-512 intrinsics header.
        target_compile_options(simdrop_isa_avx512 PRIVATE -Wno-uninitialized -Wno-maybe-uninitialized)
        target_compile_options(simdrop_isa_avx512_bf16 PRIVATE -Wno-uninitialized -Wno-maybe-uninitialized)
      endif()
    elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
      simdrop_isa_object(neon SIMDROP_HAVE_NEON SOURCES neon.cpp neon_masks.cpp neon_halves.cpp neon_fused.cpp)
    endif()
  endif()
  foreach(t IN LISTS SIMDROP_ISA_TARGETS)
    target_sources(${library} PRIVATE $<TARGET_OBJECTS:${t}>)
  endforeach()
  target_compile_definitions(${library} PRIVATE ${SIMDROP_ISA_DEFINES})
endfunction()
