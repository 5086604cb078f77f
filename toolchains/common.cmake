# Shared by the thin per-target files, which set RT_TARGET_TRIPLE, RT_TARGET_PROCESSOR
# and RT_QEMU before including this one. Compilers are Debian's cross gcc
# (g++-<triple>); libraries are Debian multiarch packages (libfoo-dev:<arch>) installed
# by `scripts/deps.sh <target>` into /usr/lib/<triple>.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${RT_TARGET_PROCESSOR})
set(CMAKE_C_COMPILER ${RT_TARGET_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${RT_TARGET_TRIPLE}-g++)

# Multiarch keeps the target's libraries under the host's /usr, so there is no sysroot
# to re-root into: the library architecture picks /usr/lib/<triple> and its cmake/.
set(CMAKE_LIBRARY_ARCHITECTURE ${RT_TARGET_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# pkg-config must see the target's .pc files only, never the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${RT_TARGET_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# ctest (and gtest discovery) run target binaries under qemu-user. The loader and libc
# come from the multiarch libc6:<arch> that the -dev:<arch> packages pull in (at
# /lib/ld-linux-*.so), not from qemu's -L prefix: with -L, fork() in the guest hangs
# (qemu 7.2), and the death tests fork.
set(CMAKE_CROSSCOMPILING_EMULATOR ${RT_QEMU})
