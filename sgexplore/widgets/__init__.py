"""Live explorers built on ipywidgets 8 and plotly FigureWidget.

    from sgexplore.widgets import SurrogateExplorer, TrainingExplorer
    SurrogateExplorer(surrogate="MultiGaussian")
    TrainingExplorer(surrogate="FastSigmoid", steps=100)

Importing this package needs ipywidgets and plotly; ``import sgexplore`` does not.
"""

from .surrogate_explorer import SurrogateExplorer
from .training_explorer import TrainingExplorer

__all__ = ["SurrogateExplorer", "TrainingExplorer"]
