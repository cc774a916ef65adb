# Runs one step of the packaging tests (cmake -P), so each ctest test is one
# command with a clear log. Every step starts from an empty directory, so the
# tests can be rerun without stale caches.
#
#   -DSTEP=install   -DBUILD_DIR=<simdrop build> -DPREFIX=<dir> [-DCONFIG=<cfg>]
#       cmake --install of an already-built simdrop into a fresh prefix.
#   -DSTEP=library   -DSOURCE_DIR=<simdrop source> -DBINARY_DIR=<dir> -DPREFIX=<dir> -DSETTINGS=<file>
#                    -DGENERATOR=<gen> [-DCONFIG=<cfg>] [-DSHARED=ON|OFF]
#       configures, builds and installs simdrop alone (no tests) into a fresh prefix.
#   -DSTEP=consumer  -DSOURCE_DIR=<consumer project> -DBINARY_DIR=<dir> -DSETTINGS=<file>
#                    -DGENERATOR=<gen> [-DCONFIG=<cfg>] [-DPREFIX=<dir>] [-DSIMDROP_SOURCE_DIR=<dir>]
#                    -DCTEST_COMMAND=<ctest> [-DEXPECTED_VERSION=<v>] [-DSHARED=ON|OFF]
#       configures and builds the consumer, then runs its ctest (under the
#       cross-compiling emulator when there is one).
#   -DSTEP=pkg_config -DPREFIX=<install> -DSOURCE=<consumer.c> -DBINARY_DIR=<dir> -DC_COMPILER=<cc>
#                    [-DEMULATOR=<command>]
#       builds the C consumer with plain `cc consumer.c $(pkg-config --cflags
#       --libs simdrop)` against the install, then runs it.
#   -DSTEP=command   -DPREFIX=<install> -DREFERENCE=<simdrop command of the build tree> [-DEMULATOR=<command>]
#       runs the installed <prefix>/bin/simdrop (a shared simdrop found through
#       its RPATH, relative to the prefix) and requires its `hash` output to
#       equal the build tree's command's.
#
# SETTINGS is an initial-cache file (cmake -C) written by CMakeLists.txt with
# the parent build's compilers, flags, toolchain file and emulator.
cmake_minimum_required(VERSION 3.20)

function(run)
  string(REPLACE ";" " " shown "${ARGN}")
  message(STATUS "Running: ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "Command failed (${result}): ${shown}")
  endif()
endfunction()

set(config_args "")
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()
set(jobs 2)
if(DEFINED ENV{CMAKE_BUILD_PARALLEL_LEVEL} AND NOT "$ENV{CMAKE_BUILD_PARALLEL_LEVEL}" STREQUAL "")
  set(jobs $ENV{CMAKE_BUILD_PARALLEL_LEVEL})
endif()

# configure_and_build(<source> <binary> <extra -D arguments...>)
function(configure_and_build source binary)
  file(REMOVE_RECURSE "${binary}")
  set(generator_args -G "${GENERATOR}")
  if(GENERATOR_PLATFORM)
    list(APPEND generator_args -A "${GENERATOR_PLATFORM}")
  endif()
  if(GENERATOR_TOOLSET)
    list(APPEND generator_args -T "${GENERATOR_TOOLSET}")
  endif()
  run("${CMAKE_COMMAND}" -S "${source}" -B "${binary}" ${generator_args} -C "${SETTINGS}" ${ARGN})
  run("${CMAKE_COMMAND}" --build "${binary}" --parallel ${jobs} ${config_args})
endfunction()

set(shared_args "")
if(DEFINED SHARED)
  set(shared_args "-DBUILD_SHARED_LIBS=${SHARED}")
endif()

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE "${PREFIX}")
  run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${config_args})
