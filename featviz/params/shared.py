"""Low-resolution components shared along the batch, for aligned interpolations.

Lucid's "aligned interpolation" notebook (Olah et al., Feature Visualization, Distill 2017,
"Interaction between Neurons"): each frame of an interpolation from unit A to unit B is its own
image plus low-resolution images shared by all frames, so that neighbouring frames keep the same
layout and only the details move. A shared component with k > 1 points is k low-resolution
images linearly interpolated along the batch: frames near each other see nearly the same one.
"""

from __future__ import annotations

import dataclasses

import gin
import numpy as np
import tensorflow as tf

from featviz.params.base import Fourier, Parameterization, _logit

# Lucid's aligned-interpolation notebook: (points along the batch, downsampling factor) of the
# six shared `lowres_tensor`s added to each frame's own `fft_image`.
LUCID_SHARED = ((1, 2), (1, 4), (1, 8), (2, 8), (1, 16), (2, 16))


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class SharedLowRes(Parameterization):
    """Each image is its own parameterization's image plus low-resolution shared components.

    image_i = sigmoid(logit(own_i) + sum_k upsample(interpolate_k(i))), where component k is
    [points_k, height / factor_k, width / factor_k, channels], linearly interpolated along the
    batch and bilinearly upsampled. The raw variable is [batch, own + shared parameters]: each
    row holds the image's own parameters and a copy of all shared ones; `to_images` uses the
    copies' mean, so every copy gets the same gradient and they stay equal. Mapping images back
    (`from_images`) puts everything into the own parameters and zeroes the shared ones.

    Attributes:
        base: each image's own parameterization (None: decorrelated `Fourier`); size, batch,
            channels and init are this one's.
        shared: ((points, factor), ...); default Lucid's six components.
    """

    base: Parameterization | None = None
    shared: tuple[tuple[int, int], ...] = LUCID_SHARED

    def __post_init__(self) -> None:
        super().__post_init__()
        height, width = self.shape
        pairs = tuple(tuple(pair) for pair in self.shared)
        if not pairs or not all(
            len(pair) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                                   for v in pair) and pair[1] <= min(height, width)
            for pair in pairs
        ):
            raise ValueError(f"SharedLowRes shared must be a non-empty list of (points, factor) "
                             f"pairs of positive ints, factor <= the image side; got {self.shared!r}")
        object.__setattr__(self, "shared", pairs)

    def _base(self) -> Parameterization:
        base = self.base if self.base is not None else Fourier()
        return dataclasses.replace(base, size=self.size, batch=self.batch, channels=self.depth,
                                   init=self.init, init_std=self.init_std)

    def _component_shapes(self) -> list[list[int]]:
        height, width = self.shape
        return [[points, -(-height // factor), -(-width // factor), self.depth]
                for points, factor in self.shared]

    def _base_shape(self) -> list[int]:
        return self._base()._normal_init(1, 0).shape[1:].as_list()

    def initial(self, batch: int, seed: int) -> tf.Tensor:
        own = self._base().initial(batch, seed)
        count = sum(int(np.prod(s)) for s in self._component_shapes())
        shared = tf.random.stateless_normal([1, count], seed=[seed, 1], stddev=self.init_std)
        return tf.concat([tf.reshape(own, [batch, -1]), tf.tile(shared, [batch, 1])], axis=1)

    def _normal_init(self, batch: int, seed: int) -> tf.Tensor:
        return self.initial(batch, seed)

    @staticmethod
    def _along_batch(points: int, batch: tf.Tensor) -> tf.Tensor:
        """[batch, points] linear-interpolation weights of each image between the points."""
        if points == 1:
            return tf.ones([batch, 1])
        where = tf.linspace(0.0, float(points - 1), batch)  # each image's position, [batch]
        return tf.maximum(0.0, 1.0 - tf.abs(where[:, None] - tf.range(points, dtype=tf.float32)))

    def to_images(self, raw: tf.Tensor) -> tf.Tensor:
        height, width = self.shape
        batch = tf.shape(raw)[0]
        own_shape = self._base_shape()
        own_count = int(np.prod(own_shape))
        own = self._base().to_images(tf.reshape(raw[:, :own_count], [batch, *own_shape]))
        shared = tf.reduce_mean(raw[:, own_count:], axis=0)  # the copies' mean
        offset = 0
        total = tf.zeros_like(own)
        for (points, _), shape in zip(self.shared, self._component_shapes()):
            count = int(np.prod(shape))
            component = tf.reshape(shared[offset:offset + count], shape)
            offset += count
            frames = tf.tensordot(self._along_batch(points, batch), component, axes=1)
            total += tf.image.resize(frames, (height, width), method="bilinear")
        # Summed where the base's sigmoid acts, so that a shared component moves every frame's
        # colours the same way; the eps in _logit only bites for pixels saturated beyond 1e-4.
        return tf.sigmoid(_logit(own) + total)

    def from_images(self, images: tf.Tensor) -> tf.Tensor:
        own = self._base().from_images(images)
        batch = tf.shape(own)[0]
        count = sum(int(np.prod(s)) for s in self._component_shapes())
        return tf.concat([tf.reshape(own, [batch, -1]), tf.zeros([batch, count])], axis=1)
