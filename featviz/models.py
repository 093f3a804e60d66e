"""Models: loading any Keras image model, its preprocessing, class names and feature extraction.

`load_model(name)` accepts the bundled `"demo"` model, a `keras.applications` family name
(`"vgg16"`, `"mobilenet"`, ... with that family's own `preprocess_input`) or a `.keras`/`.h5`
file, and returns a `VisModel`: the Keras model plus what visualization needs around it — a
preprocessing function from [0, 1] images to the model's input, class names, layer lookup with
helpful errors, and `extractor(keys)`, one multi-output model computing exactly the activations
the objectives asked for. The user's model object is never modified.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path

import gin
import keras
import tensorflow as tf

from featviz import applications
from featviz.classes import imagenet_class_names, resolve_class
from featviz.objectives import LOGITS

Preprocess = Callable[[tf.Tensor], tf.Tensor]
# Final activations that turn logits into probabilities; the logits are read before them.
_SQUASHING = ("softmax", "sigmoid")


def _identity(images: tf.Tensor) -> tf.Tensor:
    return images


@dataclasses.dataclass(frozen=True, eq=False)
class VisModel:
    """A Keras image model prepared for visualization.

    Attributes:
        model: the Keras model (never modified by featviz).
        preprocess: maps images [batch, height, width, channels] in [0, 1] to the model's input.
        class_names: one name per output class, or None.
        name: a short name for logs and file names.
    """

    model: keras.Model
    preprocess: Preprocess = _identity
    class_names: tuple[str, ...] | None = None
    name: str = "model"

    def __post_init__(self) -> None:
        if not isinstance(self.model, keras.Model):
            raise TypeError(f"expected a keras.Model, got {type(self.model).__name__}")
        shape = self.input_shape
        if len(shape) != 4 or shape[-1] not in (1, 3):
            raise ValueError(
                f"featviz visualizes image models whose input is [batch, height, width, 1 or 3] "
                f"(channels last); model {self.model.name!r} has input shape {shape}"
            )

    @property
    def input_shape(self) -> tuple:
        """The model's input shape, [batch, height, width, channels] with None for free dims."""
        inputs = self.model.inputs
        if not inputs or len(inputs) != 1:
            raise ValueError(
                f"featviz needs a built model with exactly one image input; model "
                f"{self.model.name!r} has {len(inputs or [])} inputs (call it on an input or "
                f"give Sequential models an Input layer)"
            )
        return tuple(inputs[0].shape)

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(height, width) of a fixed-size model, None when either is free."""
        height, width = self.input_shape[1:3]
        return None if height is None or width is None else (height, width)

    @property
    def input_channels(self) -> int:
        """1 (grayscale) or 3 (RGB)."""
        return self.input_shape[-1]

    @functools.cached_property
    def layer_names(self) -> tuple[str, ...]:
        """Names of the model's layers, in order."""
        return tuple(layer.name for layer in self.model.layers)

    def layer(self, name: str) -> keras.layers.Layer:
        """The layer called `name`; an unknown name raises a ValueError listing valid ones."""
        if name in self.layer_names:
            return self.model.get_layer(name)
        close = difflib.get_close_matches(name, self.layer_names, n=5, cutoff=0.5)
        hint = f" Closest: {', '.join(map(repr, close))}." if close else ""
        raise ValueError(
            f"model {self.name!r} has no layer {name!r}.{hint} Valid layer names: "
            f"{', '.join(self.layer_names)} (run `featviz layers {self.name}` to list them with "
            f"their shapes)"
        )

    def output_shape(self, key: str) -> tuple:
        """Output shape of layer `key` (or of the logits for `LOGITS`), batch dimension first."""
        return tuple(self._tensor(key).shape)

    def channels(self, layer: str) -> int:
        """Number of channels (last dimension) of a layer's output."""
        return int(self.output_shape(layer)[-1])

    @functools.cached_property
    def num_classes(self) -> int:
        """The number of classes, read off the logits."""
        return int(self._tensor(LOGITS).shape[-1])

    def class_index(self, target: int | str) -> int:
        """Resolves a class index or name; errors name the closest valid classes."""
        return resolve_class(target, self.class_names, self.num_classes)

    @functools.cached_property
    def _logits(self) -> keras.KerasTensor:
        """The symbolic pre-softmax output, whichever way the model computes its softmax."""
        output = self.model.outputs[0]
        if len(self.model.outputs) != 1:
            raise ValueError(
                f"model {self.name!r} has {len(self.model.outputs)} outputs; ClassLogit needs one "
                f"classification output"
            )
        last = output._keras_history.operation
        activation = getattr(last, "activation", None)
        activation_name = getattr(activation, "__name__", "")
        if isinstance(last, keras.layers.Softmax) or (
            isinstance(last, keras.layers.Activation) and activation_name in _SQUASHING
        ):
            return last.input
        if activation_name in _SQUASHING:
            # Softmax fused into the last Dense/Conv: recompute that layer without it, sharing
            # its weights (the user's layer keeps its activation).
            return _PreActivation(last)(last.input)
        return output

    def _tensor(self, key: str) -> keras.KerasTensor:
        if key == LOGITS:
            return self._logits
        layer = self.layer(key)
        try:
            return layer.output
        except (AttributeError, ValueError) as error:
            raise ValueError(
                f"layer {key!r} of model {self.name!r} has no single output tensor ({error}); "
                f"choose a layer that is called once"
            ) from None

    def extractor(self, keys: Iterable[str]) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
        """One model computing exactly the activations of `keys` (layer names or `LOGITS`).

        Returns:
            fn(model_input [batch, height, width, channels]) -> {key: activation}.
        """
        keys = tuple(dict.fromkeys(keys))
        outputs = [self._tensor(key) for key in keys]
        multi = keras.Model(self.model.inputs, outputs, name=f"{self.model.name}_features")

        def extract(inputs: tf.Tensor) -> dict[str, tf.Tensor]:
            values = multi(inputs, training=False)
            values = values if isinstance(values, (list, tuple)) else [values]
            return dict(zip(keys, values))

        return extract


