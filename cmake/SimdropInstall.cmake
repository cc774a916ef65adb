# Installs headers, the library, a relocatable CMake package and a pkg-config file:
#   find_package(simdrop CONFIG REQUIRED)  ->  simdrop::simdrop
#   cc app.c $(pkg-config --cflags --libs simdrop)   (PKG_CONFIG_PATH=<prefix>/<libdir>/pkgconfig)
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
install(FILES ${PROJECT_BINARY_DIR}/include/simdrop/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/simdrop)

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

# pkg-config. simdrop is C++ with OpenMP inside: a C program linking the static
# library needs the C++ runtime, libm and OpenMP on its own link line, so they
# are in Libs; a shared library carries them itself (Libs.private).
set(simdrop_runtime_libs "-lstdc++ -lm")
if(SIMDROP_OPENMP)
  string(APPEND simdrop_runtime_libs " ${OpenMP_CXX_FLAGS}")
endif()
if(BUILD_SHARED_LIBS)
  set(SIMDROP_PC_CFLAGS "")
  set(SIMDROP_PC_LIBS "")
  set(SIMDROP_PC_LIBS_PRIVATE " ${simdrop_runtime_libs}")
else()
  set(SIMDROP_PC_CFLAGS " -DSIMDROP_STATIC_DEFINE")
  set(SIMDROP_PC_LIBS " ${simdrop_runtime_libs}")
  set(SIMDROP_PC_LIBS_PRIVATE "")
endif()
file(RELATIVE_PATH SIMDROP_PC_PREFIX_FROM_PCDIR "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" SIMDROP_PC_PREFIX_FROM_PCDIR "${SIMDROP_PC_PREFIX_FROM_PCDIR}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/simdrop.pc.in ${PROJECT_BINARY_DIR}/simdrop.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/simdrop.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
