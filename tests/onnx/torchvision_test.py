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

# name -> (constructor, input side)
NETWORKS = {
    "resnet18": (lambda: torchvision.models.resnet18(weights=None), 224),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(weights=None), 224),
    "squeezenet1_1": (lambda: torchvision.models.squeezenet1_1(weights=None), 224),
    "alexnet": (lambda: torchvision.models.alexnet(weights=None), 224),
    "vgg16": (lambda: torchvision.models.vgg16(weights=None), 224),
    "inception_v3": (lambda: torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True), 299),
}
MEAN, STD = "0.485,0.456,0.406", "0.229,0.224,0.225"


def check(shoal, work, name):
    make, side = NETWORKS[name]
    torch.manual_seed(1)
    net = make().eval()
    x = torch.randn(2, 3, side, side)
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


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    shoal, work = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or list(NETWORKS)
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(1)
    failed = [n for n in names if not check(shoal, work, n)]
    if failed:
        print("failed:", ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
