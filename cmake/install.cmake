# `cmake --install`: headers, the three static libraries, shoalConfig.cmake (find_package)
# with the targets shoal::core, shoal::runtime and shoal::net, shoal.pc and shoal-core.pc
# (pkg-config), the shoal tool where it was built, and with SHOAL_SHARED libshoal.so
# (shoal::shared, shoal-c.pc: the C APIs alone).
include(CMakePackageConfigHelpers)

install(DIRECTORY core/include/ runtime/include/ net/include/ kernels/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${PROJECT_BINARY_DIR}/generated/shoal/schema/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/shoal/schema
        FILES_MATCHING PATTERN "*_generated.h")
install(FILES ${PROJECT_BINARY_DIR}/generated/shoal/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/shoal)
target_include_directories(shoal_schema INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

set_target_properties(shoal_core PROPERTIES EXPORT_NAME core)
set_target_properties(shoal_runtime PROPERTIES EXPORT_NAME runtime)
set_target_properties(shoal_net PROPERTIES EXPORT_NAME net)
set_target_properties(shoal_schema PROPERTIES EXPORT_NAME schema)
install(TARGETS shoal_core shoal_runtime shoal_net shoal_schema EXPORT shoalTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(SHOAL_SHARED)
  set_target_properties(shoal_shared PROPERTIES EXPORT_NAME shared)
  install(TARGETS shoal_shared EXPORT shoalTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
if(TARGET shoal)
  install(TARGETS shoal shoal-worker RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(EXPORT shoalTargets NAMESPACE shoal:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shoal)
configure_package_config_file(cmake/shoalConfig.cmake.in ${PROJECT_BINARY_DIR}/shoalConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shoal)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/shoalConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/shoalConfig.cmake ${PROJECT_BINARY_DIR}/shoalConfigVersion.cmake
              cmake/shoal_embed.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shoal)

# pkg-config: `shoal` is everything (net, runtime, core), `shoal-core` the firmware core, both
# static and linked from C as they are (hence the C++ runtime and libm); `shoal-c` is
# libshoal.so.
set(SHOAL_PC_THREADS "")
if(SHOAL_THREADS)
  set(SHOAL_PC_THREADS "-pthread")
endif()
set(SHOAL_PC_XNNPACK "")
if(SHOAL_WITH_XNNPACK)
  set(SHOAL_PC_XNNPACK "-lXNNPACK -lpthreadpool")
endif()
# The prefix relative to the .pc file, so that `cmake --install --prefix` anywhere works.
file(RELATIVE_PATH SHOAL_PC_UP ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" SHOAL_PC_UP "${SHOAL_PC_UP}")
configure_file(cmake/shoal.pc.in ${PROJECT_BINARY_DIR}/shoal.pc @ONLY)
configure_file(cmake/shoal-core.pc.in ${PROJECT_BINARY_DIR}/shoal-core.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/shoal.pc ${PROJECT_BINARY_DIR}/shoal-core.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(SHOAL_SHARED)
  configure_file(cmake/shoal-c.pc.in ${PROJECT_BINARY_DIR}/shoal-c.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/shoal-c.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
