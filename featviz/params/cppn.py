"""A compositional pattern-producing network (CPPN) as a resolution-independent image.

Mordvintsev et al., "Differentiable Image Parameterizations" (Distill 2018), section "Compositional
Pattern Producing Networks"; Lucid's `lucid/optvis/param/cppn.py`. The image is the output of a
small network of 1x1 convolutions (an MLP applied to every pixel) whose input is the pixel's
(x, y) coordinate. The variable being optimized is the network's weights, one network per
image, so the same weights can be evaluated on a grid of any size (`CPPN.render`): a CPPN
trained at 128 pixels renders at 512 with the same shapes and sharper edges.
"""

from __future__ import annotations

import dataclasses
import math

import gin
import numpy as np
import tensorflow as tf

from featviz.params.base import Parameterization

# Lucid's constants (param/cppn.py): coordinates in [-sqrt(3), sqrt(3)] (unit variance for a
# uniform grid); the composite activation atan(x) -> [atan/0.67, atan^2/0.6], whose two halves
# have roughly unit variance for unit-variance inputs; biases drawn from N(0, 0.1).
_COORDINATE_RANGE = math.sqrt(3.0)
_ATAN_SCALE, _ATAN_SQUARED_SCALE = 0.67, 0.6
_BIAS_STD = 0.1


def _composite_activation(x: tf.Tensor) -> tf.Tensor:
    """[..., n] -> [..., 2n]: atan and its square, each scaled to about unit variance."""
    x = tf.atan(x)
    return tf.concat([x / _ATAN_SCALE, tf.square(x) / _ATAN_SQUARED_SCALE], axis=-1)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class CPPN(Parameterization):
    """Images as the output of a per-image MLP of the pixel coordinates.

    The raw variable is [batch, parameters]: each image's weights and biases, flattened. The
    network has `layers` hidden layers of `hidden` units with the composite activation
    (atan and atan², Lucid's default), then a sigmoid output layer whose weights start at zero
    (every image starts as one flat colour near mid-grey, as in Lucid). Optimize it with a small learning rate
    (Lucid's notebook uses Adam 0.005) and no Fourier-style preconditioning.

    Attributes:
        hidden: hidden units per layer (Lucid: 24).
        layers: hidden layers (Lucid: 8).
        init: only "normal" (random weights, variance scaling as in Lucid): a CPPN has no
            inverse map from images, so it cannot start from a photograph or uniform noise.
    """

    hidden: int = 24
    layers: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("hidden", "layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CPPN {name} must be a positive int, got {value!r}")
        if not (isinstance(self.init, str) and self.init == "normal"):
            raise ValueError(
                f"CPPN init must be 'normal' (random weights): a CPPN cannot be fitted to an "
                f"image at initialisation; got init={self.init!r}"
            )

    def _shapes(self) -> list[tuple[tuple[int, int], tuple[int]]]:
        """(kernel shape, bias shape) of each layer, input to output."""
        shapes, inputs = [], 2
        for _ in range(self.layers):
            shapes.append(((inputs, self.hidden), (self.hidden,)))
            inputs = 2 * self.hidden  # the composite activation doubles the width
        shapes.append(((inputs, self.depth), (self.depth,)))
        return shapes

    @property
    def parameters(self) -> int:
        """The number of weights and biases per image."""
        return sum(k[0] * k[1] + b[0] for k, b in self._shapes())

    def _normal_init(self, batch: int, seed: int) -> tf.Tensor:
        pieces = []
        shapes = self._shapes()
        for i, (kernel, bias) in enumerate(shapes):
            seeds = [[seed, 2 * i], [seed, 2 * i + 1]]
            if i == len(shapes) - 1:
                # Zero output weights (Lucid): the first image is flat, sigmoid(bias), and
                # the gradient reaches every output weight from the first step.
                weights = tf.zeros([batch, kernel[0] * kernel[1]])
            else:
                # Variance scaling (fan-in), Lucid's initializer for the hidden layers.
                weights = tf.random.stateless_normal([batch, kernel[0] * kernel[1]], seed=seeds[0],
                                                     stddev=1.0 / math.sqrt(kernel[0]))
            biases = tf.random.stateless_normal([batch, bias[0]], seed=seeds[1], stddev=_BIAS_STD)
            pieces += [weights, biases]
        return tf.concat(pieces, axis=1)

    def grid(self, size: tuple[int, int]) -> tf.Tensor:
        """The input coordinates, [height, width, 2] (x, y); the longer side spans ±sqrt(3).

        Each pixel gets the coordinate of its centre (Lucid's `linspace` puts the first and
        last pixels on the edges), so a render at 4x the size is, averaged over 4x4 blocks,
        the same picture.
        """
        height, width = size
        longest = max(height, width)

        def centres(n: int) -> tf.Tensor:
            return ((tf.range(n, dtype=tf.float32) + 0.5) / longest * 2.0 - n / longest) * _COORDINATE_RANGE

        ys, xs = centres(height), centres(width)
        y, x = tf.meshgrid(ys, xs, indexing="ij")
        return tf.stack([x, y], axis=-1)

    def render(self, raw: tf.Tensor, size: int | tuple[int, int]) -> tf.Tensor:
        """The images of these weights on a grid of any size.

        Args:
            raw: [batch, parameters], the variable.
            size: an int or (height, width).

        Returns:
            [batch, height, width, channels] in [0, 1].
        """
        size = (size, size) if isinstance(size, int) else tuple(size)
        raw = tf.convert_to_tensor(raw, tf.float32)
        if raw.shape[-1] != self.parameters:
            raise ValueError(
                f"CPPN raw variable has {raw.shape[-1]} parameters per image; this CPPN "
                f"(hidden={self.hidden}, layers={self.layers}, channels={self.depth}) has "
                f"{self.parameters}"
            )
        batch = tf.shape(raw)[0]
        net = tf.tile(self.grid(size)[None], [batch, 1, 1, 1])  # [batch, h, w, 2]
        offset = 0
        shapes = self._shapes()
        for i, (kernel, bias) in enumerate(shapes):
            count = kernel[0] * kernel[1]
            weights = tf.reshape(raw[:, offset:offset + count], [batch, *kernel])
            biases = raw[:, offset + count:offset + count + bias[0]]
            offset += count + bias[0]
            net = tf.einsum("bhwi,bio->bhwo", net, weights) + biases[:, None, None, :]
            net = tf.sigmoid(net) if i == len(shapes) - 1 else _composite_activation(net)
        return net

    def to_images(self, raw: tf.Tensor) -> tf.Tensor:
        return self.render(raw, self.shape)

    def from_images(self, images: tf.Tensor) -> tf.Tensor:
        raise TypeError(
            "CPPN has no inverse map from images to weights: between-step operations "
            "(ScheduledTransform, Restandardize) and init from an image need Pixel or Fourier"
        )
