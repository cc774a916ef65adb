# Cross-compiling simdrop for aarch64 Linux (NEON) with Debian's
# g++-aarch64-linux-gnu, and running its tests under qemu-user:
#
#   cmake -S . -B build-arm -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
#   cmake --build build-arm && ctest --test-dir build-arm
#
# ctest (test discovery included) then runs every aarch64 program through
# CMAKE_CROSSCOMPILING_EMULATOR: there is no binfmt registration, so an aarch64
# binary started directly fails with "Exec format error".
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(SIMDROP_AARCH64_TRIPLE aarch64-linux-gnu)
set(SIMDROP_AARCH64_SYSROOT /usr/${SIMDROP_AARCH64_TRIPLE})

set(CMAKE_C_COMPILER ${SIMDROP_AARCH64_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${SIMDROP_AARCH64_TRIPLE}-g++)

# Target libraries (libc, libstdc++, libgomp) come from the cross sysroot only;
# header-only dependencies (xsimd, Catch2, Random123) and CMake packages may
# come from the host, where Debian installs them architecture-independently.
set(CMAKE_FIND_ROOT_PATH ${SIMDROP_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# qemu-aarch64 (package qemu-user) with the sysroot as its library prefix, so
# the dynamic loader and shared libraries of the target are found.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${SIMDROP_AARCH64_SYSROOT})
