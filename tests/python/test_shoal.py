"""The Python package (python/shoal) against the C++ results on the same images: a shipped
member at every width, and a two-worker cluster under a deadline, with real worker processes.
Run by ctest (tests/CMakeLists.txt) as
  SHOAL_BIN=build/apps/shoal/shoal SHOAL_LIBRARY=build/libshoal.so PYTHONPATH=python:tests/python \\
  /usr/bin/python3 -m unittest -v test_shoal"""

import gzip
import os
import subprocess
import sys
import tempfile
import threading
import unittest

import numpy as np

import reference
import shoal

SHOAL = os.environ["SHOAL_BIN"]
SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = os.path.join(SOURCE, "models")
DATA = "/usr/share/datasets/fashion-mnist"
IMAGES, LABELS = DATA + "/t10k-images-idx3-ubyte.gz", DATA + "/t10k-labels-idx1-ubyte.gz"


def read_idx(path):
    data = gzip.open(path).read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data[4 + 4 * dims:], dtype=np.uint8).reshape(shape)


X, Y = read_idx(IMAGES), read_idx(LABELS)


def model_path(member):
    return os.path.join(MODELS, "resnet8-slim-%s.shoal" % member)


class ModelTest(unittest.TestCase):
    def test_every_width_matches_the_cpp_engine(self):
        n = 100
        cpp = reference.member_probabilities(SHOAL, model_path("s1"), IMAGES, LABELS, n)
        with shoal.Model(model_path("s1")) as m:
            self.assertEqual(m.subnets, ["w0.25", "w0.5", "w0.75", "w1.0"])
            self.assertEqual(m.input_shape, (28, 28, 1))
            for width in m.subnets:
                got = m.run_batch(X[:n], width)
                self.assertEqual(got.shape, (n, 10))
                self.assertLess(np.abs(got - np.array(cpp[width])).max(), reference.TOLERANCE, width)
                self.assertTrue((got.argmax(1) == np.array(cpp[width]).argmax(1)).all())
            # by width as a number, and a prepared float input, give the same
            np.testing.assert_allclose(m.run(X[0], 0.5), m.run(m.prepare(X[0]), "w0.5"), rtol=0, atol=0)
            right = (m.run_batch(X[:n]).argmax(1) == Y[:n]).mean()
            self.assertGreater(right, 0.8)

    def test_bad_input_is_a_clear_error(self):
        with shoal.Model(model_path("s1"), backend="ref") as m:
            with self.assertRaisesRegex(shoal.ShoalError, "w0.25, w0.5"):
                m.run(X[0], "w0.3")
            with self.assertRaisesRegex(shoal.ShoalError, "27x28x1 but the model takes 28x28x1"):
                m.run(X[0][:27])
            self.assertEqual(m.run(X[0][:27], resize=True).shape, (10,))  # nearest neighbour
        with tempfile.NamedTemporaryFile(suffix=".shoal") as f:
            f.write(b"not a model" * 100)
            f.flush()
            with self.assertRaises(shoal.ShoalError) as e:
                shoal.Model(f.name)
            self.assertEqual(e.exception.status, "corrupt")
        with self.assertRaisesRegex(shoal.ShoalError, "no backend 'gpu'"):
            shoal.Model(model_path("s1"), backend="gpu")


# Far above what two idle workers take (about 1 ms): the suite runs other tests beside this one,
# and what is checked here is what comes back, not how fast.
DEADLINE_MS = 200


