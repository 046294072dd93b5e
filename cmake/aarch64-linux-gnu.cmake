# Cross-compiles Tessera for 64-bit Arm Linux with Debian's cross toolchain
# (crossbuild-essential-arm64) against Debian's arm64 multiarch packages,
# which install next to the host's (headers in /usr/include, libraries and
# CMake package files in /usr/lib/aarch64-linux-gnu). .ci/install-arm64-deps
# installs all of it; flatc is the host's, as the schema is data.
#
#   cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# Tests and build-time generators run under qemu-user (qemu-user-static),
# CMake's cross-compiling emulator. qemu reads the CPU to emulate from
# QEMU_CPU at run time, e.g. QEMU_CPU=cortex-a72 (NEON only) or
# QEMU_CPU=max,sve256=on (SVE2 with 256-bit vectors); see .ci/arm64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Multiarch: find_package and find_library look in lib/aarch64-linux-gnu.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")

find_program(TESSERA_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(TESSERA_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${TESSERA_QEMU_AARCH64}")
endif()
