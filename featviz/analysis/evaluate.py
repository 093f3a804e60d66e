"""Quality measures for visualizations: do they survive perturbations, how much fine detail.

- `perturbation_robustness`: for each named perturbation, the fraction of images the model
  still classifies as their target class, and the mean target probability. A visualization with
  global structure keeps its class when it is downscaled and blurred; one made of
  high-frequency adversarial texture does not. `strong_perturbations()` is a harder, random set
  (rescale, rotation, crop, blur), drawn per image and repeated with `repeats`.
- `channel_robustness`: the same for channel visualizations: whether the target channel stays
  the most active of its layer, and how much of its activation is kept.
- `high_frequency_power`: per image, the share of spectral power above half the Nyquist
  frequency (above 0.25 cycles per pixel, measured radially).

Both take images as produced by `Visualizer.run` (`Render.images`): float [batch, height,
width, channels] in [0, 1].
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping, Sequence

import gin
import numpy as np
import tensorflow as tf

from featviz.models import VisModel, load_model
from featviz.models import LOGITS
from featviz.objectives import Channel
from featviz.transforms import Downscale, GaussianBlur, RandomAffine, Transform, compose


@dataclasses.dataclass(frozen=True)
class Robustness:
    """How a batch of images fares under one perturbation.

    Attributes:
        accuracy: fraction of images whose top-1 class is their target, in [0, 1].
        target_probability: mean over images of the softmax probability of the target.
        predicted: [batch] int, the top-1 class of each perturbed image.
        probabilities: [batch] float, each image's target probability.
    """

    accuracy: float
    target_probability: float
    predicted: np.ndarray
    probabilities: np.ndarray


@gin.register(module="featviz")
def downscale_blur(factor: float = 2.0, sigma: float = 1.0) -> Transform:
    """The "global structure" perturbation: `Downscale(factor)`, then `GaussianBlur(sigma)`.

    Returns:
        A transform: images [batch, height, width, channels] -> the same shape.
    """
    return compose([Downscale(factor), GaussianBlur(sigma)])


def default_perturbations() -> dict[str, Transform]:
    """{"none": the images as they are, "downscale2_blur1": `downscale_blur(2, 1.0)`}."""
    return {"none": compose([]), "downscale2_blur1": downscale_blur(2.0, 1.0)}


def strong_perturbations(blur_sigma: float = 2.0) -> dict[str, Transform]:
    """Four random perturbations a visualization with object-level structure should survive.

    Each draws its parameters per image (use `perturbation_robustness(..., repeats=n)` for
    several draws), and all are relative to the image size except the blur:

    - "rescale": zoom by a factor uniform in [0.5, 1.5] about the centre; below 1 the image
      shrinks inside a mid-grey surround, above 1 its centre is enlarged;
    - "rotate": rotation by an angle uniform in [-20, 20] degrees, mid-grey corners;
    - "crop60": a random crop of 60% of the height and width, enlarged to the full size;
    - "blur": Gaussian blur of standard deviation `blur_sigma` pixels.

    Args:
        blur_sigma: the blur's standard deviation in pixels (2.0: for 224-pixel images).

    Returns:
        {"rescale", "rotate", "crop60", "blur"} -> transform.
    """
    return {
        "rescale": RandomAffine(scales=(0.5, 1.5), fill_mode="constant", fill_value=0.5),
        "rotate": RandomAffine(degrees=(-20.0, 20.0), fill_mode="constant", fill_value=0.5),
        # Zooming by 1/0.6 shows 60% of each side; a shift of up to 0.2 of the side in either
        # direction places that window anywhere inside the image.
        "crop60": RandomAffine(scales=(1 / 0.6, 1 / 0.6), translate=0.2),
        "blur": GaussianBlur(blur_sigma),
    }


def _image_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images must be [batch, height, width, 1 or 3] in [0, 1], got shape {images.shape}"
        )
    return images


def _perturbed_outputs(
    model: VisModel,
    images: np.ndarray,
    keys: Sequence[str],
    perturbations: Mapping[str, Transform] | None,
    batch_size: int,
    seed: int,
    repeats: int,
) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """(name, {key: [repeats * batch, ...] activations}) for each perturbation, in order.

    Each perturbed chunk is clipped to [0, 1], resized to the model's input (bilinear, as in the
    optimization step) and preprocessed the model's way.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    perturbations = default_perturbations() if perturbations is None else dict(perturbations)
    for name, perturb in perturbations.items():
        chunks: dict[str, list[np.ndarray]] = {key: [] for key in keys}
        for repeat, start in itertools.product(range(repeats), range(0, len(images), batch_size)):
            # Each chunk of each draw has its own seed: no random draw is repeated across them.
            chunk_seed = tf.constant([seed, repeat * len(images) + start], tf.int64)
            chunk = perturb(tf.constant(images[start:start + batch_size]), chunk_seed)
            chunk = tf.clip_by_value(chunk, 0.0, 1.0)
            for key, value in model.activations(chunk, keys).items():
                chunks[key].append(np.asarray(value))
        yield name, {key: np.concatenate(values) for key, values in chunks.items()}


