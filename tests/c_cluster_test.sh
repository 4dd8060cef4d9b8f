#!/usr/bin/env bash
# The cluster C API as a C user meets it: libshoal installed with `cmake --install`, a C
# program (c_cluster_test.c) compiled with gcc and `pkg-config shoal-c` alone, two real
# workers, and its predictions checked against the C++ engine's results on the same images
# (tests/python/reference.py). Also: libshoal exports nothing but the C APIs.
# usage: c_cluster_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src="$1"
build="$2"
shoal="$build/apps/shoal/shoal"
data=/usr/share/datasets/fashion-mnist
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$work/prefix" > /dev/null
lib="$work/prefix/lib/libshoal.so"
# Exactly the functions the two installed headers declare.
declared="$(cat "$work/prefix/include/shoal.h" "$work/prefix/include/shoal_cluster.h" |
            grep -oE '\bshoal_[a-z0-9_]+\(' | tr -d '(' | sort -u)"
exported="$(nm -D --defined-only "$lib" | awk '{print $3}' | sort -u)"
if [ "$declared" != "$exported" ]; then
  echo "libshoal.so exports other functions than shoal.h and shoal_cluster.h declare:"
  diff <(echo "$declared") <(echo "$exported") || true
  exit 1
fi
echo "libshoal.so: $(stat -L -c %s "$lib") bytes, exports the $(echo "$exported" | wc -l) functions of shoal.h and shoal_cluster.h"

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
gcc -std=c11 -O1 -Wall -Wextra -o "$work/c_cluster" "$src/tests/c_cluster_test.c" $(pkg-config --cflags --libs shoal-c)

gunzip -c "$data/t10k-images-idx3-ubyte.gz" > "$work/images.idx"
gunzip -c "$data/t10k-labels-idx1-ubyte.gz" > "$work/labels.idx"
addresses=()
for m in s1 s2; do
  mkfifo "$work/$m.out"
  "$shoal" worker --model "$src/models/resnet8-slim-$m.shoal" --listen 127.0.0.1:0 > "$work/$m.out" 2> /dev/null &
  pids+=($!)
  exec {fd}< "$work/$m.out"
  read -r -t 10 line <&"$fd"
  addresses+=("${line#listening on }")
done
echo "workers on ${addresses[*]}"
# 300 images calibrate, 200 run under 200 ms: far above what two idle workers take (about
# 1 ms), so that every input is answered, and checked, even beside other tests.
LD_LIBRARY_PATH="$work/prefix/lib" "$work/c_cluster" "${addresses[@]}" "$work/images.idx" "$work/labels.idx" \
  300 200 200 "$src/models/resnet8-slim.shoalprof" > "$work/predictions.csv"
/usr/bin/python3 "$src/tests/python/reference.py" "$shoal" "$work/images.idx" "$work/labels.idx" \
  "$src/models/resnet8-slim-s1.shoal,$src/models/resnet8-slim-s2.shoal" "$work/predictions.csv"
