"""Unit objectives: a class logit or probability, a channel, a neuron, a direction.

Each reads one layer's activations (or the logits) and returns one value per image.
"""

from __future__ import annotations

import dataclasses

import gin
import numpy as np
import tensorflow as tf

from featviz.models import LOGITS, VisModel
from featviz.objectives.base import Features, LayerObjective, Objective


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


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class Channel(LayerObjective):
    """The mean activation of one channel over all spatial positions.

    Attributes:
        layer: layer name.
        channel: channel index, in [0, number of channels of the layer).
    """

    layer: str
    channel: int
    batch: int | None = None

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
class Neuron(LayerObjective):
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
class Direction(LayerObjective):
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
