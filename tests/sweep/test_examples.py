"""Dataset examples: the top images per channel, and crops at the peak's receptive field."""

from __future__ import annotations

import numpy as np
import pytest

import featviz as fv
from featviz.demo import generate
from featviz.sweep import top_examples
from featviz.sweep.examples import crop


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Twelve demo images of several sizes, and a file that is not an image."""
    directory = tmp_path_factory.mktemp("photos")
    images, _ = generate(12, 64, seed=3)
    for i, image in enumerate(images):
        fv.save_png(directory / f"{i:02d}.png", image if i % 3 else np.repeat(np.repeat(image, 2, 0), 2, 1))
    (directory / "notes.txt").write_text("not an image")
    return directory


def test_examples_are_the_top_peaks_with_crops_inside_the_image_at_the_receptive_field(demo, folder):
    layers = ["conv1", "conv3", "gap"]
    with pytest.warns(UserWarning, match="notes.txt"):
        found = top_examples(demo, layers, folder, k=3, batch_size=5)
    images = np.stack([fv.load_image(folder / f"{i:02d}.png", (64, 64)) for i in range(12)])
    activations = demo.activations(images, layers)
    for layer in layers:
        acts = np.asarray(activations[layer])
        field = fv.receptive_field(demo.model, layer)
        assert len(found[layer]) == demo.channels(layer)
        for channel, examples in enumerate(found[layer]):
            assert len(examples) == 3
            peaks = acts.reshape(12, -1, acts.shape[-1])[..., channel].max(axis=1)
            np.testing.assert_allclose([e.value for e in examples], np.sort(peaks)[::-1][:3], rtol=1e-5)
            for example in examples:
                top, left, bottom, right = example.region
                assert 0 <= top < bottom <= 64 and 0 <= left < right <= 64
                assert example.region == field.region(example.position, (64, 64))
                if acts.ndim == 4:
                    index = int(example.file[-6:-4])
                    assert acts[index, example.position[0], example.position[1], channel] == pytest.approx(example.value)
                    assert field.size[0] >= bottom - top
                else:
                    assert example.region == (0, 0, 64, 64)  # after global pooling: the whole image
    example = found["conv3"][0][0]
    assert crop(example, demo).shape == (example.region[2] - example.region[0],
                                         example.region[3] - example.region[1], 3)


def test_a_folder_without_images_is_refused(demo, tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="no file under .* is an image"), pytest.warns(UserWarning):
        top_examples(demo, ["conv1"], tmp_path)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        top_examples(demo, ["conv1"], tmp_path / "missing")
