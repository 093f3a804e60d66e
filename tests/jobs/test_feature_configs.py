"""The feature, neuron and activation-map configs name layers that exist, lower to higher."""

from __future__ import annotations

import gin
import pytest

import featviz as fv
from featviz import configs


@pytest.mark.parametrize("config, binding, model", [
    ("vgg16_features.gin", "channel_sweep.layers", "vgg16"),
    ("vgg16_neurons.gin", "neuron_fields.layers", "vgg16"),
    ("demo_features.gin", "channel_sweep.layers", "demo"),
    ("demo_neurons.gin", "neuron_fields.layers", "demo"),
    ("activation_maps.gin", "activation_grids.layers", "demo"),
])
def test_config_layers_exist_in_model_order(config, binding, model):
    configs.parse([config])
    layers = gin.query_parameter(binding)
    names = fv.load_model(model, weights=None).layer_names
    assert all(layer in names for layer in layers)
    assert layers == sorted(layers, key=names.index)
    if model == "vgg16":  # every convolutional layer, block1_conv1 .. block5_conv3
        assert layers == [name for name in names if "_conv" in name]


def test_activation_maps_config_image_ships_with_the_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the image is found beside the config, not in the working directory
    configs.parse(["activation_maps"])
    assert str(gin.query_parameter("activation_grids.image")) == "%IMAGE"
    image = gin.query_parameter("IMAGE/macro.value")
    assert image == str(configs.IMAGES / "astronaut.jpg")
    assert fv.load_image(image).shape[-1] == 3
