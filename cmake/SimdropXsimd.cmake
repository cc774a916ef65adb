# xsimd 8.1's own CMake package is broken on Debian (its target links a
# nonexistent xtl library, and it is not found when cross-compiling), so the
# header is located directly and wrapped in a private INTERFACE target.
find_path(SIMDROP_XSIMD_INCLUDE_DIR xsimd/xsimd.hpp REQUIRED)
if(NOT TARGET simdrop_xsimd)
  add_library(simdrop_xsimd INTERFACE)
  target_include_directories(simdrop_xsimd SYSTEM INTERFACE "${SIMDROP_XSIMD_INCLUDE_DIR}")
endif()
