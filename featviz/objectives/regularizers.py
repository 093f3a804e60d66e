"""Image-space regularizers: penalties on the parameterized images, returned negated.

They read no layer: `features.images` (before transforms) is what they measure, so they are
added with a positive weight: `obj + 1e-3 * TotalVariation()`.
"""

from __future__ import annotations

import dataclasses

import gin
import tensorflow as tf

from featviz.objectives.base import Features, Objective


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


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class Opacity(Objective):
    """Minus the mean opacity of images with an alpha channel (`featviz.params.Transparent`).

    Returned negated, so it is *added*: `Channel(l, c) + 0.5 * Opacity()` makes every opaque
    pixel cost something, and the render keeps opaque only what raises the unit.

    Attributes:
        power: the penalty is mean(alpha ** power) ** (1 / power); 1 is the plain mean, 2 the
            root mean square of Lucid's transparency notebook, which penalises large opaque
            areas more than scattered ones.
    """

    power: float = 1.0
    batch: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.power, bool) or not isinstance(self.power, (int, float)) or self.power <= 0:
            raise ValueError(f"Opacity power must be a positive number, got {self.power!r}")

    def value(self, features: Features) -> tf.Tensor:
        images = features.images
        if images.shape[-1] not in (2, 4):
            raise ValueError(
                f"Opacity needs images with an alpha channel (a Transparent parameterization), "
                f"got {images.shape[-1]} channels"
            )
        alpha = images[..., -1]
        mean = tf.reduce_mean(alpha ** self.power, axis=[1, 2])
        return -mean ** (1.0 / self.power)
