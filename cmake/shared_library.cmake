# libshoal.so (SHOAL_SHARED): the three static libraries whole, as one shared library that
# exports only the C APIs, shoal.h and shoal_cluster.h (cmake/libshoal.map): for Python
# (python/, ctypes) and other languages' foreign-function interfaces. Everything is compiled
# position-independent for it (the top-level CMakeLists.txt); the static libraries, the
# command-line tool and the firmware path are otherwise as without it.
set(SHOAL_SHARED_SOURCE ${PROJECT_BINARY_DIR}/generated/libshoal.c)
file(WRITE ${SHOAL_SHARED_SOURCE} "/* libshoal.so is shoal's static libraries, whole: cmake/shared_library.cmake */\n")
add_library(shoal_shared SHARED ${SHOAL_SHARED_SOURCE})
set_target_properties(shoal_shared PROPERTIES
  OUTPUT_NAME shoal
  LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
  LINK_DEPENDS ${PROJECT_SOURCE_DIR}/cmake/libshoal.map)
target_link_libraries(shoal_shared PRIVATE
  -Wl,--whole-archive shoal_net shoal_runtime shoal_core -Wl,--no-whole-archive
  -Wl,--version-script=${PROJECT_SOURCE_DIR}/cmake/libshoal.map -Wl,--no-undefined -Wl,--gc-sections)
target_include_directories(shoal_shared INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/core/include>
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/net/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
add_library(shoal::shared ALIAS shoal_shared)
