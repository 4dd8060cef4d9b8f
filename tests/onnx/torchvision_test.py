#!/usr/bin/python3
"""torchvision networks through `shoal import`, checked against PyTorch on every CPU backend.

Each network (random weights, seeded: nothing is downloaded) is exported with torch.onnx.export,
imported, and run by shoal on the inputs PyTorch ran (`shoal import --check-input/--check-output`):
its logits must be within 1e-4 of PyTorch's, relative to their range, on every backend. Prints one
line per network and backend (largest difference, import time); exits 1 on any failure.

usage: torchvision_test.py SHOAL WORKDIR [NET ...]
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torchvision

# name -> (constructor, input side, batch): the two largest run one input (the reference
# kernels take seconds per VGG16 image), the others two (split into single inputs by shoal).
NETWORKS = {
    "resnet18": (lambda: torchvision.models.resnet18(weights=None), 224, 2),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(weights=None), 224, 2),
    "squeezenet1_1": (lambda: torchvision.models.squeezenet1_1(weights=None), 224, 2),
    "alexnet": (lambda: torchvision.models.alexnet(weights=None), 224, 2),
    "vgg16": (lambda: torchvision.models.vgg16(weights=None), 224, 1),
    "inception_v3": (lambda: torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True), 299, 1),
}
FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
MEAN, STD = "0.485,0.456,0.406", "0.229,0.224,0.225"


def check(shoal, work, name):
    make, side, batch = NETWORKS[name]
    torch.manual_seed(1)
    net = make().eval()
    x = torch.randn(batch, 3, side, side)
    with torch.no_grad():
        y = net(x)
    onnx_file = os.path.join(work, name + ".onnx")
    torch.onnx.export(net, x, onnx_file, opset_version=13)
    np.save(os.path.join(work, name + "-in.npy"), x.numpy())
    np.save(os.path.join(work, name + "-out.npy"), y.numpy())
    start = time.monotonic()
    run = subprocess.run([shoal, "import", onnx_file, "-o", os.path.join(work, name + ".shoal"), "--mean", MEAN,
                          "--std", STD, "--check-input", os.path.join(work, name + "-in.npy"), "--check-output",
                          os.path.join(work, name + "-out.npy"), "--json"], capture_output=True, text=True)
    wall = time.monotonic() - start
    os.remove(onnx_file)
    if run.returncode != 0 and not run.stdout.strip():
        print(f"FAIL {name}: {run.stderr.strip()}")
        return False
    report = json.loads(run.stdout)
    ok = run.returncode == 0 and report["checks"] and all(c["ok"] for c in report["checks"])
    for c in report["checks"]:
        print(f"{'ok  ' if c['ok'] else 'FAIL'} {name:14s} {c['backend']:8s} largest difference {c['max_abs']:.3g} "
              f"({c['relative']:.3g} of the logits' range); import {report['seconds']:.2f} s "
              f"({wall:.1f} s with the check), {report['bytes'] / 1048576:.1f} MiB")
    return ok


def run_and_bench(shoal, work, name):
    """The imported file as a user runs it: `shoal run` on every CPU backend, and `shoal bench`."""
    model = os.path.join(work, name + ".shoal")
    ok = True
    for backend in ["ref", "avx2", "avx512", "neon", "xnnpack"]:
        run = subprocess.run([shoal, "run", model, "--backend", backend, "--images", FASHION, "--limit", "2",
                              "--resize", "--warmup", "0", "--json"], capture_output=True, text=True)
        if "no backend" in run.stderr:
            continue  # not on this CPU or not in this build
        good = run.returncode == 0 and json.loads(run.stdout)
        ok = ok and bool(good)
        print(f"{'ok  ' if good else 'FAIL'} shoal run {name}.shoal --backend {backend}" + ("" if good else ": " + run.stderr))
    bench = subprocess.run([shoal, "bench", model, "--threads", "1", "--repeat", "1", "--min-ms", "1", "--models-only",
                            "--quiet", "--json"], capture_output=True, text=True)
    good = bench.returncode == 0 and any(b.get("kind") == "model" for b in json.loads(bench.stdout)["benchmarks"])
    print(f"{'ok  ' if good else 'FAIL'} shoal bench {name}.shoal" + ("" if good else ": " + bench.stderr))
    return ok and good


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    shoal, work = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or list(NETWORKS)
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(1)
    failed = [n for n in names if not check(shoal, work, n)]
    if "resnet18" in names and "resnet18" not in failed and not run_and_bench(shoal, work, "resnet18"):
        failed.append("resnet18 (run, bench)")
    if failed:
        print("failed:", ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
