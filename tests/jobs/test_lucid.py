"""Photograph jobs: DeepDream octaves, caricatures, feature accentuation over a folder."""

from __future__ import annotations

import gin
import numpy as np
import pytest
import skimage.data
from PIL import Image

import featviz as fv
from featviz.jobs import lucid


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for name, image in (("astronaut", skimage.data.astronaut()), ("coffee", skimage.data.coffee())):
        Image.fromarray(image).resize((48, 48), Image.Resampling.LANCZOS).save(folder / f"{name}.png")
    return folder


def test_octave_sizes_grow_to_the_final_size():
    assert lucid.octave_sizes((224, 224), 3, 1.4) == [(114, 114), (160, 160), (224, 224)]
    with pytest.raises(ValueError, match="octave_scale"):
        lucid.octave_sizes((32, 32), 2, 1.0)


def test_octaves_without_change_give_back_the_photograph(tiny, photos, tmp_path):
    # With a negligible step, the dream is the photo: the detail lost by each shrink is
    # re-injected exactly at each upscale.
    gin.bind_parameter("Visualizer.steps", 1)
    gin.bind_parameter("Visualizer.learning_rate", 1e-9)
    gin.bind_parameter("Visualizer.transforms", [])
    dream = fv.deepdream(tmp_path, tiny, str(photos / "astronaut.png"),
                         fv.LayerActivation("conv2", "l2"), size=32, octaves=3)
    assert [o.shape[:2] for o in dream.octaves] == [(16, 16), (23, 23), (32, 32)]
    assert np.abs(dream.octaves[-1] - dream.original).max() < 0.02
    assert (tmp_path / "octaves.png").exists() and (tmp_path / "deepdream.json").exists()


def test_deepdream_octaves_raise_the_objective(tiny, photos, tmp_path):
    gin.bind_parameter("Visualizer.steps", 12)
    gin.bind_parameter("Visualizer.learning_rate", 0.05)
    gin.bind_parameter("Visualizer.transforms", [])
    dream = fv.deepdream(tmp_path, tiny, str(photos / "astronaut.png"),
                         fv.LayerActivation("conv2", "l2"), size=32, octaves=2)
    assert dream.values["dream"] > 1.2 * dream.values["photo"]


def test_caricature_writes_one_row_per_layer_and_exaggerates(tiny, photos, tmp_path):
    gin.bind_parameter("Visualizer.steps", 32)
    gin.bind_parameter("Visualizer.learning_rate", 0.1)
    # Free contrast and no transforms: the recipe's fixed contrast needs more steps to get there.
    gin.bind_parameter("Visualizer.param", fv.Fourier(32))
    gin.bind_parameter("Visualizer.transforms", [])
    result = fv.caricature(tmp_path, tiny, str(photos / "astronaut.png"), ["conv1", "conv2"],
                           samples=2)
    assert set(result.images) == {"conv1", "conv2"}
    assert all(images.shape == (2, 32, 32, 3) for images in result.images.values())
    # The caricature's dot product x cosine exceeds the photograph's own (1 for an exact copy).
    for values in result.values.values():
        assert min(values["caricatures"]) > values["photo"]
    assert (tmp_path / "caricature.png").exists()


def test_accentuation_raises_the_unit_and_stays_closer_with_a_larger_penalty(tiny, photos, tmp_path):
    gin.bind_parameter("Visualizer.steps", 24)
    gin.bind_parameter("Visualizer.learning_rate", 0.05)
    results = fv.accentuate(tmp_path, tiny, str(photos), fv.Channel("conv2", 0), layer="conv1",
                            weights=[0.1, 10.0])
    assert [r.photo.endswith(n) for r, n in zip(results, ("astronaut.png", "coffee.png"))] == [True, True]
    for r in results:
        assert r.unit[1] > r.unit[0] and r.unit[2] > r.unit[0]  # the unit rises from the photo
        assert r.feature_error[1] < r.feature_error[0]  # the stronger penalty stays closer
    assert (tmp_path / "accentuation.csv").read_text().count("\n") == 5
    with pytest.raises(ValueError, match="holds none"):
        fv.accentuate(tmp_path / "x", tiny, str(tmp_path / "empty"), fv.Channel("conv2", 0), "conv1")


def test_job_measurements_see_images_as_the_step_does(tiny_keras_model, photos):
    # A model with real preprocessing: the measurement must preprocess once, as the step does.
    model = fv.load_model(tiny_keras_model, preprocess="mobilenet")
    objective = fv.LayerActivation("conv2", "l2")
    photo = fv.io.as_image_batch(str(photos / "coffee.png"), (32, 32), 3, 1)
    render = fv.Visualizer(model, objective, param=fv.Pixel(32, init=photo), transforms=[],
                           steps=1, learning_rate=1e-9).run()
    measured = lucid._objective_value(model, objective, photo[0])
    assert measured == pytest.approx(float(render.history[objective.name][0, 0]), rel=1e-3)
