"""Collecting activations for an atlas: folders of any format, positions, attributions, resuming."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import featviz as fv
from featviz.collection import Collection, DemoImages, ImageFolder, collect_activations, sample_positions


def _collect(demo, directory, source=None, **settings):
    settings = {"positions_per_image": 3, "batch_size": 16, **settings}
    return collect_activations(demo, source or DemoImages(48), "conv4", directory, **settings)


def test_positions_are_bounded_unique_and_seeded_per_image(demo, tmp_path):
    collection = _collect(demo, tmp_path)
    assert collection.complete and collection.activations.shape == (48 * 3, 64)
    pairs = {(int(i), int(r), int(c)) for i, (r, c) in zip(collection.images, collection.positions)}
    assert len(pairs) == len(collection.images)
    assert np.array_equal(np.bincount(collection.images), np.full(48, 3))
    assert collection.positions.max() < 8 and collection.positions.min() >= 0
    first = collection.positions[collection.images == 5]
    flat = sample_positions(5, 64, 3, seed=0)
    assert np.array_equal(first[:, 0] * 8 + first[:, 1], flat)
    assert not np.array_equal(sample_positions(5, 64, 3, seed=1), flat)
    assert len(sample_positions(0, 4, 10, seed=0)) == 4


def test_activations_are_the_layers_values_at_the_positions(demo, tmp_path):
    collection = _collect(demo, tmp_path)
    batch = DemoImages(48).load(0, 16, (64, 64), 3)
    maps = demo.activations(batch.images, ["conv4"])["conv4"].numpy()
    for row in np.flatnonzero(collection.images < 16)[:10]:
        r, c = collection.positions[row]
        np.testing.assert_allclose(collection.activations[row], maps[collection.images[row], r, c], atol=1e-5)
    assert np.array_equal(collection.labels[collection.images < 16],
                          np.repeat(batch.labels, 3))


def test_attributions_are_the_linear_approximation_of_the_logits(demo, tmp_path):
    # conv5 -> global average pooling -> Dense: linear above conv5, so the attributions of all
    # 16 positions of an image add up to its logits minus the bias, exactly.
    collection = collect_activations(demo, DemoImages(8), "conv5", tmp_path, positions_per_image=16,
                                     batch_size=8)
    logits = demo.activations(DemoImages(8).load(0, 8, (64, 64), 3).images, [fv.LOGITS])[fv.LOGITS].numpy()
    bias = demo.layer("logits").bias.numpy()
    sums = np.stack([collection.attributions[collection.images == i].sum(axis=0) for i in range(8)])
    np.testing.assert_allclose(sums, logits - bias, rtol=1e-4, atol=1e-4)


class _Crashing:
    """A source that dies (as a killed process would) when asked for its `crash_at`-th batch."""

    def __init__(self, source, crash_at):
        self.source, self.crash_at, self.loads = source, crash_at, 0
        self.names = source.names

    def __len__(self):
        return len(self.source)

    def load(self, *args):
        self.loads += 1
        if self.loads == self.crash_at:
            raise KeyboardInterrupt("killed")
        return self.source.load(*args)

    def describe(self):
        return self.source.describe()


def test_collection_resumes_after_a_crash_without_duplicating_positions(demo, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _collect(demo, tmp_path / "resumed", _Crashing(DemoImages(48), crash_at=3))
    assert sorted(p.name for p in (tmp_path / "resumed").glob("shard_*")) == ["shard_00000.npz", "shard_00001.npz"]
    assert not list((tmp_path / "resumed").glob(".*tmp*"))
    counting = _Crashing(DemoImages(48), crash_at=0)
    resumed = _collect(demo, tmp_path / "resumed", counting)
    assert counting.loads == 1  # only the missing third batch was read
    fresh = _collect(demo, tmp_path / "fresh")
    assert resumed.complete
    for key in ("activations", "images", "positions", "labels", "attributions"):
        np.testing.assert_array_equal(getattr(resumed, key), getattr(fresh, key))


def test_a_stop_keeps_finished_shards(demo, tmp_path):
    class StopAfter:
        def __init__(self):
            self.calls = 0

        def __call__(self, done, total):
            self.calls += 1

        def __bool__(self):
            return self.calls >= 1

    stop = StopAfter()
    partial = _collect(demo, tmp_path, stop=stop, progress=stop)
    assert not partial.complete and len(partial.images) == 16 * 3
    assert _collect(demo, tmp_path).complete


def test_other_settings_are_refused_with_the_differences(demo, tmp_path):
    _collect(demo, tmp_path)
    with pytest.raises(ValueError, match=r"positions_per_image: 3 -> 5"):
        _collect(demo, tmp_path, positions_per_image=5)


def test_a_folder_of_mixed_formats_skips_and_counts_bad_files(demo, tmp_path):
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, size in (("a.png", (40, 50)), ("b.jpg", (80, 64)), ("nested/c.bmp", (64, 64)), ("d.webp", (30, 90))):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / name)
    Image.fromarray(rng.integers(0, 255, (20, 20), dtype=np.uint8), "L").save(folder / "gray.gif")
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (folder / ".hidden.png").write_bytes(b"")
    with pytest.warns(UserWarning, match="skipped image") as caught:
        collection = collect_activations(demo, ImageFolder(folder), "conv4", tmp_path / "out",
                                         positions_per_image=2, batch_size=3)
    assert len(caught) == 2
    assert sorted(ImageFolder(folder).names[i] for i, _ in collection.skipped) == ["broken.png", "notes.txt"]
    assert len(np.unique(collection.images)) == 5 and collection.labels.min() == -1
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["source"]["files"] == 7
    assert Collection.load(tmp_path / "out").skipped == collection.skipped


@pytest.mark.parametrize("bad, message", [
    ({"positions_per_image": 0}, "positions_per_image must be a positive int, got 0"),
    ({"batch_size": 2.5}, "batch_size must be a positive int"),
])
def test_bad_settings_are_refused(demo, tmp_path, bad, message):
    with pytest.raises(ValueError, match=message):
        _collect(demo, tmp_path, **bad)


def test_a_layer_without_a_grid_or_vector_is_refused(tmp_path):
    import keras
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, padding="same", name="conv")(inputs)
    x = keras.layers.Reshape((8, 16), name="seq")(x)
    y = keras.layers.Dense(3, name="logits")(keras.layers.Flatten()(x))
    model = fv.load_model(keras.Model(inputs, y))
    with pytest.raises(ValueError, match="'seq' has output shape"):
        collect_activations(model, DemoImages(2), "seq", tmp_path)
