"""Objectives that compare an image's activations with those of another image.

Reconstruction, DeepDream and style transfer optimize an image with respect to a *target
image*'s activations rather than a unit of the network:

- `ActivationMatch(layer, image)`: the activations at `layer` must equal the target's, position
  by position (reconstruction from features, Mahendran & Vedaldi 2015; the content term of
  style transfer);
- `StyleMatch(layers, image)`: only the channels' statistics must match, their Gram matrices
  (Gatys et al. 2016) or per-channel mean and standard deviation (Huang & Belongie 2017), so the
  spatial arrangement is free (the style term);
- `LayerActivation(layer)`: the mean (or root-mean-square) activation of a whole layer, what
  DeepDream ascends starting from a photograph (Mordvintsev et al. 2015);
- `ActivationDot(layer, image)`: the dot product with the target's activations times their
  cosine, what Lucid's caricatures maximise: what the layer sees in the target, exaggerated.

Like every objective they are declared before any model exists: the target is a file path or an
array, read through `featviz.io.as_image_batch` (any file Pillow reads, RGB enforced,
resized to the model's input). Its activations are a constant of the run: `value` computes them
eagerly (`tf.init_scope`) while the step is traced, and the compiled step captures the result,
so each step runs one forward pass, of the image being optimized only.

>>> content = ActivationMatch("block4_conv2", "content.png")
>>> style = StyleMatch(["block1_conv1", "block2_conv1", "block3_conv1"], "style.png")
>>> objective = content + 10.0 * style  # the style-transfer objective
>>> [leaf.name for _, leaf in objective.terms()]  # doctest: +NORMALIZE_WHITESPACE
['ActivationMatch[block4_conv2~content]',
 'StyleMatch[gram:block1_conv1,block2_conv1,block3_conv1~style]']
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import gin
import numpy as np
import tensorflow as tf

from featviz import io as image_io
from featviz.models import LOGITS, VisModel
from featviz.objectives.base import Features, LayerObjective, Objective

ImageSource = str | os.PathLike | np.ndarray
# Keeps relative distances finite for targets whose activations are all zero (a dead layer).
_EPS = 1e-12
_STYLE_KINDS = ("gram", "moments")
_STATISTICS = ("mean", "l2")


def target_activations(
    model: VisModel, image: ImageSource, keys: Sequence[str], size: tuple[int, int] | None = None
) -> dict[str, tf.Tensor]:
    """The activations of `model` for one target image.

    Args:
        model: the model.
        image: a file path, or an array [height, width, channels] (float in [0, 1] or uint8).
        keys: layer names (or `LOGITS`).
        size: (height, width) at which the image is given to the model; default: the model's
            input size (required for models with a free input size).

    Returns:
        {key: float32 activation [1, ...]}, eager tensors.
    """
    size = size or model.input_size
    if size is None:
        raise ValueError(
            f"model {model.name!r} takes any input size; pass the size (height, width) at which "
            f"to compare activations"
        )
    batch = image_io.as_image_batch(image, size, model.input_channels, 1, what="target image")
    return model.activations(batch, keys)


def describe_image(image: ImageSource) -> str:
    """A short name for an image source: the file name without suffix, or the array's size."""
    if isinstance(image, (str, os.PathLike)):
        return Path(image).stem
    shape = np.shape(image)
    return f"array{shape[0]}x{shape[1]}" if len(shape) >= 2 else "array"


def _check_source(image: object, owner: str) -> None:
    if not isinstance(image, (str, os.PathLike, np.ndarray)):
        raise TypeError(
            f"{owner} needs a target image: a file path or an array [height, width, channels]; "
            f"got {image!r}"
        )


class _TargetImage(Objective):
    """Shared by objectives that compare with a target image's activations (`self.image`)."""

    image: ImageSource

    def check(self, model: VisModel) -> None:
        super().check(model)
        # Reads the file now, so that a bad path fails before anything is traced.
        image_io.as_image_batch(self.image, None, model.input_channels, 1, what="target image")

    def targets(self, features: Features) -> dict[str, tf.Tensor]:
        """The target's activations at this objective's layers, {key: [1, ...]}.

        At the size the rendered images reach the model: the model's input size, or for
        models with a free input size the size of the parameterized images.
        """
        size = features.model.input_size or tuple(features.images.shape[1:3])
        # Computed eagerly even while the step is traced, and captured by the compiled step as
        # a constant: the target's forward pass runs once per run, never once per step.
        with tf.init_scope():
            return target_activations(features.model, self.image, self.layers, size)


