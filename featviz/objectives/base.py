"""The objective base class, its arithmetic, and objectives defined by plain functions.

`Objective` (declared before any model exists, one value per image), `Sum` (what `+`, `-`, `*`
build), `stack` and `weighted_sum` (lists and gin's missing arithmetic), `FunctionObjective` and
the `@objective` decorator, and `Features`, what an objective sees inside the compiled step.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import gin
import tensorflow as tf

from featviz.models import LOGITS, VisModel


@dataclasses.dataclass(frozen=True)
class Features:
    """What an objective sees inside the compiled step.

    Attributes:
        activations: layer key -> activation tensor, [batch, ...] (the keys the objectives asked
            for, plus `LOGITS` when requested).
        images: the parameterized images before transforms, [batch, height, width, channels] in
            [0, 1]; image-space regularizers act on these.
        model: the model being visualized, for resolving class names and layer shapes while the
            step is traced.
    """

    activations: Mapping[str, tf.Tensor]
    images: tf.Tensor
    model: VisModel

    def __getitem__(self, layer: str) -> tf.Tensor:
        return self.activations[layer]


class Objective:
    """Base class of everything that can be maximised.

    Subclasses implement `layers` (the layer keys whose activations they need) and `value`
    (features -> [batch] float32). Leaf objectives are frozen dataclasses with a `batch` field:
    `None` applies the objective to every image, an index to that image only.
    """

    batch: int | None = None

    @property
    def layers(self) -> tuple[str, ...]:
        """Layer keys (layer names, or `LOGITS`) whose activations `value` reads."""
        return ()

    @property
    def name(self) -> str:
        """A short readable description, used as the TensorBoard tag and the file name."""
        return type(self).__name__

    def value(self, features: Features) -> tf.Tensor:
        """The objective for each image: [batch] float32, before restriction to `batch`."""
        raise NotImplementedError(f"{type(self).__name__} must implement value(features)")

    def check(self, model: VisModel) -> None:
        """Raises a clear error if this objective cannot apply to `model` (before any tracing).

        The default checks that every layer exists; subclasses add their own checks
        (channel ranges, class names).
        """
        for layer in self.layers:
            if layer != LOGITS:
                model.layer(layer)

    def __call__(self, features: Features) -> tf.Tensor:
        """The objective per image, [batch], zero outside `self.batch` when it is set."""
        values = tf.cast(self.value(features), tf.float32)
        if self.batch is None:
            return values
        return values * tf.one_hot(self.batch, tf.shape(values)[0], dtype=values.dtype)

    def at(self, index: int) -> Objective:
        """A copy of this objective that applies only to batch element `index`."""
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ValueError(f"batch index must be a non-negative int, got {index!r}")
        return dataclasses.replace(self, batch=index)

    @property
    def batch_size(self) -> int:
        """The smallest batch this objective can run on (1 + its largest batch index)."""
        return 1 if self.batch is None else self.batch + 1

    def terms(self) -> tuple[tuple[float, Objective], ...]:
        """This objective as a weighted sum of leaf objectives: ((weight, leaf), ...)."""
        return ((1.0, self),)

    # Arithmetic. Every operator returns a new flat `Sum`; operands are never modified.
    def __add__(self, other: Objective | float) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return Sum(self.terms() + other.terms())

    def __radd__(self, other: Objective | float) -> Objective:
        # `sum()` starts from 0: let it through so that sum(objectives) works.
        if isinstance(other, (int, float)) and other == 0:
            return self
        return NotImplemented

    def __neg__(self) -> Objective:
        return self * -1.0

    def __sub__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return self + (-other)

    def __mul__(self, factor: float) -> Objective:
        if isinstance(factor, Objective) or not isinstance(factor, (int, float)):
            return NotImplemented
        return Sum(tuple((weight * float(factor), leaf) for weight, leaf in self.terms()))

    __rmul__ = __mul__

    def __truediv__(self, divisor: float) -> Objective:
        if not isinstance(divisor, (int, float)) or isinstance(divisor, bool):
            return NotImplemented
        if divisor == 0:
            raise ZeroDivisionError("an objective cannot be divided by zero")
        return self * (1.0 / divisor)


class LayerObjective(Objective):
    """An objective that reads one layer, named by its `layer` field (units, matches, penalties)."""

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)


@dataclasses.dataclass(frozen=True, eq=False)
class Sum(Objective):
    """A weighted sum of leaf objectives; what `+`, `-` and `*` build.

    Attributes:
        parts: ((weight, leaf objective), ...), already flat.
    """

    parts: tuple[tuple[float, Objective], ...]

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(layer for _, leaf in self.parts for layer in leaf.layers))

    @property
    def name(self) -> str:
        text = ""
        for i, (weight, leaf) in enumerate(self.parts):
            sign = "-" if weight < 0 else "+"
            magnitude = abs(weight)
            scaled = leaf.name if magnitude == 1 else f"{magnitude:g}*{leaf.name}"
            if i == 0:
                text = scaled if sign == "+" else f"-{scaled}"
            else:
                text += f" {sign} {scaled}"
        return text

    def value(self, features: Features) -> tf.Tensor:
        return tf.add_n([weight * leaf(features) for weight, leaf in self.parts])

    def __call__(self, features: Features) -> tf.Tensor:
        return self.value(features)

    def check(self, model: VisModel) -> None:
        for _, leaf in self.parts:
            leaf.check(model)

    def at(self, index: int) -> Objective:
        return Sum(tuple((weight, leaf.at(index)) for weight, leaf in self.parts))

    @property
    def batch_size(self) -> int:
        return max(leaf.batch_size for _, leaf in self.parts)

    def terms(self) -> tuple[tuple[float, Objective], ...]:
        return self.parts


@gin.register(module="featviz")
def weighted_sum(terms: Sequence[Objective], weights: Sequence[float] | None = None) -> Objective:
    """`sum(w * t for w, t in zip(weights, terms))`, for gin configs (gin has no arithmetic).

    Example (gin): `Visualizer.objective = @weighted_sum()`,
    `weighted_sum.terms = [@logit/ClassLogit(), @tv/TotalVariation()]`,
    `weighted_sum.weights = [1.0, 1e-3]`.
    """
    terms = list(terms)
    if weights is None:
        weights = [1.0] * len(terms)
    if len(weights) != len(terms) or not terms:
        raise ValueError(
            f"weighted_sum needs one weight per term and at least one term; got {len(terms)} "
            f"terms and {len(weights)} weights"
        )
    return sum(float(w) * t for w, t in zip(weights, terms))


@gin.register(module="featviz")
def stack(objectives: Iterable[Objective]) -> Objective:
    """One image per objective: element i of the result's batch maximises `objectives[i]`."""
    objectives = list(objectives)
    if not objectives:
        raise ValueError("stack() needs at least one objective")
    for i, obj in enumerate(objectives):
        if not isinstance(obj, Objective):
            raise TypeError(f"stack() element {i} is {obj!r}, not an Objective")
    return sum(obj.at(i) for i, obj in enumerate(objectives))


