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
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import gin
import numpy as np
import tensorflow as tf

if TYPE_CHECKING:
    from featviz.models import VisModel

# The key under which the feature extractor provides the model's pre-softmax logits, whatever
# layer (a Dense, a 1x1 convolution plus reshape, a fused softmax) produces them.
LOGITS = "<logits>"


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


def _check_channel(model: VisModel, layer: str, channel: int) -> None:
    count = model.channels(layer)
    if not isinstance(channel, int) or isinstance(channel, bool) or not 0 <= channel < count:
        raise ValueError(
            f"channel {channel!r} is out of range for layer {layer!r}, which has {count} "
            f"channels (valid: 0..{count - 1})"
        )


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class ClassLogit(Objective):
    """The pre-softmax logit of one class.

    The softmax of the model is bypassed (the extractor reads the logits before it, whether the
    softmax is a separate layer, a `keras.ops.softmax` call, fused into the last layer, or inside
    a nested model), never inverted.

    Attributes:
        target: class index, or class name resolved against the model's class names
            (`"flamingo"`, `"red fox"`).
    """

    target: int | str
    batch: int | None = None

    @property
    def layers(self) -> tuple[str, ...]:
        return (LOGITS,)

    @property
    def name(self) -> str:
        return f"{type(self).__name__}[{self.target}]"

    def check(self, model: VisModel) -> None:
        model.class_index(self.target)

    def value(self, features: Features) -> tf.Tensor:
        return features[LOGITS][:, features.model.class_index(self.target)]


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class ClassProbability(ClassLogit):
    """The softmax probability of one class, as the published seed method maximises it.

    Attributes:
        target: class index or class name.
    """

    def value(self, features: Features) -> tf.Tensor:
        probabilities = tf.nn.softmax(tf.cast(features[LOGITS], tf.float32), axis=-1)
        return probabilities[:, features.model.class_index(self.target)]


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
@dataclasses.dataclass(frozen=True, eq=False)
class Channel(Objective):
    """The mean activation of one channel over all spatial positions.

    Attributes:
        layer: layer name.
        channel: channel index, in [0, number of channels of the layer).
    """

    layer: str
    channel: int
    batch: int | None = None

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    @property
    def name(self) -> str:
        return f"Channel[{self.layer}:{self.channel}]"

    def check(self, model: VisModel) -> None:
        _check_channel(model, self.layer, self.channel)

    def value(self, features: Features) -> tf.Tensor:
        acts = tf.cast(features[self.layer][..., self.channel], tf.float32)
        return tf.reduce_mean(acts, axis=list(range(1, acts.shape.rank)))


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class Neuron(Objective):
    """One channel at one spatial position of a convolutional layer.

    Attributes:
        layer: layer name (its output must be [batch, height, width, channels]).
        channel: channel index.
        position: (row, column) in the layer's output grid; None means the centre.
    """

    layer: str
    channel: int
    position: tuple[int, int] | None = None
    batch: int | None = None

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    @property
    def name(self) -> str:
        where = "" if self.position is None else f"@{self.position[0]},{self.position[1]}"
        return f"Neuron[{self.layer}:{self.channel}{where}]"

    def check(self, model: VisModel) -> None:
        _check_channel(model, self.layer, self.channel)
        shape = model.output_shape(self.layer)
        if len(shape) != 4:
            raise ValueError(
                f"Neuron needs a layer with a spatial grid [batch, height, width, channels]; "
                f"{self.layer!r} has output shape {shape}"
            )
        if self.position is not None and None not in shape[1:3]:
            row, col = self.position
            if not (0 <= row < shape[1] and 0 <= col < shape[2]):
                raise ValueError(
                    f"position {self.position} is outside the {shape[1]}x{shape[2]} grid of "
                    f"layer {self.layer!r} (valid rows 0..{shape[1] - 1}, columns 0..{shape[2] - 1})"
                )

    def value(self, features: Features) -> tf.Tensor:
        acts = tf.cast(features[self.layer], tf.float32)
        if self.position is None:
            # Free-size models under size-changing transforms have a grid known only at run time.
            grid = [acts.shape[axis] if acts.shape[axis] is not None else tf.shape(acts)[axis]
                    for axis in (1, 2)]
            row, col = grid[0] // 2, grid[1] // 2
        else:
            row, col = self.position
        return acts[:, row, col, self.channel]


