"""Neurons and their receptive fields: only the field changes, off-centre positions, the job."""

from __future__ import annotations

import json

import gin
import keras
import numpy as np
import pytest

import featviz as fv
from featviz.jobs import experiment

layers = keras.layers


def _linear_stack() -> fv.VisModel:
    """conv 3x3 valid -> conv 3x3 s2 same -> average pool 2 -> conv 3x3 valid, on 40x41.

    No nonlinearity, no max pooling and no dilation (which leaves holes in the field's box):
    the gradient of a neuron is non-zero on every pixel of its theoretical receptive field, so
    exactly those pixels must change.
    """
    keras.utils.set_random_seed(1)
    inputs = keras.Input((40, 41, 3), name="image")
    x = layers.Conv2D(4, 3, name="conv1")(inputs)
    x = layers.Conv2D(4, 3, strides=2, padding="same", name="conv2")(x)
    x = layers.AveragePooling2D(2, name="pool")(x)
    x = layers.Conv2D(4, 3, name="conv3")(x)
    return fv.load_model(keras.Model(inputs, x, name="stack"))


def _initial_images(param: fv.Pixel, batch: int, seed: int = 0) -> np.ndarray:
    return param.to_images(param.initial(batch, seed)).numpy()


def _changed(fields: list[fv.NeuronField], initial: np.ndarray) -> list[np.ndarray]:
    """Per neuron, the [height, width] mask of the pixels that differ from their initial value."""
    return [np.any(field.image != initial[i], axis=-1) for i, field in enumerate(fields)]


