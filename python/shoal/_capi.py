"""The C APIs of libshoal (shoal.h, shoal_cluster.h) as ctypes declarations, and where the
library is found. Internal: use shoal.Model and shoal.Cluster."""

import ctypes
import ctypes.util
import os

# shoal_status, as in shoal.h
OK = 0
_STATUS_NAMES = ["ok", "invalid argument", "not found", "corrupt", "unsupported", "io", "timeout", "busy",
                 "out of memory"]


class ShoalError(Exception):
    """A call into shoal failed. `code` is shoal.h's shoal_status, `status` its name."""

    def __init__(self, code, message):
        self.code = code
        self.status = _STATUS_NAMES[code] if 0 <= code < len(_STATUS_NAMES) else "unknown"
        super().__init__(message)


class Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("message", ctypes.c_char * 256)]


class ClusterConfig(ctypes.Structure):
    _fields_ = [("workers", ctypes.POINTER(ctypes.c_char_p)), ("worker_count", ctypes.c_size_t),
                ("cluster_file", ctypes.c_char_p), ("key_file", ctypes.c_char_p), ("transport", ctypes.c_char_p),
                ("policy", ctypes.c_char_p), ("local_model", ctypes.c_char_p), ("wait_ms", ctypes.c_uint)]


class PolicyParams(ctypes.Structure):
    _fields_ = [("alpha", ctypes.c_double), ("static_target_ms", ctypes.c_double)]


MAX_UNITS = 8


class Unit(ctypes.Structure):
    _fields_ = [("worker", ctypes.c_uint32), ("subnet", ctypes.c_uint32), ("subnet_name", ctypes.c_char * 16)]


class Prediction(ctypes.Structure):
    _fields_ = [("ticket", ctypes.c_uint64), ("outcome", ctypes.c_int), ("label", ctypes.c_int32),
                ("probability", ctypes.c_float), ("latency_ms", ctypes.c_double), ("used_count", ctypes.c_uint32),
                ("used", Unit * MAX_UNITS), ("dropped_count", ctypes.c_uint32)]


class WorkerState(ctypes.Structure):
    _fields_ = [("address", ctypes.c_char * 64), ("member", ctypes.c_char * 64), ("subnets", ctypes.c_uint32),
                ("up", ctypes.c_int), ("planned", ctypes.c_int), ("for_s", ctypes.c_double),
                ("link_rtt_ms", ctypes.c_double), ("cpu_load", ctypes.c_double), ("temperature_c", ctypes.c_double),
                ("queue", ctypes.c_uint32), ("in_flight", ctypes.c_uint32)]


class Counters(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in
                ("submitted", "answered", "insured", "missed", "shed", "too_short", "no_worker", "late_replies",
                 "hedges", "disconnects", "reconnects", "joins")]


PredictionCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(Prediction),
                                      ctypes.POINTER(ctypes.c_float), ctypes.c_size_t)


