# Debian packages with CPack (`cpack -G DEB` in a build directory, or
# scripts/package.sh), one per install component:
#
#   tensor-ipc              (component service) tensor-ipcd, the tensor-ipc command, the
#                           systemd unit, sysusers.d and tmpfiles.d snippets, the example
#                           configuration, man pages
#   libtensoripc-client0    (component client)  the shared library
#   libtensoripc-client-dev (component dev)     headers, the .so link, CMake package, .pc
#   tensor-ipc-ros2         (component ros2)    the ROS 2 bridge and its template unit, when
#                                               Cyclone DDS is found
#
# The maintainer scripts (packaging/debian/) create the user and group
# tensor-ipc and /run/tensor-ipc from the installed snippets, enable and
# (re)start tensor-ipcd where systemd runs, and honour DPKG_ROOT (installs
# into another root, as the package test does).

# Man pages from the programs' own --help (help2man), when help2man is there.
find_program(TENSORIPC_HELP2MAN help2man)
if(TENSORIPC_HELP2MAN)
  set(_tipc_man_dir ${PROJECT_BINARY_DIR}/man)
  set_property(GLOBAL PROPERTY TIPC_MAN_PAGES "")
  function(tipc_man_page prog section what)
    set(page ${_tipc_man_dir}/${prog}.${section})
    add_custom_command(OUTPUT ${page}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${_tipc_man_dir}
      COMMAND ${TENSORIPC_HELP2MAN} --no-info --no-discard-stderr --section=${section}
              --name=${what} --output=${page} $<TARGET_FILE:${prog}>
      COMMAND gzip -9nf ${page}
      DEPENDS ${prog}
      COMMENT "man page ${prog}(${section})"
      VERBATIM)
    set_property(GLOBAL APPEND PROPERTY TIPC_MAN_PAGES ${page}.gz)
    install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section} COMPONENT service)
  endfunction()
  tipc_man_page(tensor-ipcd 8 "the tensor-ipc broker: pools, one producer per topic, notifications")
  tipc_man_page(tensor-ipc 1 "look at and manage the pools of tensor-ipcd")
  get_property(_tipc_pages GLOBAL PROPERTY TIPC_MAN_PAGES)
  add_custom_target(tensoripc_man ALL DEPENDS ${_tipc_pages})
else()
  message(STATUS "tensor-ipc: no help2man: no man pages (install help2man)")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tensor-ipc)
set(CPACK_PACKAGE_VENDOR "tensor-ipc")
set(CPACK_PACKAGE_CONTACT "tensor-ipc maintainers <tensor-ipc@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Each package's summary is the first line of its own description below.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # debug info stays in the build tree
set(CPACK_COMPONENTS_ALL service client dev)
if(TENSORIPC_HAVE_ROS2)
  list(APPEND CPACK_COMPONENTS_ALL ros2)
endif()
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# tensor-ipc links libtensoripc-client0 of the same build (an explicit Depends).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/client)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(_tipc_deb_version "${PROJECT_VERSION}-1")

set(CPACK_DEBIAN_SERVICE_PACKAGE_NAME tensor-ipc)
set(CPACK_DEBIAN_SERVICE_PACKAGE_SECTION net)
set(CPACK_DEBIAN_SERVICE_PACKAGE_DEPENDS "libtensoripc-client0 (= ${_tipc_deb_version}), systemd")
set(CPACK_DEBIAN_SERVICE_DESCRIPTION "tensor-ipcd, the tensor-ipc command and the systemd service
Zero-copy sharing of fixed-shape frames (camera images, model outputs) between
processes on one machine: tensor-ipcd brokers pools of shared memory and tells
consumers of every new frame; tensor-ipc lists, watches and snapshots pools.")
set(CPACK_DEBIAN_SERVICE_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_SERVICE_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_CLIENT_PACKAGE_NAME libtensoripc-client0)
set(CPACK_DEBIAN_CLIENT_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_CLIENT_DESCRIPTION "tensor-ipc client library
libtensoripc-client: producers and consumers of tensor-ipc pools, which map the
frames directly and talk to tensor-ipcd over its Unix socket.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libtensoripc-client-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libtensoripc-client0 (= ${_tipc_deb_version}), libdlpack-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION "tensor-ipc client library: development files
Headers (tensoripc/tensoripc.h), the CMake package (find_package(TensorIpc)) and
the pkg-config file (tensoripc-client) for building against libtensoripc-client.")

set(CPACK_DEBIAN_ROS2_PACKAGE_NAME tensor-ipc-ros2)
set(CPACK_DEBIAN_ROS2_PACKAGE_SECTION net)
set(CPACK_DEBIAN_ROS2_PACKAGE_DEPENDS "libtensoripc-client0 (= ${_tipc_deb_version})")
set(CPACK_DEBIAN_ROS2_PACKAGE_RECOMMENDS "tensor-ipc (= ${_tipc_deb_version})")
set(CPACK_DEBIAN_ROS2_DESCRIPTION "tensor-ipc pools bridged to ROS 2 topics (Cyclone DDS)
tensor-ipc-ros2 publishes a pool's frames on a ROS 2 topic (sensor_msgs/Image,
std_msgs/*MultiArray) and writes a topic's messages into a pool, on ROS 2's own
DDS wire format with no ROS install; tensor-ipc-ros2@.service runs one bridge
per instance.")

include(CPack)
