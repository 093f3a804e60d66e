"""The `keras.applications` families by name: constructor, preprocessing and input sizes.

featviz works on any Keras image model; this module only knows the ready-made ImageNet
classifiers of `keras.applications` well enough to build them from a name (`"vgg16"`,
`"MobileNetV2"`, `"efficientnet_b0"`) and feed them correctly.

Contract of `Application.preprocess`: images [batch, height, width, 3] float in [0, 1] (what
parameterizations produce) -> the family's model input. It rescales to [0, 255] and applies the
family's own `preprocess_input`: RGB->BGR and ImageNet mean subtraction for the Caffe-trained
families (VGG, ResNet v1), [-1, 1] for the TensorFlow-trained ones (MobileNet v1/v2, ResNet v2,
Inception, Xception, NASNet), mean/std scaling for DenseNet, and nothing more for the families
whose normalization is a layer inside the model (EfficientNet, EfficientNetV2, ConvNeXt,
MobileNetV3), which therefore take [0, 255] pixels. It is a pure tensor function, usable inside
`tf.function`.

`build_application(name, weights="imagenet")` lets Keras download the weights (or reuse its cache
in `~/.keras/models`). Without network that download fails, and the failure is raised as a
`WeightsDownloadError` that says which file to fetch elsewhere and how to pass it. Keras' own
download is used as it is (nothing of Keras or the socket defaults is replaced), so how long a
silently dropped connection waits is Keras' and the operating system's choice.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

import keras
import tensorflow as tf

Preprocess = Callable[[tf.Tensor], tf.Tensor]

# How Keras' `get_file` reports a failed download (it raises a bare Exception).
_FETCH_FAILURE = re.compile(r"URL fetch failure on (\S+?):? ")


class WeightsDownloadError(OSError):
    """Keras could not download a family's ImageNet weights (typically: no network)."""


@dataclasses.dataclass(frozen=True)
class Application:
    """A `keras.applications` family member and what it takes to feed it.

    Attributes:
        name: the canonical featviz name, e.g. "mobilenet_v2".
        constructor: the Keras constructor, e.g. `keras.applications.MobileNetV2`.
        preprocess: maps images [batch, height, width, 3] in [0, 1] to the model's input (see
            the module docstring).
        default_size: the side of the square input the ImageNet weights were trained at; the
            only size accepted with `include_top=True` and ImageNet weights.
        min_size: the smallest input side Keras accepts for this family.
    """

    name: str
    constructor: Callable[..., keras.Model]
    preprocess: Preprocess
    default_size: int
    min_size: int


def _keras_preprocess(module: ModuleType) -> Preprocess:
    """Wraps `module.preprocess_input` (which expects [0, 255] pixels) for [0, 1] images."""
    preprocess_input = module.preprocess_input

    def preprocess(images: tf.Tensor) -> tf.Tensor:
        """[batch, height, width, 3] in [0, 1] -> the model's input, same shape."""
        pixels = tf.convert_to_tensor(images, dtype_hint=tf.float32) * 255.0
        # featviz images are channels-last whatever the global Keras image_data_format says.
        return preprocess_input(pixels, data_format="channels_last")

    family = module.__name__.rsplit(".", 1)[-1]
    preprocess.__qualname__ = preprocess.__name__ = f"{family}_preprocess"
    return preprocess


def _family(
    module: ModuleType, members: dict[str, tuple[Callable[..., keras.Model], int]], min_size: int
) -> list[Application]:
    preprocess = _keras_preprocess(module)
    return [
        Application(name, constructor, preprocess, default_size, min_size)
        for name, (constructor, default_size) in members.items()
    ]


