"""Transforms: differentiable image-to-image functions the visualization must survive.

Contract: `transform(images, seed) -> images`, with `images` [batch, height, width, channels]
float32 in [0, 1] and `seed` a [2] int32 tensor. Stochastic transforms (named `Random*`, plus
`Jitter`) draw from stateless random ops seeded by `seed`, so a run is reproducible and the
compiled step never retraces; deterministic ones ignore `seed`. Output sizes may differ from
input sizes (jitter crops, scaling resizes): the loop resizes to the model's input at the end.

Transforms are immutable and do their TensorFlow work only when called; constant kernels are
computed once, at trace time. `compose` chains a list, splitting the seed between the members.
A transform whose class sets `uses_progress = True` (`RandomCrop`, `CentreWindow`) is also given
the run's progress, a float32 scalar in [0, 1) (step / steps), as a third argument: the loop
passes it, and `apply` calls any transform with it.
`CompositeRandomBackground` turns the RGBA images of `Transparent` into RGB the model can read.
The same deterministic transforms (`GaussianBlur`, `Zoom`) also serve as *between-step*
operations through the `ScheduledTransform` callback.

`RandomBlur` blurs each image by its own random sigma.

Geometric transforms (`Jitter`, `Resize`, `RandomScale`, `RandomRotate`, `RandomAffine`, `Zoom`)
also describe themselves, `resampling(batch, size, seed) -> Resampling`, as which input point
each output pixel reads (drawing the same random values as their call). `compose`
uses that to fuse: a resample that fills outside its input (an affine, a rotation) followed by
maps that read only inside theirs (crops, resizes) is one bilinear resample of the composed map,
instead of one interpolation per member. Fusing changes only where the composed version
interpolates twice (an affine followed by a resize: one bilinear sample instead of two, within
the smoothing of one bilinear kernel); crops are integer shifts, so an affine followed only by
crops gives the same images to float rounding.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import ClassVar

import gin
import numpy as np
import tensorflow as tf

Transform = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


@dataclasses.dataclass(frozen=True)
class Resampling:
    """A geometric transform as one bilinear resample: output pixel (x, y) reads input M (x, y, 1).

    Coordinates are pixel indices (pixel centres at integers), as `ImageProjectiveTransformV3`
    uses them.

    Attributes:
        size: the output (height, width), int32 [2].
        matrix: float32 [batch or 1, 3, 3], output pixel -> input pixel, affine (last row 0 0 1).
        fill_mode: how points outside the input are read: "reflect", "constant", "nearest" or
            "wrap"; None for maps that read only inside their input (crops, resizes), which
            `compose` folds into a preceding resample without changing what it fills.
        fill_value: the value of "constant" fill.
        exact_gradient: back-propagate through the resample's own transpose (`_transpose`)
            instead of TensorFlow's registered gradient, which resamples the incoming
            gradient with the inverse map: that is the transpose only for rigid maps (under a
            zoom into the image it reads the gradient at fewer points than the image has
            pixels). The transpose spreads each output pixel's gradient over the four input
            pixels it read, with the same weights. On two ImageNet networks it left the class
            images and their grain as they were (experiments/README_quality.md).
    """

    size: tf.Tensor
    matrix: tf.Tensor
    fill_mode: str | None = None
    fill_value: float = 0.0
    exact_gradient: bool = False

    def then(self, after: Resampling) -> Resampling:
        """This resample followed by `after`, an inside-only map of this one's output."""
        if after.fill_mode is not None:
            raise ValueError(f"only inside-only maps (fill_mode None) fold into a resample, got "
                             f"fill_mode={after.fill_mode!r}")
        return dataclasses.replace(self, size=after.size, matrix=tf.matmul(self.matrix, after.matrix))

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        """images [batch, height, width, channels] -> [batch, *size, channels], bilinear."""
        if not self.exact_gradient:
            return self._resample(images)

        @tf.custom_gradient
        def resample(images: tf.Tensor) -> tuple[tf.Tensor, Callable]:
            return self._resample(images), lambda grad: self._transpose(grad, tf.shape(images))

        return resample(images)

    @property
    def _mode(self) -> str:
        return self.fill_mode or "reflect"

    def _resample(self, images: tf.Tensor) -> tf.Tensor:
        batch = tf.shape(images)[0]
        flat = tf.reshape(self.matrix, [-1, 9])[:, :8]
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images, transforms=tf.broadcast_to(flat, [batch, 8]), output_shape=self.size,
            fill_value=float(self.fill_value), interpolation="BILINEAR", fill_mode=self._mode.upper(),
        )

    def _transpose(self, grad: tf.Tensor, input_shape: tf.Tensor) -> tf.Tensor:
        """The transpose of the resample applied to `grad` [batch, *size, channels].

        The resample's output pixel reads its input point's four neighbours, with bilinear
        weights, after `ImageProjectiveTransformV3` maps the point inside the image by the fill
        mode; the transpose adds the output's gradient, with the same weights, to those pixels.
        Constant fill reads no pixel, so it passes no gradient back.
        """
        batch, height, width, channels = tf.unstack(input_shape)
        ys, xs = tf.meshgrid(tf.range(self.size[0]), tf.range(self.size[1]), indexing="ij")
        pixels = tf.stack([tf.cast(xs, tf.float32), tf.cast(ys, tf.float32),
                           tf.ones_like(xs, tf.float32)], axis=-1)  # [h, w, 3]
        matrix = tf.broadcast_to(self.matrix, [batch, 3, 3])
        points = tf.einsum("bij,hwj->bhwi", matrix, pixels)
        x = _map_coordinate(points[..., 0] / points[..., 2], width, self._mode)
        y = _map_coordinate(points[..., 1] / points[..., 2], height, self._mode)
        x0, y0 = tf.floor(x), tf.floor(y)
        base = tf.range(batch)[:, None, None] * height * width
        indices, weights = [], []  # of the four neighbours, each [b, h, w]
        for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
            ny, nx = y0 + dy, x0 + dx
            inside = (ny >= 0) & (ny < tf.cast(height, tf.float32)) & (nx >= 0) & (
                nx < tf.cast(width, tf.float32))
            index = base + tf.cast(ny, tf.int32) * width + tf.cast(nx, tf.int32)
            indices.append(tf.where(inside, index, 0))
            weights.append(tf.where(inside, (1.0 - tf.abs(y - ny)) * (1.0 - tf.abs(x - nx)), 0.0))
        indices = tf.reshape(tf.stack(indices, axis=-1), [-1])
        weights = tf.stack(weights, axis=-1)  # [b, h, w, 4]
        contributions = tf.reshape(weights[..., None] * grad[:, :, :, None, :], [-1, channels])
        total = tf.math.unsorted_segment_sum(contributions, indices, batch * height * width)
        return tf.reshape(total, input_shape)