def _box_mask(box: tuple[int, int, int, int], shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    top, left, bottom, right = box
    mask[top:bottom, left:right] = True
    return mask


def test_exactly_the_receptive_field_changes_in_a_linear_stack_at_any_position():
    model = _linear_stack()
    param = fv.Pixel((40, 41))
    # conv3's grid is 7x8; (0, 0) and (6, 7) have fields clipped at the image border.
    positions = [(0, 0), None, (6, 7), (1, 4)]
    names = ["conv1", "conv2", "conv3", "pool"]
    fields = fv.visualize_neurons(model, names, channels=[0, 1, 2, 3], positions=positions,
                                  param=param, steps=4, learning_rate=0.1)
    assert [f.layer for f in fields] == ["conv1", "conv2", "pool", "conv3"]  # input to output
    by_layer = {f.layer: f for f in fields}
    assert by_layer["conv1"].position == (0, 0) and by_layer["conv1"].channel == 0
    assert by_layer["conv2"].position == (9, 10)  # the centre of conv2's 19x20 grid
    assert by_layer["conv3"].position == (6, 7) and by_layer["pool"].position == (1, 4)
    for field, changed in zip(fields, _changed(fields, _initial_images(param, 4))):
        expected = _box_mask(field.region, (40, 41))
        np.testing.assert_array_equal(changed, expected, err_msg=f"{field.layer} {field.position}")
        # Linear layers: the effective field is the theoretical one.
        assert field.effective_region == field.region
    # By hand, per axis (size, jump, start; rows of 40 | columns of 41): conv1 (3, 1, 1 | 1);
    # conv2 pads 0 | 1 on top/left: (5, 2, 2 | 1); pool (7, 4, 3 | 2); conv3 (15, 4, 7 | 6).
    # Position (6, 7) is centred on (31, 34): rows 24..38, columns 27..41, clipped to 40.
    assert by_layer["conv3"].region == (24, 27, 39, 41)
    assert by_layer["conv1"].region == (0, 0, 3, 3)


@pytest.mark.parametrize("model_name, layers, channels, positions, size", [
    ("tiny", ["conv1", "conv2"], [4, 1], [None, (2, 3)], 32),
    ("demo", ["conv2", "pool3", "conv4"], None, [(3, 29), None, (1, 6)], 64),
])
def test_pixels_outside_the_field_keep_their_initial_values_on_relu_models(
        request, model_name, layers, channels, positions, size):
    model = request.getfixturevalue(model_name)
    param = fv.Pixel(size, init="uniform")
    fields = fv.visualize_neurons(model, layers, channels=channels, positions=positions,
                                  param=param, steps=8, learning_rate=0.1)
    initial = _initial_images(param, len(layers))
    for i, (field, changed) in enumerate(zip(fields, _changed(fields, initial))):
        inside = _box_mask(field.region, (size, size))
        np.testing.assert_array_equal(field.image[~inside], initial[i][~inside])
        assert changed.any(), f"{field.layer}: nothing changed"
        assert field.activation > 0
        top, left, bottom, right = field.effective_region
        r_top, r_left, r_bottom, r_right = field.region
        assert r_top <= top < bottom <= r_bottom and r_left <= left < right <= r_right
    if model_name == "tiny":
        assert fields[1].crop().shape == (8, 8, 3)  # conv2: 8x8 field, stride 2
    else:
        # demo conv4: size 38, stride 8, start 3.5 (3x3 same convs and 2x2 pools). Position
        # (1, 6) is centred on (11.5, 51.5): rows -7..30 and columns 33..70, clipped to 0..30
        # and 33..63 by the borders.
        assert fields[2].position == (1, 6) and fields[2].region == (0, 33, 31, 64)


def test_no_channel_picks_the_one_most_active_at_the_neuron_on_the_initial_image(tiny):
    param = fv.Pixel(32)
    fields = fv.visualize_neurons(tiny, ["conv2", "conv1"], channels=[None, 3], positions=[None, (5, 6)],
                                  param=param, seed=3, steps=2)
    initial = _initial_images(param, 2, seed=3)
    acts = tiny.extractor(["conv1", "conv2"])(initial)
    assert fields[0].layer == "conv1" and fields[0].channel == 3  # given
    assert fields[1].channel == int(np.argmax(acts["conv2"][1, 8, 8]))  # conv2 is image 1
    assert fields[1].activation > 0


def test_the_neuron_setup_refuses_what_would_move_pixels_across_the_field(tiny):
    with pytest.raises(ValueError, match="needs a Pixel parameterization at the model's input size"):
        fv.visualize_neurons(tiny, ["conv1"], param=fv.Fourier(32))
    with pytest.raises(ValueError, match="needs a Pixel parameterization"):
        fv.visualize_neurons(tiny, ["conv1"], param=fv.Pixel(48))
    with pytest.raises(ValueError, match="ScheduledTransform edits every pixel between steps"):
        fv.visualize_neurons(tiny, ["conv1"], between_steps=[fv.ScheduledTransform(fv.GaussianBlur(1.0))])
    with pytest.raises(TypeError, match=r"visualize_neurons fixes optimizer, transforms"):
        fv.visualize_neurons(tiny, ["conv1"], transforms=[fv.Jitter(2)], optimizer="adamw")
    with pytest.raises(ValueError, match=r"channels must be one value or one per layer \(2\)"):
        fv.visualize_neurons(tiny, ["conv1", "conv2"], channels=[0, 1, 2])
    with pytest.raises(ValueError, match=r"position \(20, 20\) is outside the 16x16 grid of layer 'conv2'"):
        fv.visualize_neurons(tiny, ["conv2"], positions=(20, 20))


def test_neuron_fields_job_writes_images_crops_figure_and_numbers(tiny_keras_model, tmp_path, capsys):
    model_path = tmp_path / "tiny.keras"
    tiny_keras_model.save(model_path)
    gin.parse_config(f"""
        experiment.job = @neuron_fields
        neuron_fields.model = @load_model()
        neuron_fields.layers = ['conv2', 'conv1']
        neuron_fields.channels = [1, 2]
        neuron_fields.positions = (3, 3)
        neuron_fields.param = @Pixel()
        Visualizer.steps = 3
        load_model.name = '{model_path}'
        Pixel.size = 32
        Pixel.init = 'uniform'
    """)
    logdir = tmp_path / "run"
    fields = experiment(str(logdir))
    files = sorted(str(p.relative_to(logdir)) for p in logdir.rglob("*.png"))
    assert files == ["fields/00_conv1_image.png", "fields/00_conv1_rf.png", "fields/01_conv2_image.png",
                     "fields/01_conv2_rf.png", "neurons.png"]
    assert fv.load_image(logdir / "fields/01_conv2_rf.png").shape == fields[1].crop().shape
    numbers = json.loads((logdir / "receptive_fields.json").read_text())
    assert [(n["layer"], n["channel"], n["position"], n["rf_size"]) for n in numbers] == [
        ("conv1", 2, [3, 3], [3, 3]), ("conv2", 1, [3, 3], [8, 8])]
    table = capsys.readouterr().out
    assert "conv2:1@3,3" in table and "8x8" in table
