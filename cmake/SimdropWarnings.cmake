# Compiler flags every simdrop target shares, defined once:
#
# simdrop_warnings(<target>)     the warning flags, for the library, its kernels,
#                                the tests, benchmarks and examples alike.
# simdrop_exact_float(<target>)  -ffp-contract=off: every implementation must
#                                compute the same floats, so no compiler may fuse
#                                x * s + r into one FMA behind the source's back
#                                (GCC contracts by default outside ISO mode). The
#                                library, its kernels and every test oracle or
#                                example that recomputes its values take it; an
#                                FMA is written explicitly where one is meant.
function(simdrop_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  endif()
endfunction()

function(simdrop_exact_float target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -ffp-contract=off)
  endif()
endfunction()