def _map_coordinate(coord: tf.Tensor, length: tf.Tensor, mode: str) -> tf.Tensor:
    """A sampled coordinate moved inside [0, length - 1] as `ImageProjectiveTransformV3` does.

    The kernel's `MapCoordinate` (tensorflow/core/kernels/image/image_ops.h), branch by branch:
    "reflect" mirrors about the outer edges of the end pixels (d c b a | a b c d | d c b a),
    "wrap" shifts by whole image lengths, "nearest" clamps; "constant" leaves the coordinate
    (reads outside are the fill value).
    """
    if mode == "constant":
        return coord
    size = tf.cast(length, tf.float32)
    last = size - 1.0
    if mode == "reflect":
        double = 2.0 * size
        below = tf.where(coord < -double, double * tf.math.floor(-coord / double) + coord, coord)
        below = tf.where(below < -size, below + double, -below - 1.0)
        above = coord - double * tf.math.floor(coord / double)
        above = tf.where(above >= size, double - above - 1.0, above)
        coord = tf.where(coord < 0, below, tf.where(coord > last, above, coord))
    elif mode == "wrap":
        period = tf.maximum(last, 1.0)
        below = coord + size * (tf.math.floor(-coord / period) + 1.0)
        above = coord - size * tf.math.floor(coord / period)
        coord = tf.where(coord < 0, below, tf.where(coord > last, above, coord))
    coord = tf.where(length <= 1, tf.zeros_like(coord), coord)
    return tf.clip_by_value(coord, 0.0, last)


def _affine(*entries: tf.Tensor | float) -> tf.Tensor:
    """[n, 3, 3] matrices (a b c; d e f; 0 0 1) from six entries, scalars or [n] tensors."""
    flat = [tf.reshape(tf.cast(entry, tf.float32), [-1]) for entry in entries]
    zeros = tf.zeros_like(functools.reduce(tf.add, flat))  # [n] (or [1]), broadcasting the entries
    rows = [entry + zeros for entry in flat] + [zeros, zeros, zeros + 1.0]
    return tf.reshape(tf.stack(rows, axis=1), [-1, 3, 3])


def apply(transform: Transform, images: tf.Tensor, seed: tf.Tensor,
          progress: tf.Tensor | None = None) -> tf.Tensor:
    """`transform(images, seed)`, with the run's `progress` for a member that `uses_progress`.

    Raises:
        ValueError: the transform changes over the run and `progress` is None.
    """
    if not getattr(transform, "uses_progress", False):
        return transform(images, seed)
    if progress is None:
        raise ValueError(f"{transform!r} changes over the run and needs its progress; it runs "
                         f"inside a Visualizer, which passes it")
    return transform(images, seed, progress)


