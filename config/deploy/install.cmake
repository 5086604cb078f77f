# Item 2 of issue 19: `cmake --install` and the CMake package a control application finds
# with find_package(rtengine) and links as rtengine::rt.
#
# The libraries are STATIC, on purpose: an RT control loop should not call through the PLT
# or depend on what the dynamic loader finds at start (no dlopen/LD_LIBRARY_PATH surprises,
# no symbol interposition, one ABI to keep: the headers'), and the engine's C++ API has no
# stable ABI to version as a shared library yet. The runtime package then holds one binary
# that links only Debian's own shared libraries; the -dev package holds the archives.
#
# Components: `runtime` (the rtengine binary, its default and example configs, the systemd
# files) and `dev` (headers, archives, the CMake package): one Debian package each.
include(CMakePackageConfigHelpers)

set(RT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/rtengine)
# /etc is not below the prefix: scripts/package.sh passes CMAKE_INSTALL_SYSCONFDIR=/etc;
# a plain `cmake --install --prefix P` puts the default config in P/etc.
set(RT_SYSTEMD_UNITDIR lib/systemd/system CACHE STRING "Where the systemd unit goes (relative: below the prefix).")
set(RT_SYSUSERSDIR lib/sysusers.d CACHE STRING "Where the sysusers.d file goes (relative: below the prefix).")

# Installed names say whose they are: the target `rt` would otherwise be librt.a, glibc's.
set_target_properties(hal PROPERTIES OUTPUT_NAME rtengine_hal)
set_target_properties(rt PROPERTIES OUTPUT_NAME rtengine)
set_target_properties(rt_config PROPERTIES OUTPUT_NAME rtengine_config EXPORT_NAME config)

install(TARGETS rtengine RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)

# The public API: the engine (rt), the HAL its headers include, and the TOML config loader
# (rt::config::load -> EngineConfig). rt::http, the CLI and the bench kit are the binary's.
install(TARGETS hal rt rt_config EXPORT rtengineTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
# Below include/rtengine: "rt" and "hal" are too generic for /usr/include itself. The
# targets carry the folder (INSTALL_INTERFACE), so sources still say <rt/engine.hpp>.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/rt/include/ ${PROJECT_SOURCE_DIR}/hal/include/
                  ${PROJECT_SOURCE_DIR}/config/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/rtengine COMPONENT dev FILES_MATCHING PATTERN "*.hpp")
install(EXPORT rtengineTargets NAMESPACE rtengine:: DESTINATION ${RT_CMAKE_DIR} COMPONENT dev)

# What the exported archives link that a consumer must find again (see rtengineConfig.cmake.in).
set(RT_PACKAGE_WITH_URING ${URING_FOUND})
set(RT_PACKAGE_WITH_SYSTEMD ${SYSTEMD_FOUND})
configure_package_config_file(${PROJECT_SOURCE_DIR}/config/deploy/rtengineConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/rtengineConfig.cmake INSTALL_DESTINATION ${RT_CMAKE_DIR})
# 0.x: a minor version may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/rtengineConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/rtengineConfig.cmake ${PROJECT_BINARY_DIR}/rtengineConfigVersion.cmake
        DESTINATION ${RT_CMAKE_DIR} COMPONENT dev)

# The runtime's files: the built-in config as the editable default that the service runs,
# the examples, README.md (the unit's Documentation=), and the systemd unit and sysusers.d
# file when config/systemd has them. The built-in config is the 30 s demo; the service's
# copy runs until systemd stops it, or the service would end (cleanly, so not restarted)
# after 30 s.
file(READ ${PROJECT_SOURCE_DIR}/config/default.toml _rt_toml)
string(REGEX REPLACE "\nduration = \"[^\"]*\"[^\n]*"
       "\nduration = \"0\"          # the service runs until systemd stops it (SIGTERM drains); the built-in demo sets \"30s\""
       _rt_etc_toml "${_rt_toml}")
if(_rt_etc_toml STREQUAL _rt_toml)
  message(FATAL_ERROR "config/default.toml has no [run] duration line to turn into the service's")
endif()
file(WRITE ${PROJECT_BINARY_DIR}/etc/rtengine.toml "${_rt_etc_toml}")
install(FILES ${PROJECT_BINARY_DIR}/etc/rtengine.toml DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/rtengine COMPONENT runtime)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/examples/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/rtengine/examples COMPONENT runtime)
if(EXISTS ${PROJECT_SOURCE_DIR}/config/systemd/rtengine.service)
  install(FILES ${PROJECT_SOURCE_DIR}/config/systemd/rtengine.service
          DESTINATION ${RT_SYSTEMD_UNITDIR} COMPONENT runtime)
endif()
if(EXISTS ${PROJECT_SOURCE_DIR}/config/systemd/rtengine.sysusers)
  install(FILES ${PROJECT_SOURCE_DIR}/config/systemd/rtengine.sysusers RENAME rtengine.conf
          DESTINATION ${RT_SYSUSERSDIR} COMPONENT runtime)
endif()
