"""Transparent images: a colour parameterization and an alpha channel, optimized together.

Mordvintsev et al., "Differentiable Image Parameterizations" (Distill 2018), section "Generation
of Semi-Transparent Patterns"; Lucid's `param.image(..., alpha=True)`. `Transparent` makes
[batch, height, width, channels + 1] images, the last channel the opacity. The model only ever
sees them composited over a different random background each step (the transform
`CompositeRandomBackground`, first in the transform list), so that only opaque pixels can carry
evidence for the unit; an `Opacity` term in the objective makes opacity cost something, and
what stays opaque is where the unit's evidence is.
"""

from __future__ import annotations

import dataclasses

import gin
import numpy as np
import tensorflow as tf

from featviz.params.base import Fourier, Parameterization


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class Transparent(Parameterization):
    """Colour from one parameterization, opacity from another; images with an alpha channel.

    `size`, `batch`, `channels`, `init` and `init_std` apply to the colour (a photograph as
    `init` starts the colour from it); the alpha parameterization gets the same size and one
    channel, and starts from its own "normal" initialisation (half opaque everywhere for the
    sigmoid-based `Fourier` and `Pixel`).

    The raw variable is [batch, colour parameters + alpha parameters], both flattened.

    Attributes:
        color: the colour parameterization (None: decorrelated `Fourier`); only its own
            settings (decay, colour decorrelation, ...) are used, size and batch are this one's.
        alpha: the opacity parameterization (None: `Fourier` without colour decorrelation).
    """

    color: Parameterization | None = None
    alpha: Parameterization | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("color", "alpha"):
            part = getattr(self, name)
            if part is not None and (not isinstance(part, Parameterization)
                                     or isinstance(part, Transparent)):
                raise TypeError(f"Transparent {name} must be a Parameterization (not Transparent "
                                f"itself), got {part!r}")

    def _color(self) -> Parameterization:
        base = self.color if self.color is not None else Fourier()
        return dataclasses.replace(base, size=self.size, batch=self.batch, channels=self.depth,
                                   init=self.init, init_std=self.init_std)

    def _alpha(self) -> Parameterization:
        base = self.alpha if self.alpha is not None else Fourier(decorrelate=False)
        return dataclasses.replace(base, size=self.size, batch=self.batch, channels=1,
                                   init="normal")

    def _raw_shapes(self) -> tuple[list[int], list[int]]:
        """The unflattened raw shape (without batch) of the colour and of the alpha part."""
        return (self._color()._normal_init(1, 0).shape[1:].as_list(),
                self._alpha()._normal_init(1, 0).shape[1:].as_list())

    def _pack(self, color: tf.Tensor, alpha: tf.Tensor) -> tf.Tensor:
        batch = tf.shape(color)[0]
        return tf.concat([tf.reshape(color, [batch, -1]), tf.reshape(alpha, [batch, -1])], axis=1)

    def _unpack(self, raw: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        color_shape, alpha_shape = self._raw_shapes()
        count = int(np.prod(color_shape))
        batch = tf.shape(raw)[0]
        return (tf.reshape(raw[:, :count], [batch, *color_shape]),
                tf.reshape(raw[:, count:], [batch, *alpha_shape]))

    def initial(self, batch: int, seed: int) -> tf.Tensor:
        # The colour may start from a photograph; the opacity always starts from noise (a
        # different seed stream, so it does not copy the colour's noise).
        return self._pack(self._color().initial(batch, seed),
                          self._alpha().initial(batch, seed + 7919))

    def _normal_init(self, batch: int, seed: int) -> tf.Tensor:
        return self.initial(batch, seed)

    def to_images(self, raw: tf.Tensor) -> tf.Tensor:
        """raw -> [batch, height, width, channels + 1] in [0, 1]; the last channel is opacity."""
        color, alpha = self._unpack(raw)
        return tf.concat([self._color().to_images(color), self._alpha().to_images(alpha)], -1)

    def from_images(self, images: tf.Tensor) -> tf.Tensor:
        """[batch, height, width, channels + 1] images (colour, then opacity) -> raw."""
        images = tf.convert_to_tensor(images, tf.float32)
        if images.shape[-1] != self.depth + 1:
            raise ValueError(
                f"Transparent maps images with {self.depth + 1} channels (colour and opacity) "
                f"back to its variable, got {images.shape[-1]} channels"
            )
        return self._pack(self._color().from_images(images[..., :-1]),
                          self._alpha().from_images(images[..., -1:]))