def perturbation_robustness(
    model: VisModel | str,
    images: np.ndarray,
    targets: Sequence[int | str],
    perturbations: Mapping[str, Transform] | None = None,
    batch_size: int = 32,
    seed: int = 0,
    repeats: int = 1,
) -> dict[str, Robustness]:
    """Classifies perturbed images and measures how many keep their target class.

    Each perturbed batch is resized to the model's input (bilinear, as in the optimization
    step), preprocessed the model's way, and classified from its logits.

    Args:
        model: a `VisModel` or anything `load_model` accepts.
        images: [batch, height, width, channels] in [0, 1].
        targets: one class index or name per image.
        perturbations: name -> transform (`transform(images, seed) -> images`, any featviz
            transform); default `default_perturbations()`.
        batch_size: images classified at once.
        seed: seeds random perturbations (deterministic ones ignore it).
        repeats: how many independent draws of each random perturbation to classify; the
            measures pool all draws.

    Returns:
        {name: Robustness}, in the order of `perturbations`; with `repeats` > 1, `predicted`
        and `probabilities` hold [repeats * batch] values, draw r of image i at r * batch + i.
    """
    model = load_model(model)
    images = _image_batch(images)
    targets = list(targets)
    if len(targets) != len(images):
        raise ValueError(f"got {len(targets)} targets for {len(images)} images; give one per image")
    indices = np.tile(np.array([model.class_index(t) for t in targets], dtype=np.int64), repeats)
    results = {}
    for name, outputs in _perturbed_outputs(model, images, [LOGITS], perturbations, batch_size,
                                            seed, repeats):
        logits = tf.cast(outputs[LOGITS], tf.float32)
        all_probabilities = tf.nn.softmax(logits, axis=-1).numpy()
        predicted = all_probabilities.argmax(axis=-1)
        target_probabilities = all_probabilities[np.arange(len(indices)), indices]
        results[name] = Robustness(
            accuracy=float(np.mean(predicted == indices)),
            target_probability=float(np.mean(target_probabilities)),
            predicted=predicted,
            probabilities=target_probabilities,
        )
    return results


@dataclasses.dataclass(frozen=True)
class ChannelRobustness:
    """How a batch of channel visualizations fares under one perturbation.

    Attributes:
        accuracy: fraction of images whose target channel has the largest spatial-mean
            activation of all channels of its layer, in [0, 1].
        retained: mean over images of the target channel's spatial-mean activation on the
            perturbed image divided by that on the unperturbed image (1: all kept); images
            whose unperturbed activation is not positive are left out (NaN if all are).
        top_channels: [repeats * batch] int, the most active channel of each image's layer.
        activations: [repeats * batch] float, the target channel's spatial-mean activation.
    """

    accuracy: float
    retained: float
    top_channels: np.ndarray
    activations: np.ndarray


