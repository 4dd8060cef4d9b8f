# Cross build for 64-bit ARM Linux (Raspberry Pi 4/5, Jetson) with Debian's cross compiler:
#   apt-get install g++-aarch64-linux-gnu qemu-user
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install zlib1g-dev:arm64 libflatbuffers-dev:arm64 libgtest-dev:arm64
#   cmake --preset aarch64-static && cmake --build --preset aarch64-static
# The preset sets SHOAL_STATIC: binaries are fully static (copy `shoal` to the board and
# run it). Tests run here under
# qemu-aarch64, on the CPU named by QEMU_CPU (cortex-a57, cortex-a76, ...).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Libraries from Debian's arm64 multiarch packages (/usr/lib/aarch64-linux-gnu); headers
# from /usr/include; host programs (flatc) from the host.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
find_program(SHOAL_QEMU_AARCH64 qemu-aarch64)
if(SHOAL_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SHOAL_QEMU_AARCH64})
endif()