def compose(transforms: Sequence[Transform]) -> Transform:
    """Chains transforms left to right; each receives its own seed derived from the step's seed.

    Consecutive geometric members are fused where that needs no second interpolation of the
    fill (see the module docstring): a member with a `resampling` that fills outside its input
    starts a pending resample, inside-only maps after it fold into that one, and anything else
    applies it first. The seeds and random draws are those of the members applied one by one.

    Raises:
        TypeError: an element is not callable (a common gin mistake is a missing `()` after an
            `@Name` reference, which passes the class instead of an instance).
    """
    transforms = tuple(transforms)
    for i, transform in enumerate(transforms):
        if isinstance(transform, type) or not callable(transform):
            raise TypeError(
                f"transform {i} is {transform!r}, not a transform instance; in gin write "
                f"@{getattr(transform, '__name__', 'Name')}() with parentheses"
            )

    def composed(images: tf.Tensor, seed: tf.Tensor, progress: tf.Tensor | None = None) -> tf.Tensor:
        if not transforms:
            return images
        seeds = tf.random.experimental.stateless_split(seed, num=len(transforms))
        pending: Resampling | None = None  # applied to `images` when something cannot fold in
        for i, transform in enumerate(transforms):
            describe = getattr(transform, "resampling", None)
            if describe is None:
                images, pending = (pending(images) if pending else images), None
                images = apply(transform, images, seeds[i], progress)
                continue
            size = pending.size if pending else tf.shape(images)[1:3]
            resampling = describe(tf.shape(images)[0], size, seeds[i])
            if pending and resampling.fill_mode is None:
                pending = pending.then(resampling)
            elif resampling.fill_mode is None:
                # Inside-only with nothing to fold into: its own exact op (a slice, a resize).
                images = transform(images, seeds[i])
            else:
                images, pending = (pending(images) if pending else images), resampling
        return pending(images) if pending else images

    return composed