def _candidates():
    env = os.environ.get("SHOAL_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "libshoal.so")  # installed beside the package
    found = ctypes.util.find_library("shoal")  # installed with cmake --install, ldconfig'd
    if found:
        yield found
    # Run from a checkout: the build's own (scripts/setup builds it into build/).
    yield os.path.join(here, "..", "..", "build", "libshoal.so")


def _load():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("shoal: cannot load libshoal.so; build it (scripts/setup, or cmake -DSHOAL_SHARED=ON) and set "
                      "SHOAL_LIBRARY to its path. Tried: " + "; ".join(tried))


lib = _load()

_p = ctypes.c_void_p
_u32 = ctypes.c_uint32
_size = ctypes.c_size_t
_err = ctypes.POINTER(Error)
_floats = ctypes.POINTER(ctypes.c_float)
_bytes = ctypes.POINTER(ctypes.c_uint8)

_DECLARATIONS = {
    "shoal_version": (ctypes.c_char_p, []),
    "shoal_model_load": (ctypes.c_int, [ctypes.c_void_p, _size, ctypes.c_int, ctypes.POINTER(_p), _err]),
    "shoal_model_free": (None, [_p]),
    "shoal_model_subnet_count": (_u32, [_p]),
    "shoal_model_subnet_name": (ctypes.c_char_p, [_p, _u32]),
    "shoal_model_find_subnet": (ctypes.c_int, [_p, ctypes.c_char_p, ctypes.POINTER(_u32), _err]),
    "shoal_model_input_floats": (_size, [_p, _u32]),
    "shoal_model_output_floats": (_size, [_p, _u32]),
    "shoal_model_input_shape": (None, [_p, ctypes.POINTER(_u32), ctypes.POINTER(_u32), ctypes.POINTER(_u32)]),
    "shoal_model_pack_image": (ctypes.c_int, [_p, _bytes, _u32, _u32, _u32, ctypes.c_int, _floats, _size, _err]),
    "shoal_engine_create": (ctypes.c_int, [_p, ctypes.c_char_p, ctypes.c_uint, _p, _size, ctypes.POINTER(_p), _err]),
    "shoal_engine_run": (ctypes.c_int, [_p, _u32, _floats, _size, _floats, _size, _err]),
    "shoal_engine_destroy": (None, [_p]),
    "shoal_cluster_connect": (ctypes.c_int, [ctypes.POINTER(ClusterConfig), ctypes.POINTER(_p), _err]),
    "shoal_cluster_close": (None, [_p]),
    "shoal_cluster_input_height": (_u32, [_p]),
    "shoal_cluster_input_width": (_u32, [_p]),
    "shoal_cluster_input_channels": (_u32, [_p]),
    "shoal_cluster_image_bytes": (_size, [_p]),
    "shoal_cluster_classes": (_u32, [_p]),
    "shoal_cluster_calibrate": (ctypes.c_int, [_p, _bytes, _bytes, _u32, _u32, _err]),
    "shoal_cluster_load_profile": (ctypes.c_int, [_p, ctypes.c_char_p, _bytes, _u32, _u32, _err]),
    "shoal_cluster_set_policy": (ctypes.c_int, [_p, ctypes.c_char_p, ctypes.POINTER(PolicyParams), _err]),
    "shoal_cluster_infer": (ctypes.c_int, [_p, _bytes, _size, ctypes.c_double, ctypes.c_int, _floats, _size,
                                           ctypes.POINTER(Prediction), _err]),
    "shoal_cluster_submit": (ctypes.c_int, [_p, _bytes, _size, ctypes.c_double, ctypes.c_int, PredictionCallback, _p,
                                            ctypes.POINTER(ctypes.c_uint64), _err]),
    "shoal_cluster_worker_count": (_size, [_p]),
    "shoal_cluster_worker": (ctypes.c_int, [_p, _u32, ctypes.POINTER(WorkerState), _err]),
    "shoal_cluster_worker_subnet": (ctypes.c_int, [_p, _u32, _u32, ctypes.c_char_p, _size,
                                                   ctypes.POINTER(ctypes.c_double), _err]),
    "shoal_cluster_get_counters": (None, [_p, ctypes.POINTER(Counters)]),
    "shoal_cluster_status_json": (ctypes.c_int, [_p, ctypes.c_char_p, _size, ctypes.POINTER(_size), _err]),
}
for _name, (_restype, _argtypes) in _DECLARATIONS.items():
    _f = getattr(lib, _name)
    _f.restype = _restype
    _f.argtypes = _argtypes


class Owner:
    """Holds C handles: (attribute, free function) pairs in `_handles`, freed in that order by
    close(), when the object is collected, or at the end of a `with` block."""

    _handles = ()

    def close(self):
        for attribute, free in self._handles:
            handle = getattr(self, attribute, None)
            if handle:
                getattr(lib, free)(handle)
                setattr(self, attribute, None)

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def call(function, *args):
    """Calls a C API function whose last argument is a shoal_error*, raising ShoalError on failure."""
    err = Error()
    status = function(*args, ctypes.byref(err))
    if status != OK:
        raise ShoalError(status, err.message.decode("utf-8", "replace"))
