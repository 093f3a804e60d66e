"""End to end on the bundled demo model: class images are classified as their class and look it."""

from __future__ import annotations

import numpy as np
import pytest

import featviz as fv
from featviz.demo import CLASS_NAMES, stripe_orientation

# 192-step renders of every demo class: the long end-to-end check.
pytestmark = pytest.mark.slow

STRIPES = {"horizontal_stripes": 0.0, "diagonal_stripes": 45.0, "vertical_stripes": 90.0,
           "antidiagonal_stripes": 135.0}


def _angle_error(a: float, b: float) -> float:
    return abs((a - b + 90.0) % 180.0 - 90.0)


@pytest.fixture(scope="module")
def class_render(demo):
    """Every demo class as one batch: Fourier, decorrelated colour, jitter/scale, 192 steps."""
    visualizer = fv.Visualizer(demo, [fv.ClassLogit(name) for name in CLASS_NAMES],
                               param=fv.Fourier(64), transforms=[fv.Jitter(4), fv.RandomScale((0.9, 1.0, 1.1))],
                               steps=192, seed=0)
    start = visualizer.param.to_images(visualizer.param.initial(visualizer.batch, visualizer.seed)).numpy()
    return start, visualizer.run()


def test_every_class_image_is_classified_as_its_class(demo, class_render):
    start, render = class_render
    targets = np.arange(len(CLASS_NAMES))
    before = demo.model.predict(start, verbose=0)[targets, targets]
    after = demo.model.predict(render.images, verbose=0)[targets, targets]
    assert np.all(before < 0.5), dict(zip(CLASS_NAMES, before.round(3)))
    assert np.all(after > 0.9), dict(zip(CLASS_NAMES, after.round(3)))


def test_stripe_classes_show_stripes_in_their_direction(class_render):
    _, render = class_render
    for name, expected in STRIPES.items():
        measured = stripe_orientation(render.images[CLASS_NAMES.index(name)])
        assert _angle_error(measured, expected) < 20, (name, measured)


def test_a_channel_activation_rises_several_fold(demo):
    objective = fv.Channel("conv3", 5)
    render = fv.Visualizer(demo, objective, param=fv.Fourier(64), transforms=[fv.Jitter(2)], steps=64).run()
    values = render.history["Channel[conv3:5]"][:, 0]
    assert values[-1] > 3.0 * max(values[0], 1e-3)
