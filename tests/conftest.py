"""Shared fixtures: a tiny named-layer model, a clean gin config around every test, quiet TF."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gin
import keras
import pytest

import featviz as fv

TINY_CLASSES = ("zero", "one", "two", "three", "four")


@pytest.fixture(autouse=True)
def clean_gin():
    """Every test starts and ends with an empty gin config."""
    gin.clear_config()
    yield
    gin.clear_config()


def build_tiny_model(size: int = 32, channels: int = 3, seed: int = 0) -> keras.Model:
    """conv1 (8 ch) -> pool1 -> conv2 (16 ch) -> gap -> logits (5) -> softmax, fixed weights."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, channels), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(len(TINY_CLASSES), name="logits")(x)
    outputs = keras.layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="tiny")


@pytest.fixture(scope="session")
def tiny_keras_model() -> keras.Model:
    return build_tiny_model()


@pytest.fixture(scope="session")
def tiny(tiny_keras_model) -> fv.VisModel:
    """The tiny model as a VisModel with class names."""
    return fv.load_model(tiny_keras_model, class_names=TINY_CLASSES)


@pytest.fixture(scope="session")
def demo() -> fv.VisModel:
    """The bundled demo model."""
    return fv.load_model("demo")
