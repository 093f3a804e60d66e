"""Recipes: featviz's recommended settings, what `Visualizer` uses when it is not told otherwise.

The recipe was chosen by measurement on two real ImageNet networks of different families (Keras
MobileNet, width 0.25, and EfficientNet-Lite1), comparing class visualizations by eye and by how
well they keep their class under held-out perturbations
(`featviz.evaluate.strong_perturbations`); `experiments/quality_report.py` reproduces the
comparison against the seed method and other libraries, and `experiments/README_quality.md`
gives the numbers. It is:

- `Fourier` parameterization in decorrelated colour with a 1/f^1.5 spectrum scaling (1.0, as
  in Lucid, leaves about three times more power above half-Nyquist: 0.15-0.18 against 0.06);
- every image's contrast and colourfulness fixed to those of a typical photograph
  (`CONTRAST`, `Fourier.contrast`). Without it, ascent on a network whose logit keeps rising
  with contrast (EfficientNet-Lite1) drives the images into blown-out white and black with
  neon fringes, and even on MobileNet 14-25% of the pixels have HSV saturation above 0.8;
  with it, under 1%, and the objects are drawn in natural colours;
- Adam with learning rate 0.03 (with the steeper scaling, 0.05 saturated the colours before
  the contrast was fixed), from a raw spectrum of standard deviation 0.3 (`INIT_STD`, ten
  learning rates). With the contrast fixed, the image depends only on the direction of the raw
  variable, so what sets the pace of the ascent is the size of a step relative to the
  variable's norm. From Lucid's 0.01 the first steps (0.03 per coordinate) replace the start
  entirely and the later ones shrink as the norm grows. From 0.3 each early step changes the
  image by about a tenth. On the tuning classes the lion's face and the toucan's beak appeared
  on EfficientNet-Lite1, and MobileNet's power above half-Nyquist fell from 0.034 to 0.020
  (0.042 to 0.032 on the report's 16 classes, which by eye are level with the old start);
- centre first (`CentreWindow`): for the first half of the run the network sees the middle
  of the image through a window that grows from 0.3 of its side to all of it, mid-grey
  outside (Nguyen, Yosinski & Clune 2016's centre-biased optimization). The gradient reaches
  the middle first, so the optimization draws one whole object there before it fills the rest;
  without it, a class image on EfficientNet-Lite1 is a few large fragments side by side (a
  mane, a beak, a frog's leg), and with it a frog, a finch's head and a toucan's face and beak
  stand in the middle; on MobileNet one toucan, one frog, one school bus;
- transformation robustness: a per-image random blur (standard deviation from 0 to 1.8% of the
  image side: 0-4 pixels at 224), pad, jitter, then a per-image random zoom (0.625x-1.6x),
  rotation (+-25 degrees) and shift (10%), then a small jitter. The zoom is what makes objects
  whole: with Lucid's set (+-10% scale, which the resize to a fixed-size model's input
  largely undoes) the same network keeps 31% of its classes under a 60% crop, with this one
  94-100%. The blur (issue 13) is what makes EfficientNet-Lite1 draw shape instead of fine
  texture: without it its class images lost their class under a 2-pixel blur (25% kept on the
  tuning classes) and were fragmented texture; with it 100% survive the blur, the target
  probability under the strong perturbations rises from 0.79 to 0.93 and a tree frog and a
  toucan can be made out. Drawing from 0 matters: a blur of at least 1 or 2 pixels in every
  step leaves images that are no longer their class unblurred (clean top-1 75% and 25%).

All sizes are fractions of the image side, so the same recipe serves any image size; the shipped
gin configs `imagenet_classes` and `imagenet_channels` (`featviz/configs/`) spell it out.
"""

from __future__ import annotations

from collections.abc import Sequence

import gin

from featviz.params import Fourier
from featviz.transforms import CentreWindow, Jitter, Pad, RandomAffine, RandomBlur, Transform

# Exponent of the Fourier parameterization's 1/f scaling in the recipe.
DECAY_POWER = 1.5
# The spread of the (luminance, colour, colour) decorrelated pre-sigmoid planes that the recipe
# fixes for every image: the mean over the six photographs of configs/images/ (resized to 224)
# of `featviz.params.decorrelated_contrast`, which measures 1.13-4.25 for luminance (tests check
# that the constant is this mean). The median photograph's (1.5, 1.6, 1.1) gave mean HSV
# saturations of 0.21-0.22, just below the photographs' 0.23-0.72, and flatter images on
# EfficientNet-Lite1; it depends on photographs only, not on the network.
CONTRAST = (2.0, 1.9, 1.5)
# The optimizer's learning rate in the recipe (Adam).
LEARNING_RATE = 0.03
# The standard deviation of the raw spectrum at the start, in learning rates: 10 (0.3). With
# fixed contrast only the ratio of the two matters (scaling both scales the raw variable, not
# the image); 5, 10, 20 and 33 learning rates were tried on the tuning classes of both networks
# (experiments/recipe_blur.py, README_quality "The start's scale"): 5 and 10 drew the most
# recognizable objects on EfficientNet-Lite1, 10 the least grain on MobileNet.
INIT_STD = 10 * LEARNING_RATE


