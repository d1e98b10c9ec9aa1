"""sgexplore: build intuition for surrogate gradients in spiking neural networks.

Layers, lowest first (nothing imports a layer above it; ``SweepResult.heatmap`` and
``to_html`` import the widgets lazily, when called):
``params`` -> ``surrogates`` -> ``spike`` (+ ``fused``) -> ``contract``/``views``/``interop`` -> ``snn`` ->
``tasks``/``train`` -> ``sweep`` -> ``widgets``.
``views`` holds the data of every picture; ``widgets`` draws them (plotly, ipywidgets).
"""

from . import interop, surrogates
from .contract import check_surrogate
from .spike import reset_subtract, reset_to_value, spike
from .surrogates import Surrogate, create, describe, register, registry

__version__ = "0.1.0"
__all__ = ["surrogates", "interop", "spike", "reset_subtract", "reset_to_value", "check_surrogate",
           "Surrogate", "create", "describe", "register", "registry"]
