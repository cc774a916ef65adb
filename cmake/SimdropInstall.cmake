# Installs headers, the library and a relocatable CMake package:
#   find_package(simdrop CONFIG REQUIRED)  ->  simdrop::simdrop
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS simdrop EXPORT simdrop-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  # The target's $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}> is evaluated before
  # GNUInstallDirs is included (it is empty there), so the exported target gets its
  # include directory from here.
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/simdrop DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# A static simdrop carries its private OpenMP dependency into the consumer's link.
if(SIMDROP_OPENMP AND NOT BUILD_SHARED_LIBS)
  set(SIMDROP_NEEDS_OPENMP ON)
else()
  set(SIMDROP_NEEDS_OPENMP OFF)
endif()

set(SIMDROP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/simdrop)
install(EXPORT simdrop-targets NAMESPACE simdrop:: DESTINATION ${SIMDROP_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/simdrop-config.cmake.in
  ${PROJECT_BINARY_DIR}/simdrop-config.cmake INSTALL_DESTINATION ${SIMDROP_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/simdrop-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/simdrop-config.cmake ${PROJECT_BINARY_DIR}/simdrop-config-version.cmake
  DESTINATION ${SIMDROP_CMAKE_DIR})