class _PreActivation(keras.layers.Layer):
    """Calls a layer with its activation replaced by the identity, sharing its weights."""

    def __init__(self, layer: keras.layers.Layer, **kwargs) -> None:
        super().__init__(name=f"{layer.name}_preactivation", **kwargs)
        self.inner = layer

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        saved = self.inner.activation
        # The swap only lasts while the call is traced, and is undone even on error.
        self.inner.activation = keras.activations.linear
        try:
            return self.inner.call(inputs)
        finally:
            self.inner.activation = saved

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return self.inner.compute_output_shape(input_shape)


_DEMO = "demo"


def _demo_model() -> VisModel:
    data = resources.files("featviz") / "data"
    meta = json.loads((data / "demo_model.json").read_text())
    with resources.as_file(data / "demo_model.keras") as path:
        model = keras.models.load_model(path, compile=False)
    return VisModel(model, _identity, tuple(meta["class_names"]), _DEMO)


def _file_model(path: Path, preprocess: Preprocess | None, class_names: Sequence[str] | None) -> VisModel:
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 - Keras raises many types for bad files
        raise ValueError(
            f"could not load a Keras model from {str(path)!r}: {type(error).__name__}: {error}. "
            f"Expected a file saved by model.save() (.keras or .h5)"
        ) from None
    return VisModel(model, preprocess or _identity, _class_names_for(model, class_names), path.stem)


def _class_names_for(model: keras.Model, class_names: Sequence[str] | str | None) -> tuple[str, ...] | None:
    if class_names == "imagenet":
        return imagenet_class_names()
    if isinstance(class_names, (str, Path)):
        return tuple(Path(class_names).read_text().split())
    return tuple(class_names) if class_names is not None else None


@gin.register(module="featviz")
def load_model(
    name: str | keras.Model = _DEMO,
    weights: str | None = "imagenet",
    preprocess: Preprocess | str | None = None,
    class_names: Sequence[str] | str | None = None,
    input_shape: tuple[int, int, int] | None = None,
) -> VisModel:
    """Loads a model to visualize.

    Args:
        name: "demo" (the bundled demo model), a `keras.applications` family name
            (`featviz.applications` lists them), a path to a `.keras`/`.h5` file, or a
            `keras.Model`.
        weights: for applications: "imagenet" (downloaded by Keras where the network allows),
            a path to a local weights file, or None for random weights.
        preprocess: maps [0, 1] images to the model's input. None: the family's own for
            applications, the identity otherwise; a family name ("vgg16") uses that family's.
        class_names: a list, a text file with one name per line, or "imagenet". Applications
            get ImageNet's names.
        input_shape: (height, width, channels) for applications; None for the family default.
    """
    if isinstance(preprocess, str):
        preprocess = applications.get_application(preprocess).preprocess
    if isinstance(name, VisModel):
        return name
    if isinstance(name, keras.Model):
        return VisModel(name, preprocess or _identity, _class_names_for(name, class_names), name.name)
    if not isinstance(name, (str, Path)):
        raise TypeError(f"load_model expects a name, a path or a keras.Model, got {name!r}")
    if name == _DEMO:
        return _demo_model()
    path = Path(name)
    if path.suffix in (".keras", ".h5", ".hdf5") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"model file {str(path)!r} does not exist")
        return _file_model(path, preprocess, class_names)
    app = applications.get_application(str(name))
    model = applications.build_application(str(name), weights=weights, input_shape=input_shape)
    names = _class_names_for(model, class_names) or imagenet_class_names()
    return VisModel(model, preprocess or app.preprocess, names, app.name)
