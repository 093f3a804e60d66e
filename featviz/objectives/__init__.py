"""Objectives: what a visualization maximises.

An objective is a declarative value, written before any model exists: it names the layers it
needs (`layers`) and maps the activations of those layers to **one value per batch element**
(`value(features) -> [batch]`). The loop maximises the sum of all values; the loss it reports is
the negated objective (one sign convention, everywhere: loss = -objective).

Objectives compose like numbers, and each operator returns a new objective:

>>> obj = ClassLogit("vertical_stripes") - 0.1 * Channel("conv2", 5) + 1e-3 * TotalVariation()
>>> obj.name
'ClassLogit[vertical_stripes] - 0.1*Channel[conv2:5] + 0.001*TotalVariation'

`objective.at(i)` restricts an objective to batch element `i`, and `stack([...])` gives each
objective of a list its own image, so that one run optimizes many objectives as one batch:

>>> stack([ClassLogit(c) for c in ("checkerboard", "polka_dots")]).batch_size
2

Regularizers (`TotalVariation`, `L2`) return the *negated* penalty, so they are added with a
positive weight. Researchers add objectives either as a small frozen-dataclass subclass
implementing `layers` and `value`, or as a plain function with the `@objective` decorator.

Modules: `base` (the base class, arithmetic, `@objective`), `units` (class, channel, neuron,
direction), `regularizers` (image-space penalties), `matching` (comparisons with a target
image's activations: reconstruction, style, DeepDream), `batch` (terms coupling a batch's
images: diversity, interpolation, alignment) and `factories` (one objective per image
from a list). A new objective goes into the module of its kind; objectives read models but
never the loop.
"""


from featviz.models import LOGITS
from featviz.objectives.base import (Features, FunctionObjective, Objective, Sum, image_names,
                                     objective, stack, weighted_sum)
from featviz.objectives.batch import (Alignment, ChannelInterpolate, Diversity, frame_distances,
                                      gram_similarity)
from featviz.objectives.factories import channel_objectives, class_metrics, class_objectives
from featviz.objectives.matching import (ActivationDot, ActivationMatch, LayerActivation, StyleMatch,
                                         channel_moments, gram_matrix, squared_distance,
                                         target_activations)
from featviz.objectives.regularizers import L2, Opacity, TotalVariation
from featviz.objectives.units import Channel, ClassLogit, ClassProbability, Direction, Neuron

__all__ = [
    "LOGITS", "L2", "ActivationDot", "ActivationMatch", "Alignment", "ChannelInterpolate", "Diversity", "Opacity",
    "frame_distances", "gram_similarity", "Channel", "ClassLogit", "ClassProbability", "Direction",
    "Features", "FunctionObjective", "LayerActivation", "Neuron", "Objective", "StyleMatch", "Sum",
    "TotalVariation", "channel_moments", "channel_objectives", "class_metrics", "class_objectives",
    "gram_matrix", "image_names", "objective", "squared_distance", "stack", "target_activations",
    "weighted_sum",
]