_apps = keras.applications
_REGISTRY: tuple[Application, ...] = tuple(
    _family(_apps.vgg16, {"vgg16": (_apps.VGG16, 224)}, 32)
    + _family(_apps.vgg19, {"vgg19": (_apps.VGG19, 224)}, 32)
    + _family(
        _apps.resnet,
        {
            "resnet50": (_apps.ResNet50, 224),
            "resnet101": (_apps.ResNet101, 224),
            "resnet152": (_apps.ResNet152, 224),
        },
        32,
    )
    + _family(
        _apps.resnet_v2,
        {
            "resnet50v2": (_apps.ResNet50V2, 224),
            "resnet101v2": (_apps.ResNet101V2, 224),
            "resnet152v2": (_apps.ResNet152V2, 224),
        },
        32,
    )
    + _family(_apps.mobilenet, {"mobilenet": (_apps.MobileNet, 224)}, 32)
    + _family(_apps.mobilenet_v2, {"mobilenet_v2": (_apps.MobileNetV2, 224)}, 32)
    + _family(
        _apps.mobilenet_v3,
        {
            "mobilenet_v3_small": (_apps.MobileNetV3Small, 224),
            "mobilenet_v3_large": (_apps.MobileNetV3Large, 224),
        },
        32,
    )
    + _family(
        _apps.efficientnet,
        {
            "efficientnet_b0": (_apps.EfficientNetB0, 224),
            "efficientnet_b1": (_apps.EfficientNetB1, 240),
            "efficientnet_b2": (_apps.EfficientNetB2, 260),
            "efficientnet_b3": (_apps.EfficientNetB3, 300),
            "efficientnet_b4": (_apps.EfficientNetB4, 380),
            "efficientnet_b5": (_apps.EfficientNetB5, 456),
            "efficientnet_b6": (_apps.EfficientNetB6, 528),
            "efficientnet_b7": (_apps.EfficientNetB7, 600),
        },
        32,
    )
    + _family(
        _apps.efficientnet_v2,
        {
            "efficientnetv2_b0": (_apps.EfficientNetV2B0, 224),
            "efficientnetv2_b1": (_apps.EfficientNetV2B1, 240),
            "efficientnetv2_b2": (_apps.EfficientNetV2B2, 260),
            "efficientnetv2_b3": (_apps.EfficientNetV2B3, 300),
            "efficientnetv2_s": (_apps.EfficientNetV2S, 384),
            "efficientnetv2_m": (_apps.EfficientNetV2M, 480),
            "efficientnetv2_l": (_apps.EfficientNetV2L, 480),
        },
        32,
    )
    + _family(_apps.inception_v3, {"inception_v3": (_apps.InceptionV3, 299)}, 75)
    + _family(
        _apps.inception_resnet_v2, {"inception_resnet_v2": (_apps.InceptionResNetV2, 299)}, 75
    )
    + _family(_apps.xception, {"xception": (_apps.Xception, 299)}, 71)
    + _family(
        _apps.densenet,
        {
            "densenet121": (_apps.DenseNet121, 224),
            "densenet169": (_apps.DenseNet169, 224),
            "densenet201": (_apps.DenseNet201, 224),
        },
        32,
    )
    + _family(
        _apps.convnext,
        {
            "convnext_tiny": (_apps.ConvNeXtTiny, 224),
            "convnext_small": (_apps.ConvNeXtSmall, 224),
            "convnext_base": (_apps.ConvNeXtBase, 224),
            "convnext_large": (_apps.ConvNeXtLarge, 224),
            "convnext_xlarge": (_apps.ConvNeXtXLarge, 224),
        },
        32,
    )
    + _family(
        _apps.nasnet,
        {"nasnet_mobile": (_apps.NASNetMobile, 224), "nasnet_large": (_apps.NASNetLarge, 331)},
        32,
    )
)
del _apps

NAMES: tuple[str, ...] = tuple(app.name for app in _REGISTRY)
"""The canonical names of all registered families, in registry order."""


def _normalize(name: str) -> str:
    """Drops case, underscores, hyphens and spaces: "MobileNetV2" -> "mobilenetv2"."""
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


_BY_KEY: dict[str, Application] = {_normalize(app.name): app for app in _REGISTRY}


