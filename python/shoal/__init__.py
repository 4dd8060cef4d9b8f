"""shoal from Python: slimmable DNNs at any width on this device (Model), and a master that
serves inputs under deadlines through workers on others (Cluster). ctypes over libshoal's C
APIs (shoal.h, shoal_cluster.h); numpy arrays in and out."""

from ._capi import ShoalError, lib as _lib
from .cluster import Cluster, Prediction
from .model import Model

__version__ = _lib.shoal_version().decode()
__all__ = ["Model", "Cluster", "Prediction", "ShoalError", "__version__"]