elseif(STEP STREQUAL "library")
  file(REMOVE_RECURSE "${PREFIX}")
  configure_and_build("${SOURCE_DIR}" "${BINARY_DIR}" ${shared_args}
    -DSIMDROP_BUILD_TESTS=OFF -DSIMDROP_BUILD_BENCHMARKS=OFF -DSIMDROP_BUILD_EXAMPLES=OFF -DSIMDROP_INSTALL=ON)
  run("${CMAKE_COMMAND}" --install "${BINARY_DIR}" --prefix "${PREFIX}" ${config_args})
elseif(STEP STREQUAL "consumer")
  set(args ${shared_args})
  if(PREFIX)
    list(APPEND args "-DCMAKE_PREFIX_PATH=${PREFIX}" "-DSIMDROP_EXPECTED_PREFIX=${PREFIX}")
  endif()
  if(SIMDROP_SOURCE_DIR)
    list(APPEND args "-DSIMDROP_SOURCE_DIR=${SIMDROP_SOURCE_DIR}")
  endif()
  if(EXPECTED_VERSION)
    list(APPEND args "-DSIMDROP_EXPECTED_VERSION=${EXPECTED_VERSION}")
  endif()
  configure_and_build("${SOURCE_DIR}" "${BINARY_DIR}" ${args})
  set(ctest_config "")
  if(CONFIG)
    set(ctest_config -C ${CONFIG})
  endif()
  run("${CTEST_COMMAND}" --test-dir "${BINARY_DIR}" --output-on-failure --no-tests=error ${ctest_config})
elseif(STEP STREQUAL "pkg_config")
  file(GLOB_RECURSE pc_files "${PREFIX}/*/simdrop.pc")
  list(LENGTH pc_files found)
  if(NOT found EQUAL 1)
    message(FATAL_ERROR "expected one simdrop.pc under ${PREFIX}, found: ${pc_files}")
  endif()
  get_filename_component(pc_dir "${pc_files}" DIRECTORY)
  file(REMOVE_RECURSE "${BINARY_DIR}")
  file(MAKE_DIRECTORY "${BINARY_DIR}")
  set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
  set(program "${BINARY_DIR}/consumer")
  # The very command a user types (the shell expands pkg-config's output).
  run(sh -c "\"${C_COMPILER}\" -std=c99 \"${SOURCE}\" $(pkg-config --cflags --libs simdrop) -o \"${program}\"")
  get_filename_component(libdir "${pc_dir}" DIRECTORY)
  set(ENV{LD_LIBRARY_PATH} "${libdir}")  # a shared simdrop
  separate_arguments(emulator UNIX_COMMAND "${EMULATOR}")
  run(${emulator} "${program}")
elseif(STEP STREQUAL "command")
  separate_arguments(emulator UNIX_COMMAND "${EMULATOR}")
  file(GLOB installed "${PREFIX}/bin/simdrop")
  if(NOT installed)
    message(FATAL_ERROR "no bin/simdrop under ${PREFIX}")
  endif()
  set(hash_args hash --n 1000 --keep-prob 0.5 --seed 7 --stream 3)
  foreach(which installed reference)
    if(which STREQUAL "installed")
      set(program "${installed}")
    else()
      set(program "${REFERENCE}")
    endif()
    execute_process(COMMAND ${emulator} "${program}" ${hash_args}
                    RESULT_VARIABLE result OUTPUT_VARIABLE out_${which} ERROR_VARIABLE err)
    if(NOT result EQUAL 0)
      message(FATAL_ERROR "${program} hash failed (${result}): ${err}")
    endif()
  endforeach()
  if(NOT out_installed STREQUAL out_reference OR NOT out_installed MATCHES "^[0-9a-f]+\n$")
    message(FATAL_ERROR "installed simdrop hash: '${out_installed}', the build tree's: '${out_reference}'")
  endif()
  message(STATUS "installed simdrop hash: ${out_installed}")
else()
  message(FATAL_ERROR "run-consumer.cmake: unknown STEP '${STEP}'")
endif()
