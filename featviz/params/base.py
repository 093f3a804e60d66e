"""The parameterization base class and the two spatial ones, `Pixel` and `Fourier`.

A parameterization is an immutable configuration. It creates the initial value of the raw
variable (`initial`), maps the raw variable to images in [0, 1] (`to_images`, differentiable, run
inside every step) and maps images back to the raw variable (`from_images`), which lets
between-step operations (blur, zoom) and initialisation from a photograph work in image space
for every parameterization. The `Visualizer` owns the variable; parameterizations hold no state.

- `Pixel`: one variable per pixel, squashed by a sigmoid (or clipped).
- `Fourier`: the image's 2-D spectrum, scaled by 1/frequency so that gradient steps are
  whitened, optionally in a decorrelated colour space (Olah et al., Feature Visualization,
  Distill 2017), and optionally with each image's contrast and colourfulness fixed
  (`contrast`), so that the optimization chooses what the image shows but not how extreme
  its colours are.

`decorrelated_contrast` measures the statistic `Fourier.contrast` fixes, on any images.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable

import gin
import numpy as np
import tensorflow as tf

from featviz import io as image_io

# Square root of the colour correlation matrix of ImageNet, from its SVD (Lucid's values);
# columns normalised so that the largest has unit norm. Multiplying decorrelated channels by it
# gives correlated RGB, so that optimization steps move along natural colour directions.
_COLOR_CORRELATION_SVD_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
_COLOR_MIX = _COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(_COLOR_CORRELATION_SVD_SQRT, axis=0))
# Keeps logit() finite when images that touch 0 or 1 are mapped back to sigmoid space.
_EPS = 1e-4
_INITS = ("normal", "uniform")


def _size_pair(size: int | tuple[int, int]) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, int) and s >= 8 for s in pair):
        raise ValueError(f"size must be an int or (height, width) of ints >= 8, got {size!r}")
    return pair  # type: ignore[return-value]


def _logit(images: tf.Tensor) -> tf.Tensor:
    images = tf.clip_by_value(images, _EPS, 1.0 - _EPS)
    return tf.math.log(images) - tf.math.log1p(-images)


@tf.custom_gradient
def _as_complex(pairs: tf.Tensor) -> tuple[tf.Tensor, Callable[[tf.Tensor], tf.Tensor]]:
    """float32 [..., 2] (real, imaginary) -> complex64 [...], the same memory read as complex.

    The gradient is the upstream complex gradient read back as (real, imaginary) pairs, which
    is what `tf.complex(pairs[..., 0], pairs[..., 1])` gives, without its slices and copies.
    """
    return tf.bitcast(pairs, tf.complex64), lambda upstream: tf.bitcast(upstream, tf.float32)


def _decorrelate(images: tf.Tensor) -> tf.Tensor:
    """Pre-sigmoid RGB [..., 3] -> decorrelated colour planes [..., 3] (inverse colour mix)."""
    return tf.einsum("...c,cd->...d", images, tf.constant(np.linalg.inv(_COLOR_MIX.T)))


def _mix_planes(planes: tf.Tensor) -> tf.Tensor:
    """Decorrelated colour planes [batch, 3, height, width] -> correlated RGB planes, same shape.

    A [3, 3] @ [3, height * width] product per image: the same sum as an einsum over the colour
    axis, which oneDNN ran 1.5-3x slower forward and backward (0.64 against 0.42 ms at 64 px,
    19.7 against 6.3 ms at 224 px and batch 16).
    """
    shape = tf.shape(planes)
    flat = tf.reshape(planes, [shape[0], 3, -1])
    return tf.reshape(tf.linalg.matmul(tf.constant(_COLOR_MIX)[None], flat), shape)


def decorrelated_contrast(images: np.ndarray | tf.Tensor) -> np.ndarray:
    """Per image, the standard deviation of each decorrelated pre-sigmoid colour plane.

    The statistic `Fourier(contrast=...)` fixes: images are mapped back through the sigmoid
    (logit, with pixels clipped half a grey level inside [0, 1] so that 8-bit black and white
    stay finite) and, for RGB, through the inverse of the decorrelating colour mix. The first
    plane is luminance, the other two colour-opponent planes; for grayscale images the single
    plane is the logit image itself.

    Args:
        images: [batch, height, width, channels] in [0, 1], channels 1 or 3.

    Returns:
        float64 [batch, channels] standard deviations over each image's pixels.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be [batch, height, width, 1 or 3], got shape {images.shape}")
    clipped = np.clip(images, 0.5 / 255, 1 - 0.5 / 255)
    planes = np.log(clipped) - np.log1p(-clipped)
    if images.shape[-1] == 3:
        planes = planes @ np.linalg.inv(_COLOR_MIX.T).astype(np.float64)
    return planes.std(axis=(1, 2))