def squared_distance(activations: tf.Tensor, target: tf.Tensor,
                     normalize: bool = True) -> tf.Tensor:
    """Distance of each image's activations from the target's.

    Args:
        activations: [batch, ...].
        target: [1, ...], the same shape after the batch dimension.
        normalize: divide by the target's squared norm (||a - t||^2 / ||t||^2, scale-free);
            otherwise the mean squared difference.

    Returns:
        [batch] float32.
    """
    activations = tf.cast(activations, tf.float32)
    axes = list(range(1, activations.shape.rank))
    error = tf.reduce_sum(tf.square(activations - target), axis=axes)
    if normalize:
        return error / (tf.reduce_sum(tf.square(target)) + _EPS)
    return error / tf.cast(tf.reduce_prod(tf.shape(target)), tf.float32)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class ActivationMatch(_TargetImage, LayerObjective):
    """Minus the distance between a layer's activations and a target image's.

    Maximising it reconstructs the target from the layer's features; with a style term it is
    the content term of style transfer. The comparison is position by position, so the images
    must reach the model at the target's size: use no transforms that change the image size
    (`Jitter`, `RandomScale`) on models with a free input size (fixed-size models resize every
    transformed image to their input anyway).

    Attributes:
        layer: layer name, or `LOGITS`.
        image: the target: a file path, or an array [height, width, channels] (float in [0, 1]
            or uint8), resized to the model's input.
        normalize: divide the squared error by the target's squared norm (layers of any scale
            then start near 1 from a blank image); otherwise the mean squared difference.
    """

    layer: str
    image: ImageSource
    normalize: bool = True
    batch: int | None = None

    def __post_init__(self) -> None:
        _check_source(self.image, "ActivationMatch")

    @property
    def name(self) -> str:
        return f"ActivationMatch[{self.layer}~{describe_image(self.image)}]"

    def _pair(self, features: Features) -> tuple[tf.Tensor, tf.Tensor]:
        activations = features[self.layer]
        target = self.targets(features)[self.layer]
        message = (
            f"ActivationMatch compares position by position, but layer {self.layer!r} gives "
            f"{{}} for the rendered images and {tuple(target.shape[1:])} for the target; render "
            f"at the model's input size, without size-changing transforms"
        )
        if activations.shape[1:].is_fully_defined():
            if activations.shape[1:] != target.shape[1:]:
                raise ValueError(message.format(tuple(activations.shape[1:])))
        else:
            # Random scales give sizes known only when the step runs: check before subtracting.
            same = tf.debugging.assert_equal(tf.shape(activations)[1:], tf.shape(target)[1:],
                                             message=message.format("another shape"))
            with tf.control_dependencies([same]):
                activations = tf.identity(activations)
        return activations, target

    def value(self, features: Features) -> tf.Tensor:
        """[batch]: -||a - t||^2 / ||t||^2 (normalize) or -mean((a - t)^2)."""
        return -squared_distance(*self._pair(features), normalize=self.normalize)


def gram_matrix(activations: tf.Tensor) -> tf.Tensor:
    """Channel correlations averaged over positions: [batch, h, w, c] -> [batch, c, c]."""
    activations = tf.cast(activations, tf.float32)
    flat = tf.reshape(activations, [tf.shape(activations)[0], -1, activations.shape[-1]])
    positions = tf.cast(tf.shape(flat)[1], tf.float32)
    return tf.matmul(flat, flat, transpose_a=True) / positions


