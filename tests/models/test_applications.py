"""The keras.applications registry: names, preprocessing, input sizes, building, offline errors.

No test downloads anything: Keras' download function is replaced by one that fails like an
offline machine, and the few models built use random weights.
"""

from __future__ import annotations

import re
import socket

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.utils import file_utils

import featviz as fv
from featviz.models.applications import (NAMES, WeightsDownloadError, build_application,
                                  get_application)

_REAL_GET_FILE = file_utils.get_file

# What each family's preprocessing must compute from pixels p in [0, 255], written out here
# rather than read from Keras so that a family filed under the wrong module is caught.
_CAFFE_BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)
_TORCH_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_TORCH_STD = np.array([0.229, 0.224, 0.225], np.float32)
EXPECTED_PREPROCESSING = {
    "caffe": (lambda p: p[..., ::-1] - _CAFFE_BGR_MEAN,
              ["vgg16", "vgg19", "resnet50", "resnet101", "resnet152"]),
    "tf": (lambda p: p / 127.5 - 1.0,
           ["resnet50v2", "resnet101v2", "resnet152v2", "mobilenet", "mobilenet_v2",
            "inception_v3", "inception_resnet_v2", "xception", "nasnet_mobile", "nasnet_large"]),
    "torch": (lambda p: (p / 255.0 - _TORCH_MEAN) / _TORCH_STD,
              ["densenet121", "densenet169", "densenet201"]),
    "in_model": (lambda p: p,
                 ["mobilenet_v3_small", "mobilenet_v3_large"]
                 + [f"efficientnet_b{i}" for i in range(8)]
                 + [f"efficientnetv2_{v}" for v in ("b0", "b1", "b2", "b3", "s", "m", "l")]
                 + [f"convnext_{v}" for v in ("tiny", "small", "base", "large", "xlarge")]),
}
EXPECTED = {name: formula for formula, names in EXPECTED_PREPROCESSING.values() for name in names}
# MobileNetV3 only warns about non-default sizes with ImageNet weights instead of refusing them.
FIXED_SIZE = [name for name in NAMES if not name.startswith("mobilenet_v3")]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Keras' downloads fail the way they do without network; returns the requested files."""
    requested = []

    def get_file(fname=None, origin=None, **kwargs):
        requested.append(fname)
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -2] Name or service not "
                        f"known")

    monkeypatch.setattr(file_utils, "get_file", get_file)
    return requested


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).uniform(size=(2, 5, 7, 3)).astype(np.float32)


def test_every_registered_name_has_an_expected_preprocessing():
    assert sorted(EXPECTED) == sorted(NAMES)
    assert len(NAMES) == len(set(NAMES))


@pytest.mark.parametrize("name", NAMES)
def test_registry_entry_is_consistent(name, images):
    app = get_application(name)
    assert app.name == name
    assert getattr(keras.applications, app.constructor.__name__) is app.constructor
    assert app.min_size <= app.default_size
    compiled = tf.function(app.preprocess)
    out = compiled(tf.constant(images))
    assert out.shape == images.shape and out.dtype == tf.float32
    np.testing.assert_allclose(out.numpy(), EXPECTED[name](images * 255.0), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_common_spellings_resolve(name):
    camel = name.replace("_", "").upper()
    assert get_application(camel) is get_application(name)
    assert get_application(name.replace("_", "-")) is get_application(name)


@pytest.mark.parametrize(
    "spelling, name",
    [("VGG16", "vgg16"), ("resnet50", "resnet50"), ("ResNet50V2", "resnet50v2"),
     ("MobileNetV2", "mobilenet_v2"), ("mobilenetv2", "mobilenet_v2"),
     ("MobileNetV3Small", "mobilenet_v3_small"), ("EfficientNetB0", "efficientnet_b0"),
     ("EfficientNetV2S", "efficientnetv2_s"), ("efficientnet_v2_b0", "efficientnetv2_b0"),
     ("InceptionResNetV2", "inception_resnet_v2"), ("ConvNeXtTiny", "convnext_tiny"),
     ("NASNetMobile", "nasnet_mobile"), ("DenseNet121", "densenet121")],
)
def test_keras_spellings(spelling, name):
    assert get_application(spelling).name == name


def test_vgg16_preprocess_matches_keras(images):
    ours = get_application("vgg16").preprocess(tf.constant(images))
    theirs = keras.applications.vgg16.preprocess_input(images * 255.0)
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-4)


def test_preprocess_ranges():
    ends = tf.constant([[[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]]])
    np.testing.assert_allclose(
        get_application("mobilenet").preprocess(ends), [[[[-1] * 3, [1] * 3]]]
    )
    np.testing.assert_allclose(
        get_application("efficientnet_b0").preprocess(ends), [[[[0] * 3, [255] * 3]]]
    )


def test_preprocess_does_not_modify_numpy_input(images):
    before = images.copy()
    get_application("mobilenet").preprocess(images)
    np.testing.assert_array_equal(images, before)


def test_unknown_name_lists_close_matches_and_all_names():
    expected = r"unknown keras.applications model 'vgg'; closest: .*'vgg16'"
    with pytest.raises(ValueError, match=expected) as info:
        get_application("vgg")
    assert "Known: vgg16, vgg19, resnet50" in str(info.value)
    assert "convnext_tiny" in str(info.value)


