"""sgexplore: build intuition for surrogate gradients in spiking neural networks.

Layers, lowest first (nothing imports a layer above it):
``params`` -> ``surrogates`` -> ``spike`` -> ``snn`` -> ``tasks``/``train`` -> ``widgets``.
"""

from . import surrogates
from .spike import reset_subtract, reset_to_value, spike
from .surrogates import Surrogate, create, register, registry

__version__ = "0.1.0"
__all__ = ["surrogates", "spike", "reset_subtract", "reset_to_value",
           "Surrogate", "create", "register", "registry"]