@dataclasses.dataclass(frozen=True)
class Parameterization(abc.ABC):
    """Base class: configuration of an image batch's representation.

    Attributes:
        size: image size, an int or (height, width).
        batch: number of images; None lets the `Visualizer` use the objective's batch size.
        channels: 3 for RGB, 1 for grayscale models; None follows the model (the `Visualizer`
            fills it in), and means 3 where a parameterization is used on its own.
        init: "normal" (small random values: mid-grey with faint noise), "uniform" (uniform
            noise images), or an image to start from — a file path or an array
            [height, width, channels] / [batch, height, width, channels] in [0, 1].
        init_std: standard deviation of the "normal" initialisation, in raw units.
    """

    size: int | tuple[int, int] = 64
    batch: int | None = None
    channels: int | None = None
    init: str | np.ndarray = "normal"
    init_std: float = 0.01

    def __post_init__(self) -> None:
        _size_pair(self.size)
        if self.channels not in (None, 1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels!r} (or None: follow the model)")
        if self.batch is not None and (not isinstance(self.batch, int) or self.batch < 1):
            raise ValueError(f"batch must be a positive int or None, got {self.batch!r}")
        if isinstance(self.init, str) and self.init not in _INITS and not image_io.looks_like_path(
            self.init
        ):
            raise ValueError(
                f"init must be one of {_INITS}, an image file path or an array; got {self.init!r}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the images."""
        return _size_pair(self.size)

    @property
    def depth(self) -> int:
        """The number of image channels made: `channels`, or 3 when it is None."""
        return 3 if self.channels is None else self.channels

    def initial(self, batch: int, seed: int) -> tf.Tensor:
        """The raw variable's initial value for `batch` images, deterministic in `seed`."""
        height, width = self.shape
        if isinstance(self.init, str) and self.init == "normal":
            return self._normal_init(batch, seed)
        if isinstance(self.init, str) and self.init == "uniform":
            noise = tf.random.stateless_uniform(
                [batch, height, width, self.depth], seed=[seed, 0], minval=0.0, maxval=1.0
            )
            return self.from_images(noise)
        start = image_io.as_image_batch(self.init, (height, width), self.depth, batch,
                                        what="initial image")
        return self.from_images(tf.constant(start))

    @abc.abstractmethod
    def _normal_init(self, batch: int, seed: int) -> tf.Tensor:
        """Small random raw values (images near mid-grey)."""

    @abc.abstractmethod
    def to_images(self, raw: tf.Tensor) -> tf.Tensor:
        """raw variable -> images [batch, height, width, channels] in [0, 1]."""

    @abc.abstractmethod
    def from_images(self, images: tf.Tensor) -> tf.Tensor:
        """images [batch, height, width, channels] in [0, 1] -> raw variable (inverse map)."""


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class Pixel(Parameterization):
    """One variable per pixel and channel.

    Attributes:
        activation: "sigmoid" (image = sigmoid(raw), as in the published seed method) or
            "clip" (image = raw clipped to [0, 1]).
    """

    activation: str = "sigmoid"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.activation not in ("sigmoid", "clip"):
            raise ValueError(f"activation must be 'sigmoid' or 'clip', got {self.activation!r}")

    def _normal_init(self, batch: int, seed: int) -> tf.Tensor:
        height, width = self.shape
        noise = tf.random.stateless_normal(
            [batch, height, width, self.depth], seed=[seed, 0], stddev=self.init_std
        )
        return noise if self.activation == "sigmoid" else noise + 0.5

    def to_images(self, raw: tf.Tensor) -> tf.Tensor:
        if self.activation == "sigmoid":
            return tf.sigmoid(raw)
        return tf.clip_by_value(raw, 0.0, 1.0)

    def from_images(self, images: tf.Tensor) -> tf.Tensor:
        images = tf.cast(images, tf.float32)
        return _logit(images) if self.activation == "sigmoid" else images


@gin.register(module="featviz")
@dataclasses.dataclass(frozen=True)
class Fourier(Parameterization):
    """The image's real 2-D spectrum, scaled so that all frequencies learn at the same rate.

    Natural images have a 1/f amplitude spectrum; a pixel gradient is dominated by high
    frequencies. Storing the spectrum divided by 1/f^decay_power (and multiplying it back in
    `to_images`) makes an optimizer step change all frequencies equally, which removes most of
    the high-frequency noise of pixel-space ascent.

    With `contrast`, each image's decorrelated planes are standardized before the colour mix
    and the sigmoid: zero mean (mid-grey, no colour cast on average) and the given standard
    deviations (`decorrelated_contrast` measures them on any image). An image's contrast and
    colourfulness are then fixed whatever the objective's gradient; scaling the raw variable
    does not change the image, so gradient ascent cannot drive pixels into the blown-out,
    saturated corners of the colour cube. `from_images` then inverts `to_images` only for
    images that already have those statistics; others come back standardized.

    Attributes:
        decorrelate: optimize in a decorrelated colour space (ImageNet's colour statistics).
        decay_power: exponent of the 1/f scaling (1.0 as in Lucid).
        contrast: None (free), or the standard deviations of the (luminance, colour, colour)
            pre-sigmoid planes, each > 0; grayscale images use the first.
    """

    decorrelate: bool = True
    decay_power: float = 1.0
    contrast: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.contrast is not None and (
            isinstance(self.contrast, (str, bytes)) or len(self.contrast) != 3
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool) and c > 0
                       for c in self.contrast)
        ):
            raise ValueError(f"Fourier contrast must be None or three positive numbers "
                             f"(luminance, colour, colour), got {self.contrast!r}")

    def _scale(self) -> np.ndarray:
        height, width = self.shape
        fy = np.fft.fftfreq(height)[:, None]
        fx = np.fft.rfftfreq(width)[None, :]
        freqs = np.sqrt(fx * fx + fy * fy)
        # The DC term would divide by zero: treat it like the lowest non-zero frequency.
        scale = 1.0 / np.maximum(freqs, 1.0 / max(height, width)) ** self.decay_power
        # irfft2d divides by height*width; this keeps pixel values O(1) for O(1) spectra.
        return (scale * np.sqrt(height * width)).astype(np.float32)

    def _normal_init(self, batch: int, seed: int) -> tf.Tensor:
        height, width = self.shape
        return tf.random.stateless_normal(
            [batch, self.depth, height, width // 2 + 1, 2], seed=[seed, 0], stddev=self.init_std
        )

    def _mixes(self) -> bool:
        return self.decorrelate and self.depth == 3

    def _standardize(self, planes: tf.Tensor) -> tf.Tensor:
        """[batch, channels, height, width] planes -> zero mean and `contrast` std per image."""
        if self.contrast is None:
            return planes
        mean, variance = tf.nn.moments(planes, axes=[2, 3], keepdims=True)
        target = tf.constant(self.contrast[:self.depth], tf.float32)[:, None, None]
        # The epsilon only matters for an all-zero raw variable, which stays mid-grey.
        return (planes - mean) * tf.math.rsqrt(variance + 1e-12) * target

    def to_images(self, raw: tf.Tensor) -> tf.Tensor:
        height, width = self.shape
        # Lucid divides the image by 4 so that a unit-variance spectrum gives moderate
        # pre-sigmoid values. Folded into the scale (a power of two: no bit changes) and applied
        # to the (real, imaginary) pairs in real arithmetic, which then are read as complex
        # numbers in place: complex multiplication and tf.complex's copies cost more than the FFT.
        scale = (self._scale() / 4.0)[..., None]  # [height, width // 2 + 1, 1], a trace-time constant
        spectrum = _as_complex(raw * scale)
        planes = tf.signal.irfft2d(spectrum, fft_length=[height, width])  # [b, c, h, w]
        # Standardized and mixed in the FFT's planar layout, where each plane is contiguous,
        # and transposed once at the end: reducing over height and width of an interleaved
        # [b, h, w, c] image cost 2.4 ms of a 224-px step's 3.6 ms here (forward + backward).
        planes = self._standardize(planes)
        if self._mixes():
            planes = _mix_planes(planes)
        return tf.transpose(tf.sigmoid(planes), [0, 2, 3, 1])

    def from_images(self, images: tf.Tensor) -> tf.Tensor:
        height, width = self.shape
        linear = _logit(tf.cast(images, tf.float32))
        linear = (_decorrelate(linear) if self._mixes() else linear) * 4.0
        spectrum = tf.signal.rfft2d(tf.transpose(linear, [0, 3, 1, 2]), fft_length=[height, width])
        spectrum = spectrum / tf.cast(self._scale(), tf.complex64)
        return tf.stack([tf.math.real(spectrum), tf.math.imag(spectrum)], axis=-1)