def channel_robustness(
    model: VisModel | str,
    images: np.ndarray,
    units: Sequence[tuple[str, int]],
    perturbations: Mapping[str, Transform] | None = None,
    batch_size: int = 32,
    seed: int = 0,
    repeats: int = 1,
) -> dict[str, ChannelRobustness]:
    """Measures how much of their channel's activation perturbed channel visualizations keep.

    The channel analogue of `perturbation_robustness`: image i visualizes channel
    `units[i][1]` of layer `units[i][0]`; "classified as its target" becomes "that channel is
    the most active of its layer" (spatial means; layers may differ between images).

    Args:
        model: a `VisModel` or anything `load_model` accepts.
        images: [batch, height, width, channels] in [0, 1].
        units: one (layer name, channel index) per image.
        perturbations: name -> transform; default `default_perturbations()`.
        batch_size: images evaluated at once.
        seed: seeds random perturbations.
        repeats: independent draws of each random perturbation, pooled.

    Returns:
        {name: ChannelRobustness}, in the order of `perturbations`; arrays hold draw r of image
        i at r * batch + i.
    """
    model = load_model(model)
    images = _image_batch(images)
    units = [(str(layer), channel) for layer, channel in units]
    if len(units) != len(images):
        raise ValueError(f"got {len(units)} units for {len(images)} images; give one per image")
    for layer, channel in units:
        Channel(layer, channel).check(model)  # names the valid layers and channel range
    layers = list(dict.fromkeys(layer for layer, _ in units))

    def measure(outputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        tops, targets = [], []
        for index in range(len(outputs[layers[0]])):  # draw r of image i at r * batch + i
            layer, channel = units[index % len(units)]
            acts = outputs[layer][index].astype(np.float64)
            means = acts.reshape(-1, acts.shape[-1]).mean(axis=0)  # [channels]
            tops.append(int(means.argmax()))
            targets.append(means[channel])
        return np.array(tops), np.array(targets)

    unperturbed = next(_perturbed_outputs(model, images, layers, {"none": compose([])},
                                          batch_size, seed, 1))[1]
    _, reference = measure(unperturbed)
    reference = np.tile(reference, repeats)
    channels = np.tile(np.array([channel for _, channel in units]), repeats)
    results = {}
    for name, outputs in _perturbed_outputs(model, images, layers, perturbations, batch_size,
                                            seed, repeats):
        tops, activations = measure(outputs)
        positive = reference > 0
        ratios = activations[positive] / reference[positive]
        results[name] = ChannelRobustness(
            accuracy=float(np.mean(tops == channels)),
            retained=float(ratios.mean()) if ratios.size else float("nan"),
            top_channels=tops,
            activations=activations,
        )
    return results


def high_frequency_power(images: np.ndarray, cutoff: float = 0.5) -> np.ndarray:
    """The share of each image's spectral power above `cutoff` times the Nyquist frequency.

    Per channel, the image minus its (window-weighted) mean is multiplied by a 2-D Hann window
    (so that the jump between opposite borders adds no spurious high frequencies) and
    Fourier-transformed; the power of all channels is summed. The share is the power at radial
    frequencies sqrt(fx^2 + fy^2) above `cutoff * 0.5` cycles per pixel, over all power (the
    mean, i.e. the zero frequency, is excluded by construction). A constant image has no power
    and gets 0. White noise has a flat spectrum, so its expected share is the fraction of the
    frequency square [-0.5, 0.5)^2 outside the disc of radius 0.25: 1 - pi/16, about 0.804, for
    the default cutoff. Natural photographs are far lower (their power falls as 1/f^2).

    Args:
        images: [batch, height, width, channels] in [0, 1].
        cutoff: the threshold as a fraction of the Nyquist frequency (0.5 cycles per pixel).

    Returns:
        [batch] float64 shares in [0, 1].
    """
    images = _image_batch(images).astype(np.float64)
    if not 0 < cutoff < np.sqrt(2):
        raise ValueError(f"cutoff must be in (0, sqrt(2)) times Nyquist, got {cutoff!r}")
    _, height, width, _ = images.shape
    window = np.outer(np.hanning(height), np.hanning(width))[None, :, :, None]
    # Subtracting the window-weighted mean makes the windowed image's zero frequency exactly 0.
    mean = (images * window).sum(axis=(1, 2), keepdims=True) / window.sum()
    spectrum = np.fft.fft2((images - mean) * window, axes=(1, 2))
    power = (np.abs(spectrum) ** 2).sum(axis=-1)  # [batch, height, width]
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    high = np.sqrt(fx ** 2 + fy ** 2) > cutoff * 0.5
    total = power.sum(axis=(1, 2))
    high_power = (power * high).sum(axis=(1, 2))
    return np.divide(high_power, total, out=np.zeros_like(total), where=total > 1e-12 * height * width)
