"""Batch objectives: terms that couple the images of a batch instead of scoring each alone.

- `Diversity(layer)`: the images' Gram matrices at a layer should differ (Lucid's `diversity`;
  Olah et al., Feature Visualization, Distill 2017, "Diversity"), so that a batch maximising
  one unit shows several of its facets;
- `ChannelInterpolate(layer_a, a, layer_b, b)`: frame i of n maximises
  (1 - i/(n-1)) * unit A + i/(n-1) * unit B (Lucid's `channel_interpolate`);
- `Alignment(layer)`: neighbouring frames should have similar activations (Lucid's
  `alignment`), with `featviz.params.SharedLowRes` the "aligned interpolation" of the article.

Each still returns one value per image, so that per-image losses and the sum the loop maximises
stay meaningful: a pair's term is split evenly between its two images. Like regularizers,
`Diversity` and `Alignment` are added with a positive weight: their values rise as the images
get more diverse (Diversity) or better aligned (Alignment). Lucid's `obj - 1e2 * diversity(l)`
is featviz's `obj + 100 * Diversity(l)`.
"""

from __future__ import annotations

import dataclasses

import gin
import numpy as np
import tensorflow as tf

from featviz.models import VisModel
from featviz.objectives.base import Features, LayerObjective, Objective
from featviz.objectives.units import _check_channel


def _spatial(model: VisModel, layer: str, owner: str) -> None:
    shape = model.output_shape(layer)
    if len(shape) != 4:
        raise ValueError(f"{owner} needs a layer with a spatial output [batch, height, width, "
                         f"channels]; {layer!r} has output shape {shape}")


def gram_similarity(activations: tf.Tensor) -> tf.Tensor:
    """Cosine similarity of every pair of the batch's Gram matrices.

    Args:
        activations: [batch, height, width, channels].

    Returns:
        [batch, batch] float32, 1 on the diagonal.
    """
    activations = tf.cast(activations, tf.float32)
    flat = tf.reshape(activations, [tf.shape(activations)[0], -1, activations.shape[-1]])
    grams = tf.matmul(flat, flat, transpose_a=True)  # [batch, c, c]
    # Lucid's epsilon (l2_normalize(..., epsilon=1e-10)): a dead layer gives zero, not NaN.
    grams = tf.reshape(grams, [tf.shape(grams)[0], -1])
    grams = tf.math.l2_normalize(grams, axis=1, epsilon=1e-10)
    return tf.matmul(grams, grams, transpose_b=True)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class Diversity(LayerObjective):
    """Minus the mean cosine similarity of each image's Gram matrix with the others' at a layer.

    Image i's value is -(1/batch) sum_{j != i} cos(G_i, G_j), so the batch's total is minus
    Lucid's `diversity`. Add it with a weight of the order of Lucid's 100 to a unit objective
    over a batch: `Channel(l, c) + 100 * Diversity(l)`. A batch of one has nothing to differ
    from: its value is 0.

    Attributes:
        layer: a layer with a spatial output; usually one below the unit's (Lucid's notebook
            uses mixed4a for a mixed4a unit).
    """

    layer: str
    batch: int | None = None

    @property
    def name(self) -> str:
        return f"Diversity[{self.layer}]"

    def check(self, model: VisModel) -> None:
        _spatial(model, self.layer, "Diversity")

    def value(self, features: Features) -> tf.Tensor:
        similarity = gram_similarity(features[self.layer])
        batch = tf.cast(tf.shape(similarity)[0], tf.float32)
        others = tf.reduce_sum(similarity, axis=1) - tf.linalg.diag_part(similarity)
        return -others / batch


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class ChannelInterpolate(Objective):
    """Frame i of a batch of n maximises (1 - w_i) * Channel(layer_a, a) + w_i * Channel(layer_b, b).

    w_i = i / (n - 1) rises linearly from 0 (pure A) to 1 (pure B) (Lucid's
    `channel_interpolate`); the batch is the interpolation, so give the parameterization a
    batch (`Fourier(batch=6)`, or `SharedLowRes(batch=6)` with `Alignment`).

    Attributes:
        layer_a, channel_a: the unit at the first frame.
        layer_b, channel_b: the unit at the last frame.
    """

    layer_a: str
    channel_a: int
    layer_b: str
    channel_b: int
    batch: int | None = None

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.layer_a, self.layer_b)))

    @property
    def name(self) -> str:
        return (f"ChannelInterpolate[{self.layer_a}:{self.channel_a}->"
                f"{self.layer_b}:{self.channel_b}]")

    def check(self, model: VisModel) -> None:
        _check_channel(model, self.layer_a, self.channel_a)
        _check_channel(model, self.layer_b, self.channel_b)

    @staticmethod
    def weights(batch: int | tf.Tensor) -> tf.Tensor:
        """The weight of unit B in each frame, [batch]: 0, 1/(n-1), ..., 1 (0 for one frame)."""
        steps = tf.maximum(tf.cast(batch, tf.float32) - 1.0, 1.0)
        return tf.range(tf.cast(batch, tf.float32)) / steps

    def value(self, features: Features) -> tf.Tensor:
        def mean(layer: str, channel: int) -> tf.Tensor:
            acts = tf.cast(features[layer][..., channel], tf.float32)
            return tf.reduce_mean(acts, axis=list(range(1, acts.shape.rank)))

        a, b = mean(self.layer_a, self.channel_a), mean(self.layer_b, self.channel_b)
        w = self.weights(tf.shape(a)[0])
        return (1.0 - w) * a + w * b


# Lucid's `alignment(layer, decay_ratio=2)` compares each frame with its next four; the aligned
# interpolation notebook uses decay_ratio=5.
_ALIGNMENT_OFFSETS = (1, 2, 3, 4)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class Alignment(LayerObjective):
    """Minus the activation distance between neighbouring frames of a batch.

    The penalty is sum_{d=1..4} sum_i mean((a_i - a_{i+d})^2) / decay_ratio^d (Lucid's
    `alignment`), each pair's term split between its two images, returned negated: add it to
    an interpolation, `ChannelInterpolate(...) + 0.1 * Alignment(l)`.

    Attributes:
        layer: the layer whose activations must stay alike from frame to frame.
        decay_ratio: how much less a pair d frames apart counts than one d - 1 apart
            (Lucid's default 2; its aligned interpolation notebook 5).
    """

    layer: str
    decay_ratio: float = 2.0
    batch: int | None = None

    def __post_init__(self) -> None:
        ratio = self.decay_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or ratio <= 0:
            raise ValueError(f"Alignment decay_ratio must be a positive number, got {ratio!r}")

    @property
    def name(self) -> str:
        return f"Alignment[{self.layer}]"

    def value(self, features: Features) -> tf.Tensor:
        acts = tf.cast(features[self.layer], tf.float32)
        batch = acts.shape[0]
        if batch is None:
            raise ValueError("Alignment needs the batch size when the step is traced")
        penalty = [tf.zeros([]) for _ in range(batch)]
        for d in _ALIGNMENT_OFFSETS:
            for i in range(batch - d):
                term = tf.reduce_mean(tf.square(acts[i] - acts[i + d])) / float(self.decay_ratio) ** d
                penalty[i] += term / 2.0
                penalty[i + d] += term / 2.0
        return -tf.stack(penalty)


def frame_distances(images: np.ndarray) -> np.ndarray:
    """Root-mean-square pixel distance between consecutive frames, [batch - 1]."""
    images = np.asarray(images, dtype=np.float64)
    return np.sqrt(np.mean(np.square(images[1:] - images[:-1]), axis=(1, 2, 3)))