def _random_choice(values: Sequence[float], seed: tf.Tensor) -> tf.Tensor:
    index = tf.random.stateless_uniform([], seed=seed, maxval=len(values), dtype=tf.int32)
    return tf.gather(tf.constant(values, tf.float32), index)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class Jitter:
    """Random translation: crops the image by up to `pixels` at a random offset.

    The output is `pixels` smaller in each dimension (Lucid's jitter).
    """

    pixels: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.pixels, int) or self.pixels < 0:
            raise ValueError(f"Jitter pixels must be a non-negative int, got {self.pixels!r}")

    def _offset(self, seed: tf.Tensor) -> tf.Tensor:
        """(row, column) of the crop, int32 [2]."""
        return tf.random.stateless_uniform([2], seed=seed, maxval=self.pixels + 1, dtype=tf.int32)

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        if self.pixels == 0:
            return images
        size = tf.shape(images)[1:3] - self.pixels
        offset = self._offset(seed)
        return tf.slice(images, [0, offset[0], offset[1], 0], [-1, size[0], size[1], -1])

    def resampling(self, batch: tf.Tensor, size: tf.Tensor, seed: tf.Tensor) -> Resampling:
        """The crop as an integer shift of `batch` images of `size` (height, width)."""
        if self.pixels == 0:
            return Resampling(size, _affine(1, 0, 0, 0, 1, 0))
        offset = self._offset(seed)
        return Resampling(size - self.pixels, _affine(1, 0, offset[1], 0, 1, offset[0]))


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class Pad:
    """Pads the image by `pixels` on every side, so that the borders are not special.

    Attributes:
        mode: "constant" (filled with `value`), "reflect" or "symmetric".
        value: fill value for "constant" (0.5: mid-grey).
    """

    pixels: int = 12
    mode: str = "constant"
    value: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in ("constant", "reflect", "symmetric"):
            raise ValueError(f"Pad mode must be constant, reflect or symmetric, got {self.mode!r}")

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        p = self.pixels
        return tf.pad(images, [[0, 0], [p, p], [p, p], [0, 0]], mode=self.mode.upper(),
                      constant_values=self.value)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class RandomScale:
    """Resizes the image by a factor drawn uniformly from `scales` (bilinear)."""

    scales: Sequence[float] = (0.9, 0.95, 1.0, 1.05, 1.1)

    def __post_init__(self) -> None:
        if not self.scales or min(self.scales) <= 0:
            raise ValueError(f"RandomScale scales must be positive, got {self.scales!r}")

    def _size(self, size: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        scale = _random_choice(tuple(self.scales), seed)
        return tf.cast(tf.round(tf.cast(size, tf.float32) * scale), tf.int32)

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        return tf.image.resize(images, self._size(tf.shape(images)[1:3], seed), method="bilinear")

    def resampling(self, batch: tf.Tensor, size: tf.Tensor, seed: tf.Tensor) -> Resampling:
        """The resize of `batch` images of `size` (height, width) as a coordinate map."""
        return _resize_map(size, self._size(size, seed))


def _resize_map(size: tf.Tensor, output: tf.Tensor) -> Resampling:
    """Bilinear resize from `size` to `output` (half-pixel centres, as `tf.image.resize`)."""
    ratio = tf.cast(size, tf.float32) / tf.cast(output, tf.float32)  # (y, x) input per output pixel
    return Resampling(output, _affine(ratio[1], 0, 0.5 * ratio[1] - 0.5, 0, ratio[0], 0.5 * ratio[0] - 0.5))


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class Resize:
    """Bilinear resize to a fixed size (deterministic); the loop's resize to the model's input.

    Attributes:
        size: (height, width); None keeps that dimension of the input.
    """

    size: tuple[int | None, int | None] = (224, 224)

    def __post_init__(self) -> None:
        if len(self.size) != 2 or not all(s is None or (isinstance(s, int) and s > 0) for s in self.size):
            raise ValueError(f"Resize size must be (height, width) of positive ints or None, got {self.size!r}")

    def _output(self, size: tf.Tensor) -> tf.Tensor:
        return tf.stack([size[axis] if length is None else length for axis, length in enumerate(self.size)])

    def __call__(self, images: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        """images [batch, height, width, channels] -> [batch, *size, channels]."""
        if all(length is None or length == images.shape[1 + axis] for axis, length in enumerate(self.size)):
            return images
        return tf.image.resize(images, self._output(tf.shape(images)[1:3]), method="bilinear")

    def resampling(self, batch: tf.Tensor, size: tf.Tensor, seed: tf.Tensor | None = None) -> Resampling:
        """The resize of `batch` images of `size` (height, width) as a coordinate map."""
        return _resize_map(size, self._output(size))


def _centre(size: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(x, y) of the centre of a pixel grid of `size` (height, width); dynamic, since random
    scaling changes the size."""
    size = tf.cast(size, tf.float32)
    return (size[1] - 1.0) / 2.0, (size[0] - 1.0) / 2.0


def _about_centre(size: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, shift_x: tf.Tensor = 0.0,
                  shift_y: tf.Tensor = 0.0) -> tf.Tensor:
    """[batch, 3, 3] maps p -> c + A (p - c) + shift, A = (cos -sin; sin cos), c the centre."""
    cx, cy = _centre(size)
    x_offset = cx + shift_x - (cos * cx - sin * cy)
    y_offset = cy + shift_y - (sin * cx + cos * cy)
    return _affine(cos, -sin, x_offset, sin, cos, y_offset)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class RandomRotate:
    """Rotates the image by an angle drawn uniformly from `degrees` (bilinear, reflected borders)."""

    degrees: Sequence[float] = tuple(range(-10, 11))

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        return self.resampling(tf.shape(images)[0], tf.shape(images)[1:3], seed)(images)

    def resampling(self, batch: tf.Tensor, size: tf.Tensor, seed: tf.Tensor) -> Resampling:
        """The rotation of `batch` images of `size` (height, width) about their centre (one
        angle for the batch)."""
        angle = _random_choice(tuple(self.degrees), seed) * (math.pi / 180.0)
        return Resampling(size, _about_centre(size, tf.cos(angle), tf.sin(angle)), "reflect")


def gaussian_kernel(sigma: float, radius: int | None = None) -> np.ndarray:
    """A normalised 1-D Gaussian, [2 * radius + 1], radius 3 sigma by default."""
    radius = max(1, int(math.ceil(3 * sigma))) if radius is None else radius
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return (kernel / kernel.sum()).astype(np.float32)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class GaussianBlur:
    """Separable Gaussian blur with reflected borders (deterministic).

    Attributes:
        sigma: standard deviation in pixels; 0 leaves the image unchanged.
    """

    sigma: float = 1.0

    def __post_init__(self) -> None:
        if self.sigma < 0:
            raise ValueError(f"GaussianBlur sigma must be >= 0, got {self.sigma!r}")

    def __call__(self, images: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        if self.sigma == 0:
            return images
        kernel = gaussian_kernel(self.sigma)
        radius = len(kernel) // 2
        channels = images.shape[-1]
        padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
        column = np.tile(kernel[:, None, None, None], (1, 1, channels, 1))
        row = np.tile(kernel[None, :, None, None], (1, 1, channels, 1))
        blurred = tf.nn.depthwise_conv2d(padded, column, [1, 1, 1, 1], "VALID")
        return tf.nn.depthwise_conv2d(blurred, row, [1, 1, 1, 1], "VALID")


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class RandomBlur:
    """Gaussian blur with a standard deviation drawn per image, uniformly from `sigmas`.

    Inside the step, a random blur removes the evidence a network could read from detail finer
    than the blur: what survives it (outlines, parts, object shape) is what the image keeps
    when the optimization can no longer rely on fine texture. xplique's standard
    transformations (`features_visualizations/transformations.py`, `random_blur`) blur with one
    sigma for the batch; here each image draws its own. Separable, with reflected borders; the
    kernel's radius is three times the largest sigma.

    Attributes:
        sigmas: (low, high) standard deviations in pixels, 0 <= low <= high; 0 leaves an image
            unchanged.
    """

    sigmas: tuple[float, float] = (0.5, 1.0)

    def __post_init__(self) -> None:
        sigmas = self.sigmas
        if (isinstance(sigmas, (str, bytes)) or not isinstance(sigmas, Sequence) or len(sigmas) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sigmas)
                or not 0 <= sigmas[0] <= sigmas[1]):
            raise ValueError(f"RandomBlur sigmas must be a (low, high) pair with 0 <= low <= high "
                             f"(pixels), got {sigmas!r}")

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """images [batch, height, width, channels] -> the same shape, each blurred by its sigma."""
        low, high = (float(v) for v in self.sigmas)
        if high == 0:
            return images
        return blur_each(images, _uniform(low, high, tf.shape(images)[0], seed), high)


def blur_each(images: tf.Tensor, sigma: tf.Tensor, largest: float) -> tf.Tensor:
    """images [batch, height, width, channels] -> the same shape, image i blurred by `sigma[i]`.

    Gaussian, separable, with reflected borders; `largest` (pixels, a Python float) bounds every
    sigma and sets the kernel's radius (three times it). A sigma of 0 leaves its image unchanged.
    """
    radius = max(1, int(math.ceil(3 * largest)))
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    # A sigma of 0 is the identity: all weight on the centre tap (the floor keeps exp finite).
    weights = tf.exp(-0.5 * (offsets[None, :] / tf.maximum(sigma, 1e-3)[:, None]) ** 2)
    weights /= tf.reduce_sum(weights, axis=1, keepdims=True)  # [batch, 2 radius + 1]
    # Each axis's blur as one batched matrix product with a banded matrix per image (row v
    # holds the kernel at columns v..v + 2 radius of the reflect-padded axis): matrix
    # products and their gradients are fast on CPU, where depthwise convolutions' input
    # gradients made this blur cost most of a MobileNet step. Plain matrix products on
    # reshaped images, the blurred axis first, rather than einsums: at batch 16 oneDNN's
    # einsum took 35 ms forward and backward at 224 px against these 22 ms.
    taps = 2 * radius

    def band(n: tf.Tensor) -> tf.Tensor:
        offset = tf.range(n + taps)[None, :] - tf.range(n)[:, None]  # [n, n + taps]
        matrix = tf.gather(weights, tf.clip_by_value(offset, 0, taps), axis=1)
        return tf.where(((offset >= 0) & (offset <= taps))[None], matrix, 0.0)

    batch, height, width, channels = tf.unstack(tf.shape(images))
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    columns = tf.matmul(band(height), tf.reshape(padded, [batch, height + taps, -1]))
    # [batch, padded width, height, channels]: the width axis first for its product.
    columns = tf.transpose(tf.reshape(columns, [batch, height, width + taps, channels]), [0, 2, 1, 3])
    rows = tf.matmul(band(width), tf.reshape(columns, [batch, width + taps, -1]))
    return tf.transpose(tf.reshape(rows, [batch, width, height, channels]), [0, 2, 1, 3])


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class Zoom:
    """Upscales by `factor` (bilinear) and centre-crops back to the original size (deterministic).

    Between steps this is the seed method's progressive zoom: applied every round, structures
    grow and the optimization fills in new detail at the scale the network prefers.
    """

    factor: float = 1.01

    def __post_init__(self) -> None:
        if self.factor < 1:
            raise ValueError(f"Zoom factor must be >= 1 (it zooms in), got {self.factor!r}")

    def __call__(self, images: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        # A centred affine resample rather than resize-and-crop: the zoom is exactly `factor`
        # at any image size (resizing would round 1.01 x 64 pixels to a 1.6% zoom).
        return self.resampling(tf.shape(images)[0], tf.shape(images)[1:3])(images)

    def resampling(self, batch: tf.Tensor, size: tf.Tensor, seed: tf.Tensor | None = None) -> Resampling:
        """The zoom of `batch` images of `size` (height, width) about their centre."""
        scale = tf.constant(1.0 / self.factor)
        return Resampling(size, _about_centre(size, scale, tf.constant(0.0)), "reflect")


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class Downscale:
    """Downscales by `factor` (area average) and scales back up to the input size (bilinear).

    Detail finer than about `factor` pixels is lost; what survives is the image's coarse
    structure. Deterministic; used as a perturbation by `featviz.evaluate`.
    """

    factor: float = 2.0

    def __post_init__(self) -> None:
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)) or self.factor < 1:
            raise ValueError(f"Downscale factor must be a number >= 1, got {self.factor!r}")

    def __call__(self, images: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        """images [batch, height, width, channels] -> the same shape, coarser."""
        size = tf.shape(images)[1:3]
        small = tf.maximum(tf.cast(tf.round(tf.cast(size, tf.float32) / self.factor), tf.int32), 1)
        reduced = tf.image.resize(images, small, method="area")
        return tf.image.resize(reduced, size, method="bilinear")


@gin.register(module="featviz")
def standard_transforms(jitter: int = 8, scales: Sequence[float] | None = None,
                        degrees: Sequence[float] | None = None, pad: int = 12) -> list[Transform]:
    """Lucid's transformation-robustness set: pad, jitter, random scale, random rotation, jitter.

    Sizes are in pixels of a 224-pixel image; scale them down for smaller renders.
    """
    scales = [1 + (i - 5) / 50.0 for i in range(11)] if scales is None else scales
    degrees = list(range(-10, 11)) + 5 * [0] if degrees is None else degrees
    return [Pad(pad), Jitter(jitter), RandomScale(tuple(scales)), RandomRotate(tuple(degrees)),
            Jitter(max(1, jitter // 2))]


def _uniform(low: float, high: float, batch: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """[batch] values drawn uniformly from [low, high] (exactly `low` when the range is empty)."""
    return low + (high - low) * tf.random.stateless_uniform([batch], seed=seed)


def _check_range(name: str, value: Sequence[float], minimum: float | None = None) -> None:
    if (isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            or value[0] > value[1] or (minimum is not None and value[0] <= minimum)):
        bound = "" if minimum is None else f" with low > {minimum:g}"
        raise ValueError(f"RandomAffine {name} must be a (low, high) pair, low <= high{bound}; "
                         f"got {value!r}")


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class RandomAffine:
    """Per-image random zoom, rotation and shift, as one bilinear resample of the same size.

    Each image of the batch gets its own zoom factor, angle and shift, drawn uniformly from the
    ranges. Unlike `RandomScale`, whose resize the loop's final resize to the model's input
    undoes for fixed-size models, a zoom here changes how large the content appears to the
    model: factors above 1 show a central crop of 1/factor of the image, factors below 1 show the
    whole image smaller, surrounded by the fill. All sizes are relative to the image, so one
    configuration serves every image size.

    Attributes:
        scales: (low, high) zoom factors, > 0.
        degrees: (low, high) rotation angles in degrees.
        translate: the largest shift of the viewed window, as a fraction of the image's height
            and width (drawn independently per axis from [-translate, translate]).
        fill_mode: what is shown outside the image: "reflect", "constant", "nearest" or "wrap".
        fill_value: the grey level of "constant" fill, in [0, 1].
        exact_gradient: back-propagate through the resample's transpose
            (`Resampling.exact_gradient`), also for the crops and resizes fused into it.
    """

    scales: tuple[float, float] = (1.0, 1.0)
    degrees: tuple[float, float] = (0.0, 0.0)
    translate: float = 0.0
    fill_mode: str = "reflect"
    fill_value: float = 0.5
    exact_gradient: bool = False

    def __post_init__(self) -> None:
        _check_range("scales", self.scales, minimum=0.0)
        _check_range("degrees", self.degrees)
        if isinstance(self.translate, bool) or not isinstance(self.translate, (int, float)) or not (
            0 <= self.translate < 1
        ):
            raise ValueError(f"RandomAffine translate must be in [0, 1), got {self.translate!r}")
        if self.fill_mode not in ("reflect", "constant", "nearest", "wrap"):
            raise ValueError(f"RandomAffine fill_mode must be reflect, constant, nearest or wrap, "
                             f"got {self.fill_mode!r}")

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        return self.resampling(tf.shape(images)[0], tf.shape(images)[1:3], seed)(images)

    def resampling(self, batch: tf.Tensor, size: tf.Tensor, seed: tf.Tensor) -> Resampling:
        """The per-image zoom, rotation and shift of `batch` images of `size` (height, width)."""
        extent = tf.cast(size, tf.float32)
        seeds = tf.random.experimental.stateless_split(seed, num=4)
        scale = _uniform(*self.scales, batch, seeds[0])
        angle = _uniform(*self.degrees, batch, seeds[1]) * (math.pi / 180.0)
        shift_x = _uniform(-self.translate, self.translate, batch, seeds[2]) * extent[1]
        shift_y = _uniform(-self.translate, self.translate, batch, seeds[3]) * extent[0]
        # Each output pixel p reads the input point c + A (p - c) + shift, with A = rotation /
        # scale about the centre c: content appears `scale` times larger.
        matrix = _about_centre(size, tf.cos(angle) / scale, tf.sin(angle) / scale, shift_x, shift_y)
        return Resampling(size, matrix, self.fill_mode, float(self.fill_value), self.exact_gradient)


# Lucid's `collapse_alpha_random(sd=0.5)` (optvis/transform.py) composites over
# `param.image_sample(shape, sd=0.5)`: a random decorrelated 1/f-spectrum image. The same here,
# with the spectrum's standard deviation `sd` and Lucid's division by 4 before the sigmoid.
_BACKGROUND_SD = 0.5


def _noise_background(shape: tf.Tensor, seed: tf.Tensor, sd: float) -> tf.Tensor:
    """Random 1/f-spectrum images in [0, 1], [batch, height, width, channels] of `shape`."""
    batch, height, width, channels = tf.unstack(shape)
    # |frequency| in cycles per image, in the layout of rfft2d's output.
    fy = tf.cast(tf.minimum(tf.range(height), height - tf.range(height)), tf.float32)
    fx = tf.cast(tf.range(width // 2 + 1), tf.float32)
    hw = tf.cast(tf.stack([height, width]), tf.float32)
    freqs = tf.sqrt((fy[:, None] / hw[0]) ** 2 + (fx[None, :] / hw[1]) ** 2)
    scale = 1.0 / tf.maximum(freqs, 1.0 / tf.reduce_max(hw)) * tf.sqrt(hw[0] * hw[1])
    spectrum_shape = tf.stack([batch, channels, height, width // 2 + 1, 2])
    raw = tf.random.stateless_normal(spectrum_shape, seed=seed, stddev=sd)
    spectrum = tf.complex(raw[..., 0], raw[..., 1]) * tf.cast(scale, tf.complex64)
    planes = tf.signal.irfft2d(spectrum, fft_length=tf.stack([height, width]))
    return tf.sigmoid(tf.transpose(planes, [0, 2, 3, 1]) / 4.0)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class CompositeRandomBackground:
    """Composites RGBA images over a new random background every step: rgb * a + bg * (1 - a).

    Lucid's `collapse_alpha_random`: since the background changes every step, only opaque
    pixels carry evidence the model can rely on, so a transparent visualization keeps opaque
    only what matters. Put it first in the transform list (before padding and jitter), with a
    parameterization that makes an alpha channel (`Transparent`).

    Attributes:
        sd: the random background spectrum's standard deviation (Lucid: 0.5); 0 composites
            over mid-grey.
    """

    sd: float = _BACKGROUND_SD

    def __post_init__(self) -> None:
        if isinstance(self.sd, bool) or not isinstance(self.sd, (int, float)) or self.sd < 0:
            raise ValueError(f"CompositeRandomBackground sd must be a number >= 0, got {self.sd!r}")

    def __call__(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """images [batch, h, w, channels + 1] (opacity last) -> [batch, h, w, channels]."""
        if images.shape[-1] not in (2, 4):
            raise ValueError(
                f"CompositeRandomBackground needs images with an alpha channel (2 or 4 "
                f"channels, e.g. from the Transparent parameterization), got "
                f"{images.shape[-1]} channels"
            )
        color, alpha = images[..., :-1], images[..., -1:]
        background = _noise_background(tf.shape(color), seed, float(self.sd))
        return color * alpha + background * (1.0 - alpha)


# MACO's crops (xplique `maco`, Fel et al. 2023): box sides drawn around a mean that decays
# linearly from half the image to 5% of it, with standard deviation 0.05, clipped to at least
# 0.05; box centres drawn around the image's centre with standard deviation 0.15.
_CROP_SIZE_STD = 0.05
_CROP_CENTRE_STD = 0.15
_CROP_MIN = 0.05


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class CentreWindow:
    """Mid-grey outside a centred window that grows from `first` of the image to all of it.

    Centre-biased optimization (Nguyen, Yosinski & Clune 2016, "Multifaceted Feature
    Visualization", arXiv:1602.03616, its "center-biased regularization", which optimizes a
    small centre patch first and lets it grow): while the network sees only the middle, the
    gradient reaches only the middle, so the optimization draws one object there before it
    fills the rest. Without it, a class image on a deep network (EfficientNet-Lite1) is
    several large fragments side by side (experiments/README_quality.md, "Centre first").
    The window's side, a fraction of each image side, grows linearly with the run's progress
    and covers the whole image, exactly, from `ramp` of the run on; its edge fades to grey
    over `edge` of the side.

    Attributes:
        first: the window's side at the first step, a fraction of the image side in (0, 1].
        ramp: the fraction of the run, in (0, 1], after which the whole image is seen.
        edge: the width of the fade to grey, a fraction of the image side in (0, 0.5).
    """

    first: float = 0.3
    ramp: float = 0.5
    edge: float = 0.02
    uses_progress: ClassVar[bool] = True

    def __post_init__(self) -> None:
        for name, low, high, closed in (("first", 0.0, 1.0, True), ("ramp", 0.0, 1.0, True),
                                        ("edge", 0.0, 0.5, False)):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not low < value <= high or (value == high and not closed)):
                bound = "]" if closed else ")"
                raise ValueError(f"CentreWindow {name} must be a fraction in ({low}, {high}{bound}, "
                                 f"got {value!r}")

    # Plain TensorFlow ops with no Python control flow on tensors, so autograph has nothing to
    # convert; left to it, a first version (with a nested function) failed once inside a long
    # report's compiled step ("tf__axis() takes 1 positional argument but 4 were given").
    @tf.autograph.experimental.do_not_convert
    def mask(self, size: tf.Tensor, progress: tf.Tensor) -> tf.Tensor:
        """[height, width, 1] weights in [0, 1] of the image at `progress`: 1 inside the window."""
        grown = tf.minimum(tf.cast(progress, tf.float32) / self.ramp, 1.0)
        # The half-side, in fractions of the image side, passes 0.5 + edge at the end of the
        # ramp, so that even the border pixels' weight is exactly 1 from then on.
        half = 0.5 * (self.first + (1.0 - self.first) * grown) + self.edge * grown
        rows = _window_weights(size[0], half, self.edge)
        columns = _window_weights(size[1], half, self.edge)
        return rows[:, None, None] * columns[None, :, None]

    @tf.autograph.experimental.do_not_convert
    def __call__(self, images: tf.Tensor, seed: tf.Tensor, progress: tf.Tensor) -> tf.Tensor:
        """images [batch, h, w, c] -> the same shape, mid-grey outside the window."""
        mask = self.mask(tf.shape(images)[1:3], progress)
        return images * mask + 0.5 * (1.0 - mask)


def _window_weights(length: tf.Tensor, half: tf.Tensor, edge: float) -> tf.Tensor:
    """[length] weights along one image axis: 1 within `half` (a fraction of the side) of the
    centre less `edge`, falling linearly to 0 at `half`."""
    centre = (tf.range(length, dtype=tf.float32) + 0.5) / tf.cast(length, tf.float32) - 0.5
    return tf.clip_by_value((half - tf.abs(centre)) / edge, 0.0, 1.0)


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class RandomCrop:
    """A random square crop per image, resized back to the image's size; smaller as the run goes.

    The crop's side, as a fraction of the image's shorter side, is drawn around a mean that
    moves linearly from `sizes[0]` at the first step to `sizes[1]` at the last (MACO: large
    crops first set the global layout, small crops then refine details everywhere). The box is
    kept inside the image.

    Attributes:
        sizes: (first, last) mean crop side, fractions in (0, 1] (xplique's MACO: 0.5 -> 0.05,
            for 512-pixel images; larger for images near the model's input size).
    """

    sizes: tuple[float, float] = (0.5, 0.05)
    uses_progress: ClassVar[bool] = True

    def __post_init__(self) -> None:
        sizes = self.sizes
        if (isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1
                           for v in sizes)):
            raise ValueError(f"RandomCrop sizes must be a (first, last) pair of fractions in "
                             f"(0, 1], got {sizes!r}")

    def __call__(self, images: tf.Tensor, seed: tf.Tensor, progress: tf.Tensor) -> tf.Tensor:
        """images [batch, h, w, c] -> [batch, h, w, c], each a crop of its image, resized."""
        batch = tf.shape(images)[0]
        seeds = tf.random.experimental.stateless_split(seed, num=3)
        first, last = (float(v) for v in self.sizes)
        mean = first + (last - first) * tf.cast(progress, tf.float32)
        side = mean + _CROP_SIZE_STD * tf.random.stateless_normal([batch], seed=seeds[0])
        side = tf.clip_by_value(side, _CROP_MIN, 1.0)
        size = tf.cast(tf.shape(images)[1:3], tf.float32)
        # Square in pixels: the side is a fraction of the shorter image side.
        shorter = tf.reduce_min(size)
        extent = tf.stack([side * shorter / size[0], side * shorter / size[1]], axis=1)  # [b, 2]
        centre = 0.5 + _CROP_CENTRE_STD * tf.random.stateless_normal([batch, 2], seed=seeds[1])
        centre = tf.clip_by_value(centre, extent / 2, 1.0 - extent / 2)
        boxes = tf.concat([centre - extent / 2, centre + extent / 2], axis=1)  # y1, x1, y2, x2
        return tf.image.crop_and_resize(images, boxes, tf.range(batch), tf.shape(images)[1:3])
