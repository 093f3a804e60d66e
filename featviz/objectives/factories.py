"""Factories of objective lists: one objective per image, for optimizing many as one batch.

`class_objectives(classes)`, `class_metrics(classes)` and `channel_objectives(units)` turn a
list from a gin config into objectives already restricted to their image (`Objective.at`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import gin

from featviz.objectives.base import Objective
from featviz.objectives.units import Channel, ClassLogit, ClassProbability


_CLASS_KINDS = {"logit": ClassLogit, "probability": ClassProbability}


@gin.register(module="featviz")
def class_objectives(classes: Sequence[int | str], kind: str = "logit") -> list[Objective]:
    """One class objective per image, for optimizing a list of classes as one batch.

    Element i is `ClassLogit(classes[i]).at(i)` (or `ClassProbability`): image i maximises class
    `classes[i]`. Already restricted to its image, the list serves both as `Visualizer.objective`
    and as logged-only `Visualizer.metrics`. Example (gin):
    `Visualizer.objective = @class_objectives()`, `class_objectives.classes = %CLASSES`.

    Args:
        classes: class indices or names, one per image, each at most once (tags and history
            entries are named after the class).
        kind: "logit" (the pre-softmax logit, featviz's default) or "probability" (the softmax
            output, which the published seed method maximises).

    Returns:
        [len(classes)] objectives, element i targeting batch element i.
    """
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Iterable):
        raise TypeError(f"classes must be a list of class names or indices, got {classes!r}")
    classes = list(classes)
    if not classes:
        raise ValueError("class_objectives needs at least one class")
    repeated = sorted({repr(c) for c in classes if classes.count(c) > 1})
    if repeated:
        raise ValueError(
            f"classes {', '.join(repeated)} appear more than once in {classes!r}; each class may "
            f"appear once, since logs and TensorBoard tags are named after the class"
        )
    if kind not in _CLASS_KINDS:
        raise ValueError(f"kind must be one of {tuple(_CLASS_KINDS)}, got {kind!r}")
    return [_CLASS_KINDS[kind](target).at(i) for i, target in enumerate(classes)]


@gin.register(module="featviz")
def class_metrics(classes: Sequence[int | str],
                  kinds: Sequence[str] = ("logit", "probability")) -> list[Objective]:
    """Logged-only metrics for a batch of classes: each kind of each image's own class.

    With the defaults, TensorBoard shows `metric/ClassLogit[c]` and `metric/ClassProbability[c]`
    curves for every class c, whichever of the two is optimized. Example (gin):
    `Visualizer.metrics = @class_metrics()`, `class_metrics.classes = %CLASSES`.

    Args:
        classes: the same list as the objective's, one class per image.
        kinds: which of "logit" and "probability" to log.

    Returns:
        [len(kinds) * len(classes)] objectives, grouped by kind.
    """
    if isinstance(kinds, str):
        raise TypeError(f"kinds must be a list such as ['logit', 'probability'], got {kinds!r}")
    return [metric for kind in kinds for metric in class_objectives(classes, kind)]


@gin.register(module="featviz")
def channel_objectives(units: Sequence[tuple[str, int]]) -> list[Objective]:
    """One channel objective per image, for optimizing channels of several layers as one batch.

    Element i is `Channel(*units[i]).at(i)`: image i maximises channel `units[i][1]` of layer
    `units[i][0]`. Example (gin): `Visualizer.objective = @channel_objectives()`,
    `channel_objectives.units = [('conv_pw_3_relu', 5), ('conv_pw_11_relu', 40)]`.

    Args:
        units: (layer name, channel index) pairs, one per image, each at most once.

    Returns:
        [len(units)] objectives, element i targeting batch element i.
    """
    if isinstance(units, (str, bytes)) or not isinstance(units, Iterable):
        raise TypeError(f"units must be a list of (layer, channel) pairs, got {units!r}")
    units = [tuple(unit) if isinstance(unit, (list, tuple)) else unit for unit in units]
    bad = [unit for unit in units if not (isinstance(unit, tuple) and len(unit) == 2)]
    if bad or not units:
        raise ValueError(f"units must be a non-empty list of (layer, channel) pairs; got {units!r}")
    repeated = sorted({repr(u) for u in units if units.count(u) > 1})
    if repeated:
        raise ValueError(f"units {', '.join(repeated)} appear more than once; each channel may "
                         f"appear once, since logs and file names are named after it")
    return [Channel(layer, channel).at(i) for i, (layer, channel) in enumerate(units)]
