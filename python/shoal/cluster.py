"""A master over workers (`shoal worker` processes, on this device or others): each input goes
to the workers at the widths the policy picks for its deadline, and what comes back in time is
fused."""

import ctypes
import json
import threading

import numpy as np

from . import _capi
from ._capi import call, lib

OUTCOMES = ["answered", "insured", "too short", "shed", "missed", "no worker", "busy"]


class Prediction:
    """What a cluster answered for one input.

    outcome: "answered", "insured", "missed", "too short", "shed", "no worker" or "busy";
    label: the class (-1 unless answered or insured); probability: its fused probability;
    probabilities: every class's (numpy float32, empty unless answered or insured);
    latency_ms: submit to answer; used: (worker index, subnet name) of each unit fused;
    dropped: how many units failed or came late; ticket: the input's number."""

    def __init__(self, p, probabilities):
        self.ticket = p.ticket
        self.outcome = OUTCOMES[p.outcome] if 0 <= p.outcome < len(OUTCOMES) else "unknown"
        self.label = p.label
        self.probability = p.probability
        self.latency_ms = p.latency_ms
        self.used = [(p.used[i].worker, p.used[i].subnet_name.decode())
                     for i in range(min(p.used_count, _capi.MAX_UNITS))]
        self.dropped = p.dropped_count
        self.probabilities = probabilities

    def __repr__(self):
        return "Prediction(%s, label=%d, p=%.3f, %.1f ms, used=%s)" % (self.outcome, self.label, self.probability,
                                                                        self.latency_ms, self.used)


def _images(array, image_bytes, what):
    a = np.ascontiguousarray(array, dtype=np.uint8)
    if a.size % image_bytes != 0 or a.size == 0:
        raise ValueError("%s: %d bytes is not a whole number of %d-byte images" % (what, a.size, image_bytes))
    return a, a.size // image_bytes


