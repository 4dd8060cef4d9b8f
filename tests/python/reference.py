"""What the Python and C tests of libshoal check against: the C++ engine's own results (`shoal
run --predictions --all-probabilities`) on the same images, and real worker processes.

As a command, checks a prediction CSV written by c_cluster_test.c:
  reference.py SHOAL_BIN IMAGES LABELS MODEL1,MODEL2 PREDICTIONS.csv
(every answered input's probabilities are the mean of its units' C++ probabilities)."""

import csv
import os
import subprocess
import sys
import tempfile

TOLERANCE = 1e-5  # the workers and `shoal run` use the same kernels; allow for the CSV's rounding


def start_worker(shoal, model, *extra):
    """A `shoal worker` on a free loopback port: (process, "127.0.0.1:PORT")."""
    p = subprocess.Popen([shoal, "worker", "--model", model, "--listen", "127.0.0.1:0", *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("listening on "):
        p.kill()
        raise RuntimeError("%s worker did not start: %r" % (model, line))
    return p, line[len("listening on "):]


def stop(processes):
    for p in processes:
        p.terminate()
    for p in processes:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if p.stdout:
            p.stdout.close()


def member_probabilities(shoal, model, images, labels, limit):
    """{subnet name: [per image: [probability per class]]} from `shoal run` on the first
    `limit` images, every subnet."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "p.csv")
        subprocess.run([shoal, "run", model, "--subnet", "all", "--images", images, "--labels", labels, "--limit",
                        str(limit), "--predictions", out, "--all-probabilities", "--warmup", "0"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        table = {}
        with open(out) as f:
            rows = csv.reader(f)
            header = next(rows)
            first_p = header.index("p0")
            for row in rows:
                table.setdefault(row[0], {})[int(row[1])] = [float(v) for v in row[first_p:]]
    return {s: [by_image[i] for i in range(limit)] for s, by_image in table.items()}


def fused_error(probabilities, used, references, image):
    """The largest difference between an answer's probabilities and the mean of its units'
    C++ probabilities (used: [(worker, subnet name)]; references: per worker, as
    member_probabilities gives)."""
    classes = len(probabilities)
    mean = [sum(references[w][s][image][c] for w, s in used) / len(used) for c in range(classes)]
    return max(abs(a - b) for a, b in zip(probabilities, mean))


def main(argv):
    shoal, images, labels, models, predictions = argv
    rows = list(csv.reader(open(predictions)))
    limit = max(int(r[0]) for r in rows) + 1
    references = [member_probabilities(shoal, m, images, labels, limit) for m in models.split(",")]
    answered = worst = 0
    ensembles = 0  # answers fused from more than one unit
    for r in rows:
        if r[1] != "answered":
            continue
        used = [(int(u.split(":")[0]), u.split(":")[1]) for u in r[4].split(";")]
        probabilities = [float(v) for v in r[5:]]
        error = fused_error(probabilities, used, references, int(r[0]))
        label = max(range(len(probabilities)), key=probabilities.__getitem__)
        if error > TOLERANCE or label != int(r[2]):
            print("image %s: fused %s from %s differs from the C++ engine's by %g (label %s, argmax %d)" %
                  (r[0], r[5:], used, error, r[2], label))
            return 1
        answered += 1
        ensembles += len(used) > 1
        worst = max(worst, error)
    print("%d of %d answered inputs (%d of them ensembles) are the mean of their units' C++ results (largest "
          "difference %.2g)" % (answered, len(rows), ensembles, worst))
    return 0 if answered > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
