#!/bin/sh
# `shoal import` as a user meets it: a slimmable PyTorch network exported at four widths
# (scripts/export-slimmable) imports as one model whose every subnet matches its PyTorch width
# on every CPU backend; a narrower file that is not a slice of the widest is refused naming the
# layer; a graph with an op shoal lacks is refused and nothing is written; --widths adds
# untrained subnets that inspect marks; inspect on an .onnx file says to import it; the
# imported model runs (shoal run) and serves as a worker's model.
# usage: import_cli_test.sh SHOAL SOURCE_DIR WORK_DIR
set -eu
shoal=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

/usr/bin/python3 "$src/scripts/export-slimmable" --demo --check-data -o slim > /dev/null 2>&1 || fail "export-slimmable"
w="1.0 0.75 0.5 0.25"
files= ins= outs=
for x in $w; do
  files="$files slim/w$x.onnx"
  ins="$ins${ins:+,}slim/w$x-in.npy" outs="$outs${outs:+,}slim/w$x-out.npy"
done
# shellcheck disable=SC2086
"$shoal" import $files -o slim.shoal --check-input "$ins" --check-output "$outs" --json > slim.json || fail "import of four widths: $(cat slim.json)"
for x in $w; do
  grep -q "\"subnet\":\"w$x\"" slim.json || fail "no check of subnet w$x: $(cat slim.json)"
done
grep -q '"ok":false' slim.json && fail "a width differs from PyTorch: $(cat slim.json)"
"$shoal" inspect slim.shoal | grep -q "w0.25 .*yes" || fail "inspect does not list w0.25 as trained"
echo "ok: four widths, one weight copy, every subnet matches PyTorch"

# A narrower network that is not the widest's slice (another seed): refused, the layer named.
/usr/bin/python3 - "$src" <<'PY' > /dev/null 2>&1 || fail "export of the mismatched width"
import importlib.machinery, importlib.util, sys, torch
loader = importlib.machinery.SourceFileLoader("es", sys.argv[1] + "/scripts/export-slimmable")
es = importlib.util.module_from_spec(importlib.util.spec_from_loader("es", loader)); loader.exec_module(es)
model = es.demo_model([1.0, 0.5], seed=2)
es.export_widths(model, es.set_width_mult, [0.5], torch.randn(1, 3, 32, 32), "other")
PY
if "$shoal" import slim/w1.0.onnx other/w0.5.onnx -o bad.shoal 2> bad.err; then fail "a mismatched width was imported"; fi
grep -q "not a narrower copy of the widest network: layer '/stem/Conv'" bad.err || fail "the mismatch names no layer: $(cat bad.err)"
[ ! -e bad.shoal ] || fail "a refused import wrote a file"
echo "ok: a width that is not a slice is refused: $(head -c 160 bad.err)"

# An op shoal lacks: every such node named, nothing written, exit status 1.
data=/usr/share/libonnx-testdata/data
if "$shoal" import "$data/pytorch-converted/test_PoissonNLLLLoss_no_reduce/model.onnx" -o refused.shoal 2> refused.err; then
  fail "an unsupported graph was imported"
fi
grep -q "cannot import 2 nodes" refused.err && grep -q "(Exp, opset 6)" refused.err || fail "refusal: $(cat refused.err)"
[ ! -e refused.shoal ] || fail "a refused import wrote a file"
echo "ok: unsupported ops refused, every node named"

# A truncated file and bytes that are not ONNX: an error, no crash, nothing written.
head -c 20000 slim/w1.0.onnx > truncated.onnx
head -c 5000 /dev/urandom > random.onnx
for f in truncated.onnx random.onnx; do
  set +e
  "$shoal" import "$f" -o broken.shoal 2> broken.err
  rc=$?
  set -e
  [ "$rc" = 1 ] || fail "$f: exit status $rc ($(cat broken.err))"
  [ ! -e broken.shoal ] || fail "$f: a file was written"
done
echo "ok: truncated and random files refused: $(head -c 120 broken.err)"

# One width and two untrained ones cut from it.
"$shoal" import slim/w1.0.onnx -o one.shoal --widths 0.5,0.25 --mean 0.5 --std 0.25 > /dev/null || fail "--widths"
"$shoal" inspect one.shoal | grep -q "w0.5 .*no (sliced from other widths)" || fail "inspect does not mark untrained subnets"
"$shoal" inspect one.shoal | grep -q "w1.0 .*yes" || fail "inspect does not mark w1.0 trained"

# .onnx given where a .shoal belongs.
if "$shoal" inspect slim/w1.0.onnx 2> onnx.err; then fail "inspect read an .onnx file"; fi
grep -q "shoal import" onnx.err || fail "no hint to import: $(cat onnx.err)"

# The imported model runs on every CPU backend (Fashion-MNIST resized to 32x32x3, 10 classes).
for b in ref avx2 avx512 xnnpack; do
  if "$shoal" run slim.shoal --backend "$b" --limit 20 --resize --subnet all > run.out 2>&1; then
    grep -q "w0.25" run.out || fail "run on $b: $(cat run.out)"
  else
    grep -q "no backend" run.out || fail "run on $b: $(cat run.out)"
  fi
done
echo "ok: inspect, --widths, run"
