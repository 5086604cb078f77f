# Item 3 of issue 19: Debian packages with CPack, one per install component (install.cmake):
#   rtengine      the binary, /etc/rtengine/rtengine.toml (a conffile), examples, systemd files
#   rtengine-dev  headers, static archives, the CMake package
# scripts/package.sh configures with CMAKE_INSTALL_PREFIX=/usr and CMAKE_INSTALL_SYSCONFDIR=/etc,
# builds, and runs cpack; it also sets the runtime's Depends for a cross build (see there).
set(RT_DEB_MAINTAINER "rtengine maintainers <maintainers@users.noreply.b-seed-87fc06b7.example>"
    CACHE STRING "The Maintainer field of the Debian packages.")

# The Debian architecture of what the compiler builds (not of the build machine: cross).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(_rt_deb_arch amd64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(_rt_deb_arch arm64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^arm")
  set(_rt_deb_arch armhf)
else()
  set(_rt_deb_arch ${CMAKE_SYSTEM_PROCESSOR})
endif()

# Every package needs /usr/share/doc/<package>/{copyright,changelog.Debian.gz} (Policy 12.5,
# 12.7); the changelog gzip'ed -9n (lintian: max compression, no timestamp), here at configure
# time, as gzip is Essential on Debian.
set(_rt_deb_doc ${PROJECT_BINARY_DIR}/deb)
string(TIMESTAMP _rt_deb_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
foreach(_pkg rtengine rtengine-dev)
  file(MAKE_DIRECTORY ${_rt_deb_doc}/${_pkg})
  configure_file(${PROJECT_SOURCE_DIR}/config/deploy/deb/changelog.in ${_rt_deb_doc}/${_pkg}/changelog @ONLY)
  execute_process(COMMAND gzip -9nf ${_rt_deb_doc}/${_pkg}/changelog RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "gzip ${_rt_deb_doc}/${_pkg}/changelog failed (${_rc})")
  endif()
endforeach()
foreach(_pkg_comp rtengine:runtime rtengine-dev:dev)
  string(REPLACE ":" ";" _pc ${_pkg_comp})
  list(GET _pc 0 _pkg)
  list(GET _pc 1 _comp)
  install(FILES ${PROJECT_SOURCE_DIR}/config/deploy/deb/copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${_pkg}
          COMPONENT ${_comp})
  install(FILES ${_rt_deb_doc}/${_pkg}/changelog.gz RENAME changelog.Debian.gz
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${_pkg} COMPONENT ${_comp})
  install(FILES ${PROJECT_SOURCE_DIR}/config/deploy/deb/${_pkg}.lintian-overrides RENAME ${_pkg}
          DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides COMPONENT ${_comp})
endforeach()

# The maintainer scripts create the service's user and reload systemd when it runs;
# conffiles names the default config so dpkg keeps a local edit on upgrade and purges it.
configure_file(${PROJECT_SOURCE_DIR}/config/deploy/deb/conffiles.in ${_rt_deb_doc}/conffiles @ONLY)
# Absolute paths of the systemd files on the installed system.
foreach(_v RT_SYSTEMD_UNITDIR RT_SYSUSERSDIR)
  if(IS_ABSOLUTE ${${_v}})
    set(_${_v}_full ${${_v}})
  else()
    set(_${_v}_full ${CMAKE_INSTALL_PREFIX}/${${_v}})
  endif()
endforeach()
set(RT_DEB_UNIT ${_RT_SYSTEMD_UNITDIR_full}/rtengine.service)
set(RT_DEB_SYSUSERS ${_RT_SYSUSERSDIR_full}/rtengine.conf)
foreach(_script postinst prerm postrm)
  configure_file(${PROJECT_SOURCE_DIR}/config/deploy/deb/${_script}.in ${_rt_deb_doc}/${_script} @ONLY)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME rtengine)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "rtengine")
set(CPACK_PACKAGE_CONTACT "${RT_DEB_MAINTAINER}")
# Equal to CPack's default summary, so that CPackDeb does not put the project's DESCRIPTION
# above each component's own (whose first line is the synopsis): lintian's
# description-synopsis-is-duplicated.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
# The default config's absolute destination (/etc) lands in the package, not on this machine.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)  # the binary; install(TARGETS) never strips the archives
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${_rt_deb_arch})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${RT_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)  # scripts 0755, conffiles 0644

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME rtengine)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "low-latency real-time task engine
rtengine runs periodic control loops, task graphs and sagas on pinned
SCHED_FIFO worker threads with deadlines, retries, circuit breakers and a
dead-letter queue, configured by one TOML file. It serves an HTTP API and
Prometheus metrics, checks the machine (rtengine doctor) and measures it
(rtengine bench).
.
This package holds the rtengine program, its default configuration in
/etc/rtengine, example configurations and the systemd service.")
# Native: dpkg-shlibdeps reads the binary's NEEDED libraries from this machine's dpkg
# database. Cross: it cannot see the target's libraries, so scripts/package.sh computes
# the Depends from the binary's NEEDED entries and the sysroot's packages and passes
# CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS with SHLIBDEPS off on cpack's command line.
if(CMAKE_CROSSCOMPILING)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS OFF)
else()
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
endif()
# postinst falls back to adduser where systemd-sysusers is not there; merged with shlibdeps.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
    ${_rt_deb_doc}/conffiles ${_rt_deb_doc}/postinst ${_rt_deb_doc}/prerm ${_rt_deb_doc}/postrm)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME rtengine-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION "low-latency real-time task engine (development files)
rtengine runs periodic control loops, task graphs and sagas on pinned
SCHED_FIFO worker threads with deadlines, retries and circuit breakers.
.
This package holds the headers, the static libraries and the CMake package
of the engine: a control application links it with find_package(rtengine)
and target_link_libraries(app PRIVATE rtengine::rt).")
# What the exported archives link (rtengineConfig.cmake finds them again).
set(_rt_dev_depends "libtomlplusplus-dev (>= 3)")
if(URING_FOUND)
  string(APPEND _rt_dev_depends ", liburing-dev (>= 2.0)")
endif()
if(SYSTEMD_FOUND)
  string(APPEND _rt_dev_depends ", libsystemd-dev")
endif()
if(URING_FOUND OR SYSTEMD_FOUND)
  string(APPEND _rt_dev_depends ", pkg-config")
endif()
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${_rt_dev_depends}")
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)  # static archives: nothing for dpkg-shlibdeps

include(CPack)
