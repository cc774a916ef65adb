# ctest python_install: `cmake --install` the build into a fresh prefix, then
# import simdrop and simdrop.torch from there (and not from the build tree).
#   cmake -DBUILD_DIR=... -DPREFIX=... -DPACKAGE_DIR=lib/python3.X/site-packages
#         -DPYTHON=... -DCHECK_SCRIPT=.../install_check.py -P run_install_test.cmake
foreach(var BUILD_DIR PREFIX PACKAGE_DIR PYTHON CHECK_SCRIPT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_install_test.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
  RESULT_VARIABLE status OUTPUT_QUIET)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD_DIR} --prefix ${PREFIX} failed (${status})")
endif()

set(site "${PREFIX}/${PACKAGE_DIR}")
foreach(file __init__.py torch.py _torch_ops.so)
  if(NOT EXISTS "${site}/simdrop/${file}")
    message(FATAL_ERROR "the install has no ${site}/simdrop/${file}")
  endif()
endforeach()

# Run from the prefix, with only the installed package on PYTHONPATH.
execute_process(COMMAND "${CMAKE_COMMAND}" -E env --unset=PYTHONPATH "PYTHONPATH=${site}" PYTHONDONTWRITEBYTECODE=1
    "${PYTHON}" "${CHECK_SCRIPT}" "${site}"
  WORKING_DIRECTORY "${PREFIX}"
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "importing the installed package failed (${status})")
endif()
message(STATUS "installed package in ${site} imports and runs")