# Lucid's floor on the cosine in `Direction`'s cosine weighting: without it a negative or zero
# cosine raised to a fractional power is undefined, and a zero weight stops the gradient.
_MIN_COSINE = 0.1


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class Direction(Objective):
    """A direction in a layer's channel space: the mean, over positions, of `acts . unit(vector)`.

    With `cosine_power=0` (the default) this is linear in the activations, so a one-hot vector
    gives exactly `Channel(layer, index)`, and any vector gives the same weighted sum of
    channels. A positive `cosine_power` multiplies each position's dot product by
    `max(cos, 0.1) ** cosine_power`, cos being the cosine between the activation vector and the
    direction (Lucid's `direction_cossim`): it rewards activations that point *along* the
    direction rather than large activations that merely have a component along it.

    Attributes:
        layer: layer name; its output is [batch, height, width, channels] or [batch, channels].
        vector: one component per channel of the layer (a list, tuple or 1-D array; stored as a
            tuple of floats), not all zero.
        cosine_power: exponent of the cosine weighting; 0 turns it off.
    """

    layer: str
    vector: tuple[float, ...]
    cosine_power: float = 0.0
    batch: int | None = None

    def __post_init__(self) -> None:
        vector = np.asarray(self.vector, dtype=np.float64)
        if vector.ndim != 1 or vector.size == 0 or not np.all(np.isfinite(vector)) or not np.any(vector):
            raise ValueError(
                f"Direction vector must be a non-empty 1-D sequence of finite numbers, not all "
                f"zero; got {self.vector!r}"
            )
        if isinstance(self.cosine_power, bool) or not isinstance(self.cosine_power, (int, float)) or (
            self.cosine_power < 0
        ):
            raise ValueError(f"Direction cosine_power must be a number >= 0, got {self.cosine_power!r}")
        # Frozen: store the normalised form once, as an immutable tuple.
        object.__setattr__(self, "vector", tuple(float(v) for v in vector))

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    @property
    def name(self) -> str:
        vector = np.asarray(self.vector)
        unit = vector / np.linalg.norm(vector)
        # The three largest components name the direction; the rest are elided.
        order = np.argsort(-np.abs(unit), kind="stable")
        shown = [i for i in order[:3] if unit[i] != 0]
        text = "".join(f"{'-' if unit[i] < 0 else '+'}{abs(unit[i]):.2g}*c{i}" for i in shown)
        more = "+..." if np.count_nonzero(unit) > len(shown) else ""
        cosine = f",cos^{self.cosine_power:g}" if self.cosine_power else ""
        return f"Direction[{self.layer}:{text.lstrip('+')}{more}{cosine}]"

    def check(self, model: VisModel) -> None:
        count = model.channels(self.layer)
        if len(self.vector) != count:
            raise ValueError(
                f"Direction vector has {len(self.vector)} components but layer {self.layer!r} has "
                f"{count} channels; give one component per channel"
            )

    def value(self, features: Features) -> tf.Tensor:
        acts = tf.cast(features[self.layer], tf.float32)  # [batch, ..., channels]
        vector = np.asarray(self.vector, dtype=np.float32)
        unit = tf.constant(vector / np.linalg.norm(vector))
        dots = tf.tensordot(acts, unit, axes=[[acts.shape.rank - 1], [0]])  # [batch, ...]
        if self.cosine_power:
            cosine = dots / (tf.norm(acts, axis=-1) + 1e-4)
            dots = dots * tf.maximum(cosine, _MIN_COSINE) ** self.cosine_power
        return tf.reduce_mean(dots, axis=list(range(1, dots.shape.rank)))


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class TotalVariation(Objective):
    """Smoothness regularizer: minus the mean absolute difference between neighbouring pixels.

    Returned negated, so it is *added* to an objective: `obj + 1e-3 * TotalVariation()`.
    Measured on the parameterized images, before transforms.
    """

    batch: int | None = None

    def value(self, features: Features) -> tf.Tensor:
        images = features.images
        dy = tf.abs(images[:, 1:, :, :] - images[:, :-1, :, :])
        dx = tf.abs(images[:, :, 1:, :] - images[:, :, :-1, :])
        return -(tf.reduce_mean(dy, axis=[1, 2, 3]) + tf.reduce_mean(dx, axis=[1, 2, 3]))


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class L2(Objective):
    """Minus the mean squared distance of the pixels from `center` (0.5: mid-grey).

    Returned negated, so it is *added* to an objective: `obj + 0.1 * L2()`.
    """

    center: float = 0.5
    batch: int | None = None

    def value(self, features: Features) -> tf.Tensor:
        return -tf.reduce_mean(tf.square(features.images - self.center), axis=[1, 2, 3])


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
