# The two consumer programs, shared by the find-package and add-subdirectory
# projects: one in C99, one in C++17, both linking simdrop::simdrop and built
# with strict warnings, so the public headers are proven clean from both languages.
set(SIMDROP_CONSUMER_SOURCES ${CMAKE_CURRENT_LIST_DIR})

add_executable(consumer_c ${SIMDROP_CONSUMER_SOURCES}/consumer.c)
set_target_properties(consumer_c PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
add_executable(consumer_cxx ${SIMDROP_CONSUMER_SOURCES}/consumer.cpp)
set_target_properties(consumer_cxx PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)

foreach(consumer consumer_c consumer_cxx)
  target_link_libraries(${consumer} PRIVATE simdrop::simdrop)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${consumer} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  endif()
  # Under a cross build, ctest runs these through CMAKE_CROSSCOMPILING_EMULATOR.
  add_test(NAME ${consumer} COMMAND ${consumer})
endforeach()