def image_names(objective: Objective, batch: int) -> list[str]:
    """A readable name per batch element.

    An image targeted by its own objectives is named after them (regularizers shared by all
    images are left out); images with none are named after the whole objective.
    """
    names: list[list[str]] = [[] for _ in range(batch)]
    for _, leaf in objective.terms():
        if leaf.batch is not None and leaf.batch < batch:
            names[leaf.batch].append(leaf.name)
    whole = objective.name
    return [" + ".join(n) if n else (whole if batch == 1 else f"{whole} #{i}")
            for i, n in enumerate(names)]


@dataclasses.dataclass(frozen=True, eq=False)
class FunctionObjective(Objective):
    """An objective defined by a plain function; what the `@objective` decorator returns.

    Attributes:
        fn: `fn(features, **kwargs) -> [batch]`.
        kwargs: the arguments bound to `fn`; an argument named `layer` (a name) or `layers`
            (a list of names) declares the layers `fn` reads.
    """

    fn: Callable[..., tf.Tensor]
    kwargs: tuple[tuple[str, Any], ...] = ()
    batch: int | None = None

    @property
    def layers(self) -> tuple[str, ...]:
        args = dict(self.kwargs)
        layers = list(args.get("layers", ()))
        if "layer" in args:
            layers.insert(0, args["layer"])
        return tuple(layers)

    @property
    def name(self) -> str:
        args = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in self.kwargs)
        return f"{self.fn.__name__}[{args}]"

    def value(self, features: Features) -> tf.Tensor:
        return self.fn(features, **dict(self.kwargs))


def objective(fn: Callable[..., tf.Tensor]) -> Callable[..., FunctionObjective]:
    """Turns `fn(features, **kwargs) -> [batch]` into a factory of objectives.

    Parameters named `layer` (one layer name) or `layers` (several) declare which activations
    `fn` reads; every other parameter is passed through. The factory keeps `fn`'s name and
    signature (less `features`), so it can be registered with gin:

    >>> @objective
    ... def channel_contrast(features, layer, a, b):
    ...     acts = features[layer]
    ...     return tf.reduce_mean(acts[..., a] - acts[..., b], axis=[1, 2])
    >>> channel_contrast(layer="conv2", a=0, b=1).layers
    ('conv2',)
    """
    signature = inspect.signature(fn)
    parameters = list(signature.parameters.values())
    if not parameters:
        raise TypeError(f"@objective function {fn.__name__} must take `features` first")
    factory_signature = signature.replace(parameters=parameters[1:], return_annotation=Objective)

    @functools.wraps(fn)
    def factory(*args: Any, **kwargs: Any) -> FunctionObjective:
        bound = factory_signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return FunctionObjective(fn, tuple(bound.arguments.items()))

    # `functools.wraps` would make the factory's signature that of `fn`, features included;
    # gin validates bindings against the signature, so give it the real one.
    factory.__signature__ = factory_signature  # type: ignore[attr-defined]
    return factory
