"""Procedural colour-pattern dataset for featviz's bundled demo model.

featviz must run offline, so it ships a small CNN (``featviz/data/demo_model.keras``, trained by
``experiments/train_demo_model.py``) whose classes are simple, unmistakable patterns. This module
draws those patterns, so that the model can be retrained and tests can create fresh inputs and
check that a visualization *looks like* its class.

Contract: images are float32 ``[n, size, size, 3]`` in ``[0, 1]``, labels index ``CLASS_NAMES``.
Pattern classes (stripes, checkerboard, rings, dots, grid, zigzag) use a random pair of colours with
a guaranteed luminance contrast, so a classifier has to learn their *geometry*; the three shape
classes (``red_squares``, ``green_triangles``, ``blue_crosses``) tie a hue to a shape, each on a
background colour far from that hue. Every image gets a random period or size, phase or position,
line width, a small rotation jitter, slight blur and small Gaussian noise.

Orientation convention (used by ``stripe_orientation``): angles are the direction in which the
lines *run*, in degrees in ``[0, 180)``, counter-clockwise from the image's horizontal axis with
"up" being towards row 0, as a viewer sees the image. Horizontal stripes are 0, ``diagonal_stripes``
("/", bottom-left to top-right) 45, vertical stripes 90, ``antidiagonal_stripes`` ("\\") 135.

Only numpy is used; generation is vectorised per class (20k 64x64 images take about ten seconds).
"""

from featviz.demo.measures import stripe_coherence, stripe_orientation
from featviz.demo.patterns import CLASS_NAMES, generate, generate_negatives, make_image

__all__ = ["CLASS_NAMES", "generate", "generate_negatives", "make_image", "stripe_coherence",
           "stripe_orientation"]