def get_application(name: str) -> Application:
    """Looks up a `keras.applications` family member by name.

    Args:
        name: a registered name (`NAMES`) in any common spelling: case, underscores, hyphens
            and spaces are ignored, so "VGG16", "MobileNetV2", "mobilenetv2" and
            "EfficientNetB0" all work.

    Returns:
        The family's `Application`.

    Raises:
        TypeError: `name` is not a string.
        ValueError: no family has that name; the message lists close matches and all names.
    """
    if not isinstance(name, str):
        raise TypeError(f"an application name is a string, got {name!r} ({type(name).__name__})")
    app = _BY_KEY.get(_normalize(name))
    if app is not None:
        return app
    close = difflib.get_close_matches(_normalize(name), list(_BY_KEY), n=4, cutoff=0.6)
    hint = f"; closest: {', '.join(repr(_BY_KEY[key].name) for key in close)}" if close else ""
    raise ValueError(
        f"unknown keras.applications model {name!r}{hint}. Known: {', '.join(NAMES)}"
    )


def build_application(
    name: str,
    weights: str | os.PathLike[str] | None = "imagenet",
    input_shape: tuple[int, int, int] | None = None,
    include_top: bool = True,
) -> keras.Model:
    """Builds a `keras.applications` model by name.

    Args:
        name: a registered name, in any spelling `get_application` accepts.
        weights: "imagenet" to let Keras download the ImageNet weights (or reuse its cache in
            `~/.keras/models`); the path of a weights file to load; None for random weights
            (needs no network: for listing layers or timing).
        input_shape: (height, width, 3). None: (default_size, default_size, 3). With
            `include_top=True` and ImageNet weights Keras accepts only the default size.
        include_top: whether to keep the classifier (logits and softmax).

    Returns:
        The Keras model, outputs the 1000 ImageNet class probabilities when `include_top`.

    Raises:
        TypeError: `weights` is not a string, a path or None.
        FileNotFoundError: `weights` is a path that does not exist.
        ValueError: unknown name, or Keras rejected the arguments (typically `input_shape`; the
            message gives the family's valid sizes).
        WeightsDownloadError: the ImageNet weights could not be downloaded; the message names
            the file to fetch on a machine with network access and how to pass it.
    """
    app = get_application(name)
    weights = _checked_weights(weights)
    if input_shape is None:
        input_shape = (app.default_size, app.default_size, 3)
    try:
        return app.constructor(weights=weights, input_shape=tuple(input_shape), include_top=include_top)
    except ValueError as error:
        size = (app.default_size, app.default_size, 3)
        raise ValueError(
            f"cannot build {app.name!r} with input_shape={input_shape}, "
            f"include_top={include_top}, weights={weights!r}: {error}. {app.name!r} takes "
            f"(height, width, 3) inputs of at least {app.min_size}x{app.min_size}; with "
            f"include_top=True and ImageNet weights only {size} (use include_top=False for "
            f"other sizes)"
        ) from error
    except Exception as error:  # Keras turns URL errors into a bare Exception.
        failure = _FETCH_FAILURE.search(str(error))
        if weights != "imagenet" or failure is None:
            raise
        origin = failure.group(1)
        raise WeightsDownloadError(
            _offline_message(app.name, origin.rsplit("/", 1)[-1], origin, error)) from error


def _checked_weights(weights: Any) -> str | None:
    if weights is None or weights == "imagenet":
        return weights
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if not isinstance(weights, str):
        raise TypeError(
            f"weights must be 'imagenet', None or the path of a weights file, got {weights!r} "
            f"({type(weights).__name__})"
        )
    if not os.path.isfile(weights):
        raise FileNotFoundError(
            f"weights file {weights!r} does not exist; weights must be 'imagenet', None (random "
            f"weights) or the path of a weights file"
        )
    return weights


def _offline_message(app_name: str, fname: str | None, origin: str | None, error: Exception) -> str:
    fname = fname or "file.h5"
    return (
        f"could not download ImageNet weights for {app_name!r} (no network?): "
        f"{type(error).__name__}: {error}. Download the weights file on a machine with network "
        f"access (Keras name: {fname}, from {origin}) and pass its path: "
        f"load_model({app_name!r}, weights='/path/to/{fname}'), or in gin: "
        f"load_model.weights = '/path/to/{fname}', or copy it into ~/.keras/models/ "
        f"($KERAS_HOME/models/ where KERAS_HOME is set)."
    )
