"""Every user-facing entry point refuses bad values with an error naming them and what is valid.

One row per mistake a user can make; add a row whenever a new knob or entry point appears.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import featviz as fv
from featviz import cli


def _visualize(**kwargs):
    arguments = {"model": "demo", "objective": fv.ClassLogit("checkerboard"), "steps": 1, **kwargs}
    return fv.Visualizer(**arguments).run()


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# (id, action taking tmp_path, expected exception, regex the message must match)
CASES = [
    # Parameterizations and transforms (Python constructors and gin bindings alike).
    ("size too small", lambda t: fv.Fourier(size=4), ValueError, r"size must be an int or \(height, width\) of ints >= 8, got 4"),
    ("channels", lambda t: fv.Pixel(32, channels=2), ValueError, "channels must be 1 or 3, got 2"),
    ("pixel activation", lambda t: fv.Pixel(32, activation="tanh"), ValueError, "activation must be 'sigmoid' or 'clip', got 'tanh'"),
    ("init", lambda t: fv.Fourier(32, init="gaussian"), ValueError, r"init must be one of \('normal', 'uniform'\)"),
    ("jitter", lambda t: fv.Jitter(-1), ValueError, "Jitter pixels must be a non-negative int, got -1"),
    ("pad mode", lambda t: fv.Pad(2, mode="wrap"), ValueError, "Pad mode must be constant, reflect or symmetric, got 'wrap'"),
    ("scales", lambda t: fv.RandomScale((0.0, 1.0)), ValueError, "RandomScale scales must be positive"),
    ("blur sigma", lambda t: fv.GaussianBlur(-1.0), ValueError, "GaussianBlur sigma must be >= 0, got -1.0"),
    ("zoom out", lambda t: fv.Zoom(0.5), ValueError, "Zoom factor must be >= 1"),
    ("schedule every", lambda t: fv.ScheduledTransform(fv.GaussianBlur(1.0), every=0), ValueError, "every must be a positive int, got 0"),
    ("schedule class", lambda t: fv.ScheduledTransform(fv.GaussianBlur), TypeError, "needs a transform instance"),
    ("transform class", lambda t: _visualize(transforms=[fv.Jitter]), TypeError, r"transform 0 is .*Jitter.*with parentheses"),
    # The loop.
    ("negative steps", lambda t: _visualize(steps=-1), ValueError, "steps must be a positive int, got -1"),
    ("fractional steps", lambda t: _visualize(steps=2.5), ValueError, "steps must be a positive int, got 2.5"),
    ("learning rate", lambda t: _visualize(learning_rate=-0.1), ValueError, "learning_rate must be a positive float, got -0.1"),
    ("optimizer", lambda t: _visualize(optimizer="adamm"), ValueError, "unknown optimizer 'adamm'; use a Keras optimizer name such as 'adam'"),
    ("seed", lambda t: _visualize(seed="a"), ValueError, "seed must be an int, got 'a'"),
    ("objective type", lambda t: _visualize(objective="checkerboard"), TypeError, "objective must be an Objective"),
    ("batch too small", lambda t: _visualize(objective=[fv.ClassLogit(0), fv.ClassLogit(1)], param=fv.Fourier(64, batch=1)),
     ValueError, "targets image 1 but the parameterization has batch=1; use batch=2"),
    ("channel count", lambda t: _visualize(param=fv.Pixel(64, channels=1)), ValueError, "makes 1-channel images but model 'demo' takes 3-channel input"),
    ("callback class", lambda t: _visualize(callbacks=[fv.TensorBoard]), TypeError, "not a featviz Callback instance"),
    ("no output dir", lambda t: _visualize(callbacks=[fv.ImageSaver()]), ValueError, "ImageSaver has no output directory"),
    # Objectives against the model.
    ("class name", lambda t: _visualize(objective=fv.ClassLogit("vertical_stripe")), ValueError, "'vertical_stripes'"),
    ("class index", lambda t: _visualize(objective=fv.ClassLogit(12)), ValueError, r"class index 12 is out of range; valid indices: 0..11"),
    ("layer", lambda t: _visualize(objective=fv.Channel("conv9", 0)), ValueError, "no layer 'conv9'.*Valid layer names: .*conv1"),
    ("channel", lambda t: _visualize(objective=fv.Channel("conv1", 999)), ValueError, r"channel 999 is out of range for layer 'conv1', which has \d+ channels"),
    ("neuron position", lambda t: _visualize(objective=fv.Neuron("conv1", 0, position=(99, 0))), ValueError, "outside the 64x64 grid of layer 'conv1'"),
    ("stack member", lambda t: fv.stack([fv.ClassLogit(0), "grid"]), TypeError, "stack\\(\\) element 1 is 'grid', not an Objective"),
    ("weights", lambda t: fv.weighted_sum([fv.ClassLogit(0)], [1.0, 2.0]), ValueError, "one weight per term"),
    # Model files and names.
    ("missing model", lambda t: fv.load_model(str(t / "missing.keras")), FileNotFoundError, "model file '.*missing.keras' does not exist"),
    ("corrupt model", lambda t: fv.load_model(_write(t, "bad.keras", b"not a zip")), ValueError, "could not load a Keras model from '.*bad.keras'"),
    ("unknown application", lambda t: fv.load_model("vgg17"), ValueError, "vgg17"),
    # Image files.
    ("missing image", lambda t: fv.load_image(t / "none.png"), FileNotFoundError, "image file '.*none.png' does not exist"),
    ("not an image", lambda t: fv.load_image(_write(t, "notes.png", b"hello")), ValueError, "is not an image file Pillow can read"),
    ("init image", lambda t: fv.Fourier(64, init=_write(t, "x.jpg", b"hello")).initial(1, 0), ValueError, "is not an image file"),
    # The command line.
    ("missing config", lambda t: cli.main(["run", "nope.gin"]), SystemExit, "gin config 'nope.gin': no such file and no shipped config of that name; the shipped configs are .*quickstart"),
    ("gin typo", lambda t: cli.main(["run", "quickstart", "--gin_param=Visualiser.steps=3", "--logdir", str(t / "r")]),
     SystemExit, "invalid gin configuration: .*Visualiser"),
    ("gin syntax", lambda t: cli.main(["run", "quickstart", "--gin_param=Visualizer.steps=", "--logdir", str(t / "r")]),
     SystemExit, "invalid gin configuration"),
    ("unwritable logdir", lambda t: cli.main(["run", "quickstart", "--logdir", _write(t, "file", b"") + "/run"]),
     SystemExit, "cannot write to run directory '.*file/run'"),
]


@pytest.mark.parametrize("action, error, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(tmp_path, action, error, message):
    with pytest.raises(error, match=message):
        action(tmp_path)


def test_grayscale_and_rgba_inputs_are_converted_explicitly(tmp_path):
    gray = tmp_path / "gray.png"
    Image.fromarray(np.full((8, 8), 128, np.uint8), "L").save(gray)
    rgb = fv.load_image(gray)
    assert rgb.shape == (8, 8, 3) and np.allclose(rgb, 128 / 255)
    rgba = tmp_path / "rgba.png"
    pixels = np.zeros((8, 8, 4), np.uint8)  # fully transparent black
    Image.fromarray(pixels, "RGBA").save(rgba)
    assert np.allclose(fv.load_image(rgba), 1.0)  # composited on white, not black
    assert fv.load_image(rgba, channels=1).shape == (8, 8, 1)
