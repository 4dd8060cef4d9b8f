"""One device: a shoal model file run at any of its widths."""

import ctypes

import numpy as np

from . import _capi
from ._capi import call, lib


class Model(_capi.Owner):
    """A .shoal model (a slimmable network: one weight copy, several widths) with an engine.
    close() (or the end of a `with` block) frees them.

    >>> m = shoal.Model("models/resnet8-slim-s1.shoal")
    >>> m.subnets
    ['w0.25', 'w0.5', 'w0.75', 'w1.0']
    >>> probabilities = m.run(image, "0.5")   # image: uint8 (height, width[, channels])
    """

    def __init__(self, path, backend=None, threads=1):
        """Loads and checks the model file, and creates its engine. `backend`: None for the fastest
        this CPU runs, or "ref", "avx2", "avx512", "neon", "xnnpack" as the build has."""
        with open(path, "rb") as f:
            data = f.read()
        self._handles = (("_engine", "shoal_engine_destroy"), ("_model", "shoal_model_free"))
        self._model = ctypes.c_void_p()
        self._engine = ctypes.c_void_p()
        call(lib.shoal_model_load, data, len(data), 1, ctypes.byref(self._model))
        call(lib.shoal_engine_create, self._model, backend.encode() if backend else None, threads, None, 0,
             ctypes.byref(self._engine))  # on failure, the model is freed with the object
        self.path = path
        self.subnets = [lib.shoal_model_subnet_name(self._model, s).decode()
                        for s in range(lib.shoal_model_subnet_count(self._model))]
        h, w, c = ctypes.c_uint32(), ctypes.c_uint32(), ctypes.c_uint32()
        lib.shoal_model_input_shape(self._model, ctypes.byref(h), ctypes.byref(w), ctypes.byref(c))
        self.input_shape = (h.value, w.value, c.value)
        self.classes = lib.shoal_model_output_floats(self._model, 0)

    def subnet(self, width):
        """The index of a subnet by name ("w0.5"), width ("0.5" or 0.5) or index."""
        if isinstance(width, int):
            if not 0 <= width < len(self.subnets):
                raise _capi.ShoalError(1, "subnet %d: the model has %d (%s)" % (width, len(self.subnets),
                                                                             ", ".join(self.subnets)))
            return width
        index = ctypes.c_uint32()
        call(lib.shoal_model_find_subnet, self._model, str(width).encode(), ctypes.byref(index))
        return index.value

    def prepare(self, image, resize=False):
        """An image (uint8, (height, width) or (height, width, channels)) as the model's input:
        float32 (height, width, channels), normalised as the model says. Another size is an
        error unless `resize` (nearest neighbour)."""
        pixels = np.ascontiguousarray(image, dtype=np.uint8)
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        if pixels.ndim != 3:
            raise ValueError("an image is (height, width) or (height, width, channels), not shape %s" % (image.shape,))
        out = np.empty(self.input_shape, dtype=np.float32)
        call(lib.shoal_model_pack_image, self._model, pixels.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)),
             pixels.shape[0], pixels.shape[1], pixels.shape[2], int(resize),
             out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), out.size)
        return out

    def run(self, image, width=-1, resize=False):
        """Class probabilities (float32, classes) for one input at a width (default: the widest).
        `image`: uint8 pixels (prepared here, see prepare) or float32 already prepared."""
        s = self.subnet(len(self.subnets) - 1 if width == -1 else width)
        x = self.prepare(image, resize) if np.asarray(image).dtype == np.uint8 else np.ascontiguousarray(image, np.float32)
        out = np.empty(lib.shoal_model_output_floats(self._model, s), dtype=np.float32)
        call(lib.shoal_engine_run, self._engine, s, x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), x.size,
             out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), out.size)
        return out

    def run_batch(self, images, width=-1, resize=False):
        """run() over the first axis of `images`: (n, classes) probabilities, one input at a time
        as a device runs them."""
        if len(images) == 0:
            return np.empty((0, self.classes), np.float32)
        return np.stack([self.run(image, width, resize) for image in images])
