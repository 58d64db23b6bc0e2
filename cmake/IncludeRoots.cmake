# Include roots that enforce the layers (docs/architecture.md).
#
# tipc_include_root(<target> <folder>) gives <target> (and every target that
# links it) an include root that holds <folder> and nothing else: a symbolic
# link <build>/include-roots/<folder>/<folder> -> <source>/<folder>. So
# `#include "pool/ring.h"` compiles for the pool library and what links it,
# and `#include "daemon/registry.h"` does not, because no include root any
# of them sees holds daemon/. The repository root is never an include root.
function(tipc_include_root target folder)
  set(root "${PROJECT_BINARY_DIR}/include-roots/${folder}")
  file(MAKE_DIRECTORY "${root}")
  if(NOT EXISTS "${root}/${folder}")
    file(CREATE_LINK "${PROJECT_SOURCE_DIR}/${folder}" "${root}/${folder}" SYMBOLIC)
  endif()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE "$<BUILD_INTERFACE:${root}>")
  else()
    target_include_directories(${target} PUBLIC "$<BUILD_INTERFACE:${root}>")
  endif()
endfunction()
