# Every schema/*.fbs is compiled by flatc at build time; generated headers are never committed.
find_program(SHOAL_FLATC flatc REQUIRED)
find_path(SHOAL_FLATBUFFERS_INCLUDE flatbuffers/flatbuffers.h REQUIRED)

set(SHOAL_SCHEMA_OUT ${PROJECT_BINARY_DIR}/generated/shoal/schema)
file(GLOB SHOAL_SCHEMAS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/schema/*.fbs)
set(SHOAL_SCHEMA_HEADERS)
foreach(fbs ${SHOAL_SCHEMAS})
  get_filename_component(stem ${fbs} NAME_WE)
  set(hdr ${SHOAL_SCHEMA_OUT}/${stem}_generated.h)
  add_custom_command(
    OUTPUT ${hdr}
    COMMAND ${SHOAL_FLATC} --cpp --scoped-enums -o ${SHOAL_SCHEMA_OUT} ${fbs}
    DEPENDS ${fbs}
    COMMENT "flatc ${stem}.fbs")
  list(APPEND SHOAL_SCHEMA_HEADERS ${hdr})
endforeach()
add_custom_target(shoal_schema_gen DEPENDS ${SHOAL_SCHEMA_HEADERS})

# shoal/version.h: SHOAL_VERSION from project(); generated beside the schema headers.
configure_file(${CMAKE_CURRENT_LIST_DIR}/version.h.in ${PROJECT_BINARY_DIR}/generated/shoal/version.h @ONLY)

add_library(shoal_schema INTERFACE)
add_dependencies(shoal_schema shoal_schema_gen)
target_include_directories(shoal_schema INTERFACE $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/generated>
                                                   ${SHOAL_FLATBUFFERS_INCLUDE})
# Weight buffers are 64-byte aligned (a cache line, an AVX-512 vector); FlatBuffers allows
# up to 32 unless told otherwise, and asserts in debug builds.
target_compile_definitions(shoal_schema INTERFACE FLATBUFFERS_MAX_ALIGNMENT=64)

# Schemas that the runtime parses JSON against, embedded as text.
set(SHOAL_CLUSTER_SCHEMA_H ${SHOAL_SCHEMA_OUT}/cluster_schema_text.h)
add_custom_command(
  OUTPUT ${SHOAL_CLUSTER_SCHEMA_H}
  COMMAND ${CMAKE_COMMAND} -DINPUT=${PROJECT_SOURCE_DIR}/schema/cluster.fbs -DOUTPUT=${SHOAL_CLUSTER_SCHEMA_H}
          -DNAME=kClusterSchemaText -P ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake
  DEPENDS ${PROJECT_SOURCE_DIR}/schema/cluster.fbs ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake)
add_custom_target(shoal_schema_text DEPENDS ${SHOAL_CLUSTER_SCHEMA_H})
add_dependencies(shoal_schema shoal_schema_text)
find_library(SHOAL_FLATBUFFERS_LIB NAMES flatbuffers REQUIRED)