class Cluster(_capi.Owner):
    """Connects to workers and serves inputs under deadlines through them. close() (or the end
    of a `with` block) stops the master.

    >>> c = shoal.Cluster(["127.0.0.1:7001", "127.0.0.1:7002"])
    >>> c.calibrate(images, labels)          # uint8 (n, height, width[, channels]), labels (n,)
    >>> c.infer(images[0], deadline_ms=30)
    Prediction(answered, label=9, p=0.981, 12.3 ms, used=[(0, 'w1.0'), (1, 'w0.75')])
    """

    def __init__(self, workers=None, cluster_file=None, key_file=None, transport=None, policy=None,
                 local_model=None, wait_s=0):
        """Connects to every worker it can and returns once one answers (waiting up to `wait_s`
        seconds for the first); the others join in the background when they come up. `workers`:
        "HOST:PORT" strings; or `cluster_file`, a cluster description (JSON). `local_model`: a
        member the master runs itself as insurance."""
        self._handles = (("_cluster", "shoal_cluster_close"),)
        self._cluster = ctypes.c_void_p()
        config = _capi.ClusterConfig()
        keep = []
        if workers is not None:
            if isinstance(workers, str):
                workers = workers.split(",")
            keep = [w.encode() for w in workers]
            array = (ctypes.c_char_p * len(keep))(*keep)
            config.workers = ctypes.cast(array, ctypes.POINTER(ctypes.c_char_p))
            config.worker_count = len(keep)
        enc = lambda s: s.encode() if s is not None else None  # noqa: E731
        config.cluster_file = enc(cluster_file)
        config.key_file = enc(key_file)
        config.transport = enc(transport)
        config.policy = enc(policy)
        config.local_model = enc(local_model)
        config.wait_ms = int(wait_s * 1000)
        call(lib.shoal_cluster_connect, ctypes.byref(config), ctypes.byref(self._cluster))
        self.input_shape = (lib.shoal_cluster_input_height(self._cluster), lib.shoal_cluster_input_width(self._cluster),
                            lib.shoal_cluster_input_channels(self._cluster))
        self.image_bytes = lib.shoal_cluster_image_bytes(self._cluster)
        self.classes = lib.shoal_cluster_classes(self._cluster)
        self._callbacks = {}  # key handed to the C callback -> the caller's done
        self._next_key = 0
        self._lock = threading.Lock()
        self._on_done = _capi.PredictionCallback(self._done)

    def calibrate(self, images, labels, latency_images=20):
        """Times every worker and subnet on the first `latency_images` images and measures the
        accuracy of every member, width and ensemble on all of them with their labels."""
        a, n = _images(images, self.image_bytes, "calibrate")
        y = np.ascontiguousarray(labels, dtype=np.uint8)
        if y.size != n:
            raise ValueError("calibrate: %d images but %d labels" % (n, y.size))
        call(lib.shoal_cluster_calibrate, self._cluster, a.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)),
             y.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), n, min(latency_images, n))

    def load_profile(self, path, images, latency_images=20):
        """The accuracies from a profile file (`shoal profile accuracy`); times every worker and
        subnet on `latency_images` of `images` (no labels needed)."""
        a, n = _images(images, self.image_bytes, "load_profile")
        call(lib.shoal_cluster_load_profile, self._cluster, path.encode(),
             a.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), n, min(latency_images, n))

    def set_policy(self, policy, alpha=0.0, static_target_ms=0.0):
        """"adaensemble" (the default), "dynamic", "static" (give static_target_ms), "cascade"
        (alpha), "fluid-ht", "adaptive"; "fluid-ha", "disnet", "split" with a local_model."""
        params = _capi.PolicyParams(alpha, static_target_ms)
        call(lib.shoal_cluster_set_policy, self._cluster, policy.encode(), ctypes.byref(params))

    def _image(self, image):
        a = np.ascontiguousarray(image, dtype=np.uint8)
        if a.size != self.image_bytes:
            raise ValueError("an image of shape %s (%d bytes); the workers take %s = %d bytes" %
                             (np.shape(image), a.size, self.input_shape, self.image_bytes))
        return a

    def infer(self, image, deadline_ms, priority=0):
        """Runs one image (uint8, the workers' input size) under a deadline and waits: a Prediction."""
        a = self._image(image)
        p = _capi.Prediction()
        probabilities = np.zeros(self.classes, dtype=np.float32)
        call(lib.shoal_cluster_infer, self._cluster, a.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), a.size,
             float(deadline_ms), priority, probabilities.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
             probabilities.size, ctypes.byref(p))
        return Prediction(p, probabilities if p.label >= 0 else np.zeros(0, np.float32))

    def submit(self, image, deadline_ms, done, priority=0):
        """As infer without waiting: done(prediction) is called once, on a shoal thread (copy what
        you need and return; do not call the cluster from it). Returns the input's ticket."""
        a = self._image(image)
        ticket = ctypes.c_uint64()
        with self._lock:  # the callback finds `done` by the key it is handed back
            self._next_key += 1
            key = self._next_key
            self._callbacks[key] = done
        try:
            call(lib.shoal_cluster_submit, self._cluster, a.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), a.size,
                 float(deadline_ms), priority, self._on_done, key, ctypes.byref(ticket))
        except Exception:
            with self._lock:
                self._callbacks.pop(key, None)
            raise
        return ticket.value

    def _done(self, key, p, probabilities, classes):
        probs = np.ctypeslib.as_array(probabilities, (classes,)).copy() if probabilities else np.zeros(0, np.float32)
        with self._lock:
            done = self._callbacks.pop(key, None)
        if done:
            done(Prediction(p.contents, probs))

    def workers(self):
        """Every worker now: a dict each (address, member, up, planned, subnets with predicted ms,
        link round trip, cpu load, temperature, queue, in flight)."""
        out = []
        for w in range(lib.shoal_cluster_worker_count(self._cluster)):
            s = _capi.WorkerState()
            call(lib.shoal_cluster_worker, self._cluster, w, ctypes.byref(s))
            subnets = {}
            for k in range(s.subnets):
                name = ctypes.create_string_buffer(32)
                ms = ctypes.c_double()
                call(lib.shoal_cluster_worker_subnet, self._cluster, w, k, name, 32, ctypes.byref(ms))
                subnets[name.value.decode()] = ms.value
            out.append({"address": s.address.decode(), "member": s.member.decode(), "up": bool(s.up),
                        "planned": bool(s.planned), "for_s": s.for_s, "subnets": subnets,
                        "link_rtt_ms": s.link_rtt_ms, "cpu_load": s.cpu_load, "temperature_c": s.temperature_c,
                        "queue": s.queue, "in_flight": s.in_flight})
        return out

    def counters(self):
        """Inputs submitted, answered, insured, missed, ...; late replies, hedges, disconnects."""
        c = _capi.Counters()
        lib.shoal_cluster_get_counters(self._cluster, ctypes.byref(c))
        return {name: getattr(c, name) for name, _ in _capi.Counters._fields_}

    def status(self):
        """Everything `shoal master --http` serves at /status, as a dict."""
        needed = ctypes.c_size_t()
        call(lib.shoal_cluster_status_json, self._cluster, None, 0, ctypes.byref(needed))
        while True:
            buffer = ctypes.create_string_buffer(needed.value + 4096)
            call(lib.shoal_cluster_status_json, self._cluster, buffer, len(buffer), ctypes.byref(needed))
            if needed.value <= len(buffer):
                return json.loads(buffer.value.decode())
