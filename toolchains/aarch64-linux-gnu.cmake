# 64-bit Arm (Cortex-A53/A72/A76...): Raspberry Pi 3/4/5 on a 64-bit OS, Jetson, i.MX8.
set(RT_TARGET_TRIPLE aarch64-linux-gnu)
set(RT_TARGET_PROCESSOR aarch64)
set(RT_TARGET_DEBARCH arm64)
set(RT_TARGET_LOADER ld-linux-aarch64.so.1)
set(RT_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
