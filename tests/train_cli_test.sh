#!/bin/sh
# shoal-train as a user runs it: help, a bad recipe, a smoke-sized run that `shoal inspect`
# reads, and a second start that resumes from the checkpoint and writes the same bytes.
set -eu
train=$1
shoal=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$train" --help | grep -q "usage: shoal-train RECIPE"
if "$train" frobnicate --out "$dir" > "$dir/err" 2>&1; then exit 1; fi
grep -q "unknown recipe 'frobnicate'" "$dir/err"
if "$train" slimmable --epochs zero > "$dir/err" 2>&1; then exit 1; fi
grep -q -- "--epochs takes a number" "$dir/err"
if "$train" slimmable --augment flip+twirl > "$dir/err" 2>&1; then exit 1; fi
grep -q "unknown augmentation 'twirl'; known: flip" "$dir/err"
if "$train" slimmable --diversity twins > "$dir/err" 2>&1; then exit 1; fi
grep -q "slimmable --diversity is seed, augment or imbalance" "$dir/err"
"$train" slimmable --arch fluid-cnn --epochs 1 --train-limit 256 --diversity imbalance --seed 2 --out "$dir" --quiet > "$dir/out"
"$shoal" inspect "$dir/fluid-cnn-slim-s2.shoal" | grep -q "all of class 4, 70% of the rest"
"$train" slimmable --arch fluid-cnn --epochs 1 --train-limit 256 --augment flip+shift2 --diversity augment --seed 3 \
  --out "$dir" --quiet > "$dir/out"
"$shoal" inspect "$dir/fluid-cnn-slim-s3.shoal" | grep -q "augment flip+shift2+erase"
"$train" fluid --epochs 1 --train-limit 256 --out "$dir" --quiet > "$dir/out"
grep -q "wrote $dir/fluid-cnn-fluid-s1.shoal" "$dir/out"
"$shoal" inspect "$dir/fluid-cnn-fluid-s1.shoal" | grep -q "recipe     fluid (nested incremental training"
cp "$dir/fluid-cnn-fluid-s1.shoal" "$dir/first.shoal"
"$train" fluid --epochs 1 --train-limit 256 --out "$dir" 2>&1 | grep -q "resuming after epoch 1 of 1"
cmp "$dir/first.shoal" "$dir/fluid-cnn-fluid-s1.shoal"
echo "shoal-train CLI: ok"