def default_param(size: int | tuple[int, int], channels: int = 3) -> Fourier:
    """The recipe's parameterization: decorrelated `Fourier`, 1/f^`DECAY_POWER`, `CONTRAST`,
    `INIT_STD`.

    Args:
        size: image size, an int or (height, width).
        channels: 3 for RGB, 1 for grayscale models.

    Returns:
        A `Fourier` parameterization of [batch, height, width, channels] images.
    """
    return Fourier(size=size, channels=channels, decorrelate=True, decay_power=DECAY_POWER,
                   contrast=CONTRAST, init_std=INIT_STD)


def _fraction(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 0.5:
        raise ValueError(f"default_transforms {name} must be a fraction of the image side in "
                         f"[0, 0.5), got {value!r}")


def _fraction_range(name: str, value: Sequence[float]) -> None:
    if (isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            or not 0 <= value[0] <= value[1] < 0.5):
        raise ValueError(f"default_transforms {name} must be a (low, high) pair of fractions of "
                         f"the image side, 0 <= low <= high < 0.5, got {value!r}")


@gin.register(module="featviz")
def default_transforms(
    size: int | tuple[int, int] = gin.REQUIRED,
    centre: Sequence[float] | None = (0.3, 0.5),
    blur: Sequence[float] = (0.0, 0.018),
    pad: float = 0.07,
    jitter: float = 0.07,
    scales: Sequence[float] = (0.625, 1.6),
    degrees: Sequence[float] = (-25.0, 25.0),
    translate: float = 0.1,
    fine_jitter: float = 0.035,
) -> list[Transform]:
    """The recipe's transforms for images of `size`: a growing centre window, random blur, pad,
    jitter, random affine, jitter.

    At 224 pixels: `CentreWindow(0.3, 0.5)`, `RandomBlur((0, 4.03))`, `Pad(16)`, `Jitter(16)`,
    `RandomAffine((0.625, 1.6), (-25, 25), 0.1)`, `Jitter(8)`. Pixel counts are the fractions
    times the shorter image side, rounded (the blur's sigmas are not rounded).

    The window and the blur come first, on the image as rendered: they need no interpolation of
    their own, so the geometric members after them still fuse into one resample (`compose`).

    Args:
        size: the image size the transforms will receive, an int or (height, width).
        centre: (first, ramp) of the `CentreWindow`: the network sees only the middle `first`
            of each image side at the first step, and the whole image from `ramp` of the run
            on; None: no window. On the tuning classes of both networks (128 steps) every
            window tried (0.2-0.5 of the side, grown over a quarter to 3/4 of the run) drew one
            object in the middle where the recipe without it drew fragments, with measures
            within a second seed's spread of each other; the default was the first choice.
            On the report's 16 classes (256 steps) it keeps all of them under the strong
            perturbations on both networks (experiments/README_quality.md, "Centre first").
        blur: (low, high) standard deviation of the per-image Gaussian blur, as fractions of
            the image side. The default's 0.018 (4 pixels at 224) is twice the 2-pixel blur of
            `featviz.evaluate.strong_perturbations`: xplique's standard transformations blur
            by 1.0-1.1 pixels of a 512-pixel canvas seen through crops resized to the input
            (about 1.3 pixels at 224), which on EfficientNet-Lite1 was too little to leave
            fine texture (tuning runs in experiments/README_quality.md).
        pad: mid-grey padding on every side, as a fraction of the image side.
        jitter: the first random crop, as a fraction of the image side.
        scales: (low, high) per-image zoom factors (above 1 zooms in).
        degrees: (low, high) per-image rotation, in degrees.
        translate: per-image shift, as a fraction of the image side.
        fine_jitter: the last random crop, as a fraction of the image side.

    Returns:
        The transforms, in order, for `Visualizer(transforms=...)` or `compose`.
    """
    side = min((size, size) if isinstance(size, int) else tuple(size))
    for name, value in (("pad", pad), ("jitter", jitter), ("fine_jitter", fine_jitter)):
        _fraction(name, value)
    _fraction_range("blur", blur)
    window = []
    if centre is not None:
        if (isinstance(centre, (str, bytes)) or not isinstance(centre, Sequence)
                or len(centre) != 2):
            raise ValueError(f"default_transforms centre must be None or a (first, ramp) pair "
                             f"of fractions, got {centre!r}")
        window = [CentreWindow(*centre)]
    return [
        *window,
        RandomBlur((blur[0] * side, blur[1] * side)),
        Pad(round(pad * side)),
        Jitter(round(jitter * side)),
        RandomAffine(scales=tuple(scales), degrees=tuple(degrees), translate=translate),
        Jitter(round(fine_jitter * side)),
    ]
