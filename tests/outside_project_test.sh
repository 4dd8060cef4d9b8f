#!/usr/bin/env bash
# Builds tests/outside/ (a user's project) against shoal three ways and runs it:
#   1. find_package(shoal) on a copy installed with `cmake --install`,
#   2. pkg-config (shoal-core.pc) for a C program, from the same installed copy, with the
#      .pc's flags alone (it names the C++ runtime and libm the static core needs),
#   3. add_subdirectory on the source tree (what FetchContent does).
# usage: outside_project_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src="$1"
build="$2"
model="$src/models/resnet8-slim-s1.shoal"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
jobs="$(nproc)"

echo "== cmake --install"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
ls "$work/prefix/lib/cmake/shoal" "$work/prefix/lib/pkgconfig"

echo "== find_package(shoal)"
cmake -S "$src/tests/outside" -B "$work/installed" -DCMAKE_PREFIX_PATH="$work/prefix" -DMODEL="$model" > /dev/null
cmake --build "$work/installed" -j "$jobs" > /dev/null
"$work/installed/uses_shoal" "$model"
"$work/installed/uses_shoal_net"

echo "== pkg-config shoal-core, from C"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
cmake -DMODEL="$model" -DNAME=resnet8_slim_s1 -DOUT_C="$work/resnet8_slim_s1.c" -DOUT_H="$work/resnet8_slim_s1.h" \
  -P "$work/prefix/lib/cmake/shoal/shoal_embed.cmake"
# shellcheck disable=SC2046
cc -std=c11 -O1 -o "$work/c_api" "$src/tests/c_api_test.c" "$work/resnet8_slim_s1.c" -I"$work" \
  $(pkg-config --cflags --libs shoal-core)
"$work/c_api" | tail -n 1

echo "== add_subdirectory(shoal)"
cmake -S "$src/tests/outside" -B "$work/subdir" -DSHOAL_SOURCE_DIR="$src" -DMODEL="$model" > /dev/null
cmake --build "$work/subdir" -j "$jobs" --target uses_shoal > /dev/null
"$work/subdir/uses_shoal" "$model"
echo "all three ways work"
