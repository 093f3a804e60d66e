"""Parameterizations: how a batch of images is represented by the variable being optimized.

A parameterization is an immutable configuration: `initial` makes the raw variable's first
value, `to_images` maps it to images in [0, 1] inside every step, `from_images` maps images back
(for between-step operations and photographs as a start). The `Visualizer` owns the variable.

Modules: `base` (the base class; `Pixel`; `Fourier`, the 1/f-scaled spectrum), `cppn` (`CPPN`,
a resolution-independent network of the pixel coordinates), `transparent` (`Transparent`,
images with an alpha channel), `maco` (`Maco`, phase-only Fourier with natural images'
magnitude spectrum) and `shared` (`SharedLowRes`, low-resolution components shared along the
batch, for aligned interpolations).
"""

from featviz.params.base import Fourier, Parameterization, Pixel, decorrelated_contrast
from featviz.params.cppn import CPPN
from featviz.params.maco import Maco, natural_spectrum
from featviz.params.shared import SharedLowRes
from featviz.params.transparent import Transparent

__all__ = ["CPPN", "Fourier", "Maco", "Parameterization", "Pixel", "SharedLowRes",
           "Transparent", "decorrelated_contrast", "natural_spectrum"]
