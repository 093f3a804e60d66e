"""Between-step operations and gradient transforms: the parts of the loop besides the step.

Some methods change the optimization itself, not only what is logged: the seed method blurs and
zooms the images between rounds and re-standardises its pixels after every step, and rescales
each gradient. These are parts of the loop (`Visualizer(between_steps=..., gradient_transforms=
...)`), not callbacks, which only observe.

A `BetweenSteps` operation maps the raw image variable to its new value (`apply(param, raw)`, a
TensorFlow function the loop compiles once per image variable) and says after which steps it
runs (`due(step, steps)`); it is never applied after the last step, so the final images are the
ones the objective saw. A gradient transform maps a gradient to a gradient of the same shape.
"""

from __future__ import annotations

import dataclasses

import gin
import tensorflow as tf

from featviz.params import Parameterization
from featviz.transforms import Transform


class BetweenSteps:
    """Base class of operations applied to the images between optimizer steps.

    Subclasses set `every` (apply after every N steps) and implement `apply`.
    """

    every: int = 1
    until: int | None = None

    def due(self, step: int, steps: int) -> bool:
        """Whether to apply after step `step` (0-based) of a run of `steps` steps."""
        return ((step + 1) % self.every == 0 and step < steps - 1
                and (self.until is None or step < self.until))

    def apply(self, param: Parameterization, raw: tf.Tensor) -> tf.Tensor:
        """The new raw variable, [batch, ...] like `raw`, from the current one."""
        raise NotImplementedError(f"{type(self).__name__} must implement apply(param, raw)")


def _check_every(owner: str, every: object) -> None:
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"{owner}.every must be a positive int, got {every!r}")


@gin.register(module="featviz")
class ScheduledTransform(BetweenSteps):
    """Applies a deterministic transform to the images between steps, every N steps.

    The seed method's between-round operations are two of these: Gaussian blur (sigma 1.0) and
    progressive zoom (`Zoom(1.01)`), every 20 steps. Not applied after the last step, so the
    final images are those the objective saw. The result is clipped to [0, 1] and written back
    through the parameterization's inverse.

    Args:
        transform: e.g. `GaussianBlur(1.0)` or `Zoom(1.01)`.
        every: apply after every N steps.
        until: stop applying after this step (None: until the end).
    """

    def __init__(self, transform: Transform = gin.REQUIRED, every: int = 20, until: int | None = None) -> None:
        if isinstance(transform, type) or not callable(transform):
            raise TypeError(f"ScheduledTransform needs a transform instance, got {transform!r}")
        _check_every("ScheduledTransform", every)
        self.transform = transform
        self.every = every
        self.until = until

    def apply(self, param: Parameterization, raw: tf.Tensor) -> tf.Tensor:
        images = self.transform(param.to_images(raw), tf.constant([0, 0], tf.int64))
        return param.from_images(tf.clip_by_value(images, 0.0, 1.0))


@gin.register(module="featviz")
class Restandardize(BetweenSteps):
    """Clips the raw variable and re-standardises each image (the seed method, after each step).

    raw <- scale * (c - mean(c)) / std(c), with c = clip(raw, -clip, clip), per image. Meant for
    `Pixel(activation="sigmoid")`, whose raw variable is the pre-sigmoid image: it keeps the
    sigmoid out of saturation, where gradients vanish.
    """

    def __init__(self, clip: float = 50.0, scale: float = 1.5, every: int = 1) -> None:
        _check_every("Restandardize", every)
        self.clip = clip
        self.scale = scale
        self.every = every

    def due(self, step: int, steps: int) -> bool:
        # Also after the last step: the seed method's images are the re-standardised ones.
        return (step + 1) % self.every == 0

    def apply(self, param: Parameterization, raw: tf.Tensor) -> tf.Tensor:
        clipped = tf.clip_by_value(raw, -self.clip, self.clip)
        axes = list(range(1, raw.shape.rank))
        mean, variance = tf.nn.moments(clipped, axes=axes, keepdims=True)
        return self.scale * (clipped - mean) / tf.sqrt(variance + 1e-12)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class NormalizeGradient:
    """Divides each image's gradient by its standard deviation (the seed method's step rule).

    With Adam this mostly matters at the start; with SGD it makes the step size independent of
    the objective's scale.
    """

    epsilon: float = 1e-8

    def __call__(self, gradient: tf.Tensor) -> tf.Tensor:
        """gradient [batch, ...] -> the same shape, each image's gradient of unit std."""
        axes = list(range(1, gradient.shape.rank))
        std = tf.math.reduce_std(gradient, axis=axes, keepdims=True)
        return gradient / (std + self.epsilon)