def channel_moments(activations: tf.Tensor) -> tf.Tensor:
    """Per-channel mean and standard deviation over positions: [batch, h, w, c] -> [batch, 2, c]."""
    mean, variance = tf.nn.moments(tf.cast(activations, tf.float32), axes=[1, 2])
    # The epsilon keeps the square root differentiable for constant channels.
    return tf.stack([mean, tf.sqrt(variance + 1e-8)], axis=1)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class StyleMatch(_TargetImage):
    """Minus the distance between the channel statistics of layers and a target image's.

    The statistics ignore where things are, so the target's textures and colours are
    reproduced anywhere in the image (the style term of style transfer). Each layer's distance
    is relative to the target's (||S - S_t||^2 / ||S_t||^2) and the layers are averaged, so that
    every layer counts equally whatever its scale.

    Attributes:
        layers: names of layers with a spatial output [batch, height, width, channels].
        image: the target (style) image: a file path or an array, as for `ActivationMatch`.
        kind: "gram" (Gram matrices of the channels, Gatys et al.) or "moments" (per-channel
            mean and standard deviation, the simpler profile of adaptive instance norm).
    """

    # Defaults only so that these fields shadow `Objective.layers` (a read-only property);
    # both are required, and __post_init__ refuses them empty.
    layers: Sequence[str] = ()
    image: ImageSource | None = None
    kind: str = "gram"
    batch: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.layers, str) or not self.layers or not all(
            isinstance(layer, str) for layer in self.layers
        ):
            raise ValueError(f"StyleMatch needs a list of layer names, got {self.layers!r}")
        object.__setattr__(self, "layers", tuple(self.layers))
        _check_source(self.image, "StyleMatch")
        if self.kind not in _STYLE_KINDS:
            raise ValueError(f"StyleMatch kind must be one of {_STYLE_KINDS}, got {self.kind!r}")

    @property
    def name(self) -> str:
        return f"StyleMatch[{self.kind}:{','.join(self.layers)}~{describe_image(self.image)}]"

    def check(self, model: VisModel) -> None:
        for layer in self.layers:
            shape = model.output_shape(layer) if layer != LOGITS else ()
            if len(shape) != 4:
                raise ValueError(
                    f"StyleMatch needs layers with a spatial output [batch, height, width, "
                    f"channels]; {layer!r} has output shape {shape}"
                )
        super().check(model)

    def statistics(self, activations: tf.Tensor) -> tf.Tensor:
        """[batch, h, w, c] -> this kind's statistics, [batch, c, c] or [batch, 2, c]."""
        return gram_matrix(activations) if self.kind == "gram" else channel_moments(activations)

    def distance(self, features: Features) -> tf.Tensor:
        """[batch]: the mean over layers of ||S - S_t||^2 / ||S_t||^2."""
        targets = self.targets(features)
        distances = [
            squared_distance(self.statistics(features[layer]), self.statistics(targets[layer]))
            for layer in self.layers
        ]
        return tf.add_n(distances) / len(distances)

    def value(self, features: Features) -> tf.Tensor:
        return -self.distance(features)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class LayerActivation(LayerObjective):
    """How strongly a whole layer responds: what DeepDream ascends, starting from a photograph.

    Attributes:
        layer: layer name.
        statistic: "mean" (the mean activation over positions and channels, as in the
            TensorFlow DeepDream tutorial) or "l2" (the root mean square: the original
            DeepDream's L2 norm, divided by the square root of the number of activations so
            that its scale does not depend on the layer's size).
    """

    layer: str
    statistic: str = "mean"
    batch: int | None = None

    def __post_init__(self) -> None:
        if self.statistic not in _STATISTICS:
            raise ValueError(
                f"LayerActivation statistic must be one of {_STATISTICS}, got {self.statistic!r}"
            )

    @property
    def name(self) -> str:
        return f"LayerActivation[{self.layer}:{self.statistic}]"

    def value(self, features: Features) -> tf.Tensor:
        activations = tf.cast(features[self.layer], tf.float32)
        axes = list(range(1, activations.shape.rank))
        if self.statistic == "mean":
            return tf.reduce_mean(activations, axis=axes)
        return tf.sqrt(tf.reduce_mean(tf.square(activations), axis=axes) + _EPS)


# The floor on the cosine of `ActivationDot`, as in `Direction`: a negative cosine raised to a
# fractional power is undefined, and a zero weight would stop the gradient.
_MIN_COSINE = 0.1


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True, eq=False)
class ActivationDot(_TargetImage, LayerObjective):
    """The dot product of a layer's activations with a target image's, times their cosine^p.

    Lucid's `dot_compare(layer, cossim_pow)`, the objective of its caricature recipe
    (`lucid/recipes/caricature.py`): unlike `ActivationMatch`, which asks for the same
    activations, this rewards activations *along* the target's, and larger: maximising it
    exaggerates what the layer sees in the target. The dot product is divided by the target's
    squared norm (1 for an exact copy), so its scale does not depend on the layer.

    Attributes:
        layer: layer name.
        image: the target: a file path, or an array [height, width, channels].
        cosine_power: the exponent of max(cosine, 0.1); 0 is the plain dot product, 1 the
            dot product times cosine of the caricature recipe.
    """

    layer: str
    image: ImageSource
    cosine_power: float = 1.0
    batch: int | None = None

    def __post_init__(self) -> None:
        _check_source(self.image, "ActivationDot")
        power = self.cosine_power
        if isinstance(power, bool) or not isinstance(power, (int, float)) or power < 0:
            raise ValueError(f"ActivationDot cosine_power must be a number >= 0, got {power!r}")

    @property
    def name(self) -> str:
        return f"ActivationDot[{self.layer}~{describe_image(self.image)}]"

    def value(self, features: Features) -> tf.Tensor:
        """[batch]: (a . t / ||t||^2) * max(cos(a, t), 0.1) ** cosine_power, over all positions."""
        activations = tf.cast(features[self.layer], tf.float32)
        target = self.targets(features)[self.layer]
        if activations.shape[1:].is_fully_defined() and activations.shape[1:] != target.shape[1:]:
            raise ValueError(
                f"ActivationDot compares position by position, but layer {self.layer!r} gives "
                f"{tuple(activations.shape[1:])} for the rendered images and "
                f"{tuple(target.shape[1:])} for the target; render at the model's input size"
            )
        flat = tf.reshape(activations, [tf.shape(activations)[0], -1])
        reference = tf.reshape(target, [1, -1])
        dot = tf.reduce_sum(flat * reference, axis=1)
        value = dot / (tf.reduce_sum(tf.square(reference)) + _EPS)
        if self.cosine_power:
            cosine = dot / (tf.norm(flat, axis=1) * tf.norm(reference) + _EPS)
            value = value * tf.maximum(cosine, _MIN_COSINE) ** self.cosine_power
        return value