class ClusterTest(unittest.TestCase):
    def setUp(self):
        self.workers = [reference.start_worker(SHOAL, model_path(m)) for m in ("s1", "s2")]

    def tearDown(self):
        reference.stop([p for p, _ in self.workers])

    def test_a_two_worker_cluster_under_a_deadline(self):
        calibrate, n = 300, 100
        refs = [reference.member_probabilities(SHOAL, model_path(m), IMAGES, LABELS, calibrate + n)
                for m in ("s1", "s2")]
        with shoal.Cluster([a for _, a in self.workers], wait_s=3) as c:
            self.assertEqual((c.input_shape, c.classes), ((28, 28, 1), 10))
            with self.assertRaisesRegex(shoal.ShoalError, "calibrate first"):
                c.infer(X[0], DEADLINE_MS)
            c.calibrate(X[:calibrate], Y[:calibrate])
            workers = c.workers()
            self.assertEqual([w["member"] for w in workers], ["resnet8-slim-s1", "resnet8-slim-s2"])
            self.assertTrue(all(w["up"] and w["planned"] and len(w["subnets"]) == 4 for w in workers))
            # The shipped profile (5000 images) ranks ensembles first: answers fused from both.
            c.load_profile(os.path.join(MODELS, "resnet8-slim.shoalprof"), X[:calibrate])
            answers = [c.infer(X[i], DEADLINE_MS) for i in range(calibrate, calibrate + n)]
            ensembles = 0
            for i, p in zip(range(calibrate, calibrate + n), answers):
                self.assertEqual(p.outcome, "answered", p)
                self.assertLess(p.latency_ms, DEADLINE_MS)
                self.assertLess(reference.fused_error(p.probabilities.tolist(), p.used, refs, i), reference.TOLERANCE)
                self.assertEqual(p.label, int(p.probabilities.argmax()))
                ensembles += len(p.used) > 1
            self.assertGreater(ensembles, n // 2)
            right = sum(p.label == Y[i] for i, p in zip(range(calibrate, calibrate + n), answers))
            self.assertGreater(right, 0.85 * n)

            # Many in flight, by callback, from several threads.
            got, lock, all_in = [], threading.Lock(), threading.Event()

            def done(p):
                with lock:
                    got.append(p)
                    if len(got) == 40:
                        all_in.set()

            tickets = [c.submit(X[i], DEADLINE_MS, done) for i in range(40)]
            self.assertTrue(all_in.wait(10))
            self.assertEqual(sorted(p.ticket for p in got), sorted(tickets))
            self.assertTrue(all(p.outcome == "answered" for p in got))

            counters = c.counters()
            self.assertGreaterEqual(counters["answered"], n + 40)
            self.assertEqual(counters["missed"], 0)
            status = c.status()
            self.assertEqual(len(status["workers"]), 2)
            with self.assertRaisesRegex(ValueError, "784 bytes"):
                c.infer(X[0][:20], DEADLINE_MS)
            with self.assertRaisesRegex(shoal.ShoalError, "above 0"):
                c.infer(X[0], 0)
            with self.assertRaisesRegex(shoal.ShoalError, "unknown policy"):
                c.set_policy("fastest")
            c.set_policy("dynamic")
            self.assertEqual(len(c.infer(X[0], DEADLINE_MS).used), 1)

            # A worker killed: the other answers alone, and the dead one shows as down.
            self.workers[1][0].kill()
            self.workers[1][0].wait()
            c.set_policy("adaensemble")
            late = [c.infer(X[i], DEADLINE_MS) for i in range(20)]
            self.assertTrue(all(p.outcome == "answered" for p in late[5:]), late)
            self.assertTrue(all(w == 0 for p in late[5:] for w, _ in p.used))
            self.assertFalse(c.workers()[1]["up"])

            # Closed with inputs in flight: close returns once each has been answered.
            last = []
            for i in range(10):
                c.submit(X[i], DEADLINE_MS, last.append)
            c.close()
            self.assertEqual(len(last), 10)

    def test_no_worker_up_is_a_clear_error(self):
        with self.assertRaisesRegex(shoal.ShoalError, "127.0.0.1:1"):
            shoal.Cluster(["127.0.0.1:1"])


class InstallTest(unittest.TestCase):
    def test_pip_installs_the_package(self):
        with tempfile.TemporaryDirectory() as target:
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps",
                            "--disable-pip-version-check", "--target", target, os.path.join(SOURCE, "python")],
                           check=True, env=dict(os.environ, PIP_ROOT_USER_ACTION="ignore"))
            env = dict(os.environ, PYTHONPATH=target)
            out = subprocess.run([sys.executable, "-c", "import shoal; print(shoal.__file__, shoal.__version__)"],
                                 env=env, cwd=target, check=True, capture_output=True, text=True).stdout
            self.assertTrue(out.startswith(target), out)
            self.assertTrue(out.strip().endswith(shoal.__version__), out)


if __name__ == "__main__":
    unittest.main()
