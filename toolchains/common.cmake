# Shared by the thin per-target files, which set RT_TARGET_TRIPLE, RT_TARGET_PROCESSOR,
# RT_TARGET_DEBARCH, RT_TARGET_LOADER and RT_QEMU before including this one. Compilers are
# Debian's cross gcc (g++-<triple>) with their own libc and libstdc++
# (/usr/<triple>/lib); every other library comes from the target's sysroot, Debian's
# packages for the target unpacked under build/sysroot/<arch> by `scripts/deps.sh <target>`
# (scripts/sysroot.sh). Nothing of the target's architecture is installed on the build
# machine, and nothing of the build machine's /usr/include or /usr/lib is seen.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${RT_TARGET_PROCESSOR})
set(CMAKE_C_COMPILER ${RT_TARGET_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${RT_TARGET_TRIPLE}-g++)

get_filename_component(RT_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../build/sysroot/${RT_TARGET_DEBARCH}" ABSOLUTE)
if(NOT EXISTS "${RT_SYSROOT}/.stamp")
  message(FATAL_ERROR "No sysroot at ${RT_SYSROOT}: run scripts/deps.sh with this target (aarch64 or armhf; scripts/build.sh does)")
endif()
# --sysroot re-roots the compiler's /usr/include and the linker's /lib, /usr/lib (and
# their <triple> folders) into the sysroot; the cross gcc keeps its own libc and
# libstdc++ from /usr/<triple>, which are not under /usr/include or /usr/lib.
set(CMAKE_SYSROOT "${RT_SYSROOT}")
# find_package looks in <prefix>/lib/<triple>/cmake, and only inside the sysroot.
set(CMAKE_LIBRARY_ARCHITECTURE ${RT_TARGET_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config must see the sysroot's .pc files only, and prefix the paths they give.
set(ENV{PKG_CONFIG_LIBDIR}
    "${RT_SYSROOT}/usr/lib/${RT_TARGET_TRIPLE}/pkgconfig:${RT_SYSROOT}/usr/lib/pkgconfig:${RT_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${RT_SYSROOT}")

# ctest (and gtest discovery) run target binaries under qemu-user, through the target's
# dynamic loader run as a program: `qemu-arm ld-linux-armhf.so.3 --library-path ... test`.
# The binaries keep the interpreter and search path of the device (/lib/ld-linux-*), and
# qemu needs no -L prefix: with -L, fork() in a multi-threaded guest can hang (qemu 7.2
# guards its prefix lookups with a lock that a forked child may inherit held), and the
# tests that run a scenario in a child fork.
set(_rt_cross_libc /usr/${RT_TARGET_TRIPLE}/lib)
set(CMAKE_CROSSCOMPILING_EMULATOR
    ${RT_QEMU} ${_rt_cross_libc}/${RT_TARGET_LOADER} --library-path
    "${RT_SYSROOT}/usr/lib/${RT_TARGET_TRIPLE}:${RT_SYSROOT}/lib/${RT_TARGET_TRIPLE}:${_rt_cross_libc}")