def test_name_must_be_a_string():
    with pytest.raises(TypeError, match="got 16"):
        get_application(16)


@pytest.mark.parametrize("name", FIXED_SIZE)
def test_default_size_is_the_one_keras_requires(name):
    """Keras refuses other sizes with the classifier and ImageNet weights, before building."""
    size = get_application(name).default_size
    expected = re.escape(str((size, size, 3)))
    message = rf"cannot build '{name}'.*should be {expected}.*only {expected}"
    with pytest.raises(ValueError, match=message):
        build_application(name, input_shape=(size + 8, size + 8, 3))


@pytest.mark.parametrize("name", NAMES)
def test_min_size_is_the_one_keras_requires(name):
    """Keras checks the minimum size before building, so this is fast for every family."""
    size = get_application(name).min_size
    with pytest.raises(ValueError, match=rf"at least {size}x{size}"):
        build_application(
            name, weights=None, include_top=False, input_shape=(size - 1, size - 1, 3)
        )


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "mobilenet"])
def test_build_with_random_weights(name, offline):
    model = build_application(name, weights=None)
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 1000)
    assert offline == []


def test_build_without_top_at_another_size():
    model = build_application(
        "mobilenet_v3_small", weights=None, include_top=False, input_shape=(96, 96, 3)
    )
    assert model.input_shape == (None, 96, 96, 3)
    assert model.output_shape[1:3] == (3, 3)


def test_build_loads_a_weights_file(tmp_path):
    keras.utils.set_random_seed(1)
    saved = build_application("mobilenet_v3_small", weights=None)
    path = tmp_path / "small.weights.h5"
    saved.save_weights(path)
    keras.utils.set_random_seed(2)
    loaded = build_application("mobilenet_v3_small", weights=path)
    for ours, theirs in zip(loaded.weights, saved.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_missing_weights_file_is_named(tmp_path):
    path = str(tmp_path / "vgg16.h5")
    with pytest.raises(FileNotFoundError, match=re.escape(repr(path))):
        build_application("vgg16", weights=path)
    expected = "'imagnet' does not exist; weights must be 'imagenet'"
    with pytest.raises(FileNotFoundError, match=expected):
        build_application("vgg16", weights="imagnet")


def test_weights_of_another_type_are_rejected():
    with pytest.raises(TypeError, match=r"weights must be 'imagenet', None or the path.*got 1"):
        build_application("vgg16", weights=1)


def test_offline_imagenet_load_explains_what_to_do(offline):
    timeout = socket.getdefaulttimeout()
    with pytest.raises(WeightsDownloadError) as info:
        build_application("mobilenet_v3_small")
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert offline == ["weights_mobilenet_v3_small_224_1.0_float.h5"]
    assert message.startswith(
        "could not download ImageNet weights for 'mobilenet_v3_small' (no network?)"
    )
    assert "Keras name: weights_mobilenet_v3_small_224_1.0_float.h5" in message
    assert "load_model('mobilenet_v3_small', weights='/path/to/" in message
    assert "load_model.weights = " in message and "~/.keras/models/" in message
    # Keras' download function and the socket timeout are restored afterwards.
    assert file_utils.get_file.__name__ == "get_file" and file_utils.get_file.__module__ == __name__
    assert socket.getdefaulttimeout() == timeout


@pytest.mark.slow
def test_a_family_with_preprocessing_inside_renders_a_class_and_a_channel():
    """MobileNetV3 small (Rescaling inside the model, softmax a separate layer), random weights
    at 48 px: logits read before the softmax, a render, unchanged predictions.
    (`experiments/applications_render.py` renders every family.)"""
    keras.utils.set_random_seed(0)
    model = fv.load_model("mobilenet_v3_small", weights=None, input_shape=(48, 48, 3))
    base = model.model
    pixels = tf.constant(np.random.default_rng(0).uniform(size=(2, 48, 48, 3)), tf.float32)
    predictions = base(model.preprocess(pixels), training=False).numpy()
    logits = model.extractor([fv.LOGITS])(model.preprocess(pixels))[fv.LOGITS]
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), predictions, atol=1e-6)
    render = fv.Visualizer(model, [fv.ClassLogit("goldfish"), fv.Channel("expanded_conv_4_add", 0)],
                           param=fv.Fourier(40), steps=3).run()
    assert render.images.shape == (2, 40, 40, 3) and np.all(np.isfinite(render.history["loss"]))
    np.testing.assert_array_equal(base(model.preprocess(pixels), training=False).numpy(), predictions)


def test_a_model_file_with_a_lambda_layer_is_refused_with_how_to_trust_it(tmp_path):
    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Lambda(lambda x: x * 2.0, name="double")(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, keras.layers.Conv2D(2, 3, name="conv")(outputs)).save(path)
    with pytest.raises(ValueError, match=r"Lambda layer.*safe_mode=False.*load_model.safe_mode = False"):
        fv.load_model(str(path))
    assert fv.load_model(str(path), safe_mode=False).layer("conv").name == "conv"
