# 32-bit Arm with hardware floating point (ARMv7-A, Debian armhf): Raspberry Pi 2/3 on
# a 32-bit OS, BeagleBone, i.MX6.
set(RT_TARGET_TRIPLE arm-linux-gnueabihf)
set(RT_TARGET_PROCESSOR arm)
set(RT_TARGET_DEBARCH armhf)
set(RT_TARGET_LOADER ld-linux-armhf.so.3)
set(RT_QEMU qemu-arm)
# GCC notes (-Wpsabi) that passing some structs by value changed ABI in GCC 7.1, once per
# instantiation: hundreds of lines about a change that concerns no binary built here
# (everything in the sysroot is GCC 12).
set(CMAKE_CXX_FLAGS_INIT -Wno-psabi)
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
