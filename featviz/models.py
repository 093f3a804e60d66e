"""Models: loading any Keras image model, its preprocessing, class names and feature extraction.

`load_model(name)` accepts the bundled `"demo"` model, a `keras.applications` family name
(`"vgg16"`, `"mobilenet"`, ... with that family's own `preprocess_input`) or a `.keras`/`.h5`
file, and returns a `VisModel`: the Keras model plus what visualization needs around it — a
preprocessing function from [0, 1] images to the model's input, class names, layer lookup with
helpful errors, and `extractor(keys)`, one function computing exactly the activations the
objectives asked for, of any layer, inside nested models too (`featviz.graph` runs the graph).
Layer names are qualified inside nested models (`mobilenet_1.00_224/conv_pw_13`) and may be
given unqualified where unique. The user's model object is never modified.
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

from featviz import applications, graph
from featviz.classes import imagenet_class_names, resolve_class
from featviz.objectives import LOGITS

Preprocess = Callable[[tf.Tensor], tf.Tensor]


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
        if isinstance(self.model, keras.Sequential) and graph.graph_of(self.model) is None:
            raise ValueError(
                f"Sequential model {self.model.name!r} is not built, so it has no layer graph; "
                f"start it with keras.Input((height, width, channels)) or call "
                f"model.build((None, height, width, channels)) first"
            )
        if graph.graph_of(self.model) is None:
            raise ValueError(
                f"model {self.model.name!r} is a subclassed keras.Model without a layer graph; "
                f"featviz needs a functional or Sequential model. Wrap it to visualize its "
                f"output: inputs = keras.Input((height, width, channels)); "
                f"keras.Model(inputs, model(inputs))"
            )
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
    def _sites(self) -> dict[str, graph.Site]:
        return graph.index_layers(self.model)

    @functools.cached_property
    def layer_names(self) -> tuple[str, ...]:
        """Qualified names of all layers, nested models' layers included (`outer/inner`)."""
        return tuple(self._sites)

    def qualified_name(self, name: str) -> str:
        """The qualified name of layer `name`: itself, or the one `.../name` it ends.

        Raises:
            ValueError: no layer has that name (the message lists the valid ones), or an
                unqualified name matches layers of several nested models.
        """
        if name in self._sites:
            return name
        matches = [qualified for qualified in self._sites if qualified.endswith("/" + name)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ValueError(
                f"layer name {name!r} is ambiguous in model {self.name!r}: it matches "
                f"{', '.join(map(repr, matches))}; use one of these qualified names"
            )
        leaves = {qualified.rsplit("/", 1)[-1]: qualified for qualified in self._sites}
        close = difflib.get_close_matches(name, list(self._sites), n=5, cutoff=0.5)
        close += [leaves[leaf] for leaf in difflib.get_close_matches(name, list(leaves), n=5, cutoff=0.5)]
        hint = f" Closest: {', '.join(map(repr, dict.fromkeys(close)))}." if close else ""
        opaque = [
            site.name for site in self._sites.values()
            if isinstance(site.layer, keras.Model) and graph.graph_of(site.layer) is None
            and name.startswith(site.name + "/")
        ]
        if opaque:
            hint += (f" {opaque[0]!r} is a subclassed keras.Model without a layer graph: featviz "
                     f"can read its output but not the layers inside it.")
        raise ValueError(
            f"model {self.name!r} has no layer {name!r}.{hint} Valid layer names: "
            f"{', '.join(self._sites)} (run `featviz layers {self.name}` to list them with "
            f"their shapes)"
        )

    def layer(self, name: str) -> keras.layers.Layer:
        """The layer called `name` (qualified, or unqualified when unique); see `qualified_name`."""
        return self._sites[self.qualified_name(name)].layer

    def output_shape(self, key: str) -> tuple:
        """Output shape of layer `key` (or of the logits for `LOGITS`), batch dimension first."""
        return tuple(self._target(key)[1].tensor.shape)

    def channels(self, layer: str) -> int:
        """Number of channels (last dimension) of a layer's output."""
        return int(self.output_shape(layer)[-1])

    @functools.cached_property
    def num_classes(self) -> int:
        """The number of classes, read off the logits."""
        return int(self.output_shape(LOGITS)[-1])

    def class_index(self, target: int | str) -> int:
        """Resolves a class index or name; errors name the closest valid classes."""
        return resolve_class(target, self.class_names, self.num_classes)

    @functools.cached_property
    def _logits(self) -> tuple[tuple, graph.Target]:
        """Where the pre-softmax output is, whichever way (and wherever) the softmax is computed."""
        if len(self.model.outputs) != 1:
            raise ValueError(
                f"model {self.name!r} has {len(self.model.outputs)} outputs; ClassLogit needs one "
                f"classification output"
            )
        return graph.find_logits(self.model)

    def _target(self, key: str) -> tuple[tuple, graph.Target]:
        if key == LOGITS:
            return self._logits
        site = self._sites[self.qualified_name(key)]
        if site.problem is not None:
            raise ValueError(
                f"layer {site.name!r} of model {self.name!r} {site.problem}; choose a layer that "
                f"is called once"
            )
        return site.calls, graph.Target(site.tensor)

    def _plan(self, keys: Iterable[str]) -> graph.Plan:
        plan = graph.Plan(self.model)
        for key in keys:
            calls, target = self._target(key)
            plan.add(key, calls, target)
        return plan

    @functools.cached_property
    def _extractors(self) -> dict[tuple[str, ...], Callable[[tf.Tensor], dict[str, tf.Tensor]]]:
        return {}

    def extractor(self, keys: Iterable[str]) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
        """A function computing exactly the activations of `keys` (layer names or `LOGITS`).

        Layers of nested models are computed inside their model's graph, each layer once; the
        model object is not changed. The same keys give the same (cached) function.

        Returns:
            fn(model_input [batch, height, width, channels]) -> {key: float32 activation}
            (float32 also under a mixed-precision policy).
        """
        keys = tuple(dict.fromkeys(keys))
        if keys not in self._extractors:
            plan = self._plan(keys)

            def extract(inputs: tf.Tensor) -> dict[str, tf.Tensor]:
                features: dict[str, tf.Tensor] = {}
                graph.run(plan, [inputs], graph.call_layer, features)
                return {key: tf.cast(features[key], tf.float32) for key in keys}

            self._extractors[keys] = extract
        return self._extractors[keys]

    def size_problem(self, keys: Iterable[str], size: tuple[int, int]) -> str | None:
        """Why the model cannot compute `keys` from images of `size` (height, width), or None.

        Shape inference only, layer by layer (nested models included): no TensorFlow graph is
        built. A size is impossible when some layer cannot compute its output from it (a
        valid convolution or pooling window larger than its input) or would output an empty
        [batch, 0, width, channels] grid.
        """
        plan = self._plan(dict.fromkeys(keys))
        image = keras.KerasTensor((1, *size, self.input_channels), dtype="float32")
        try:
            graph.run(plan, [image], graph.infer_shape, {}, descend=True)
        except ValueError as error:
            return str(error)
        return None

    def check_input_size(self, keys: Iterable[str], size: tuple[int, int]) -> None:
        """Raises a ValueError if images of `size` (height, width) cannot give `keys`.

        The message names the failing layer and the smallest square size that works.
        """
        keys = tuple(dict.fromkeys(keys))
        problem = self.size_problem(keys, size)
        if problem is None:
            return
        smallest = self._smallest_size(keys, max(size))
        advice = (f"the smallest square input it accepts is {smallest}x{smallest}: use a "
                  f"parameterization size of at least {smallest}, more with transforms that "
                  f"shrink the image (Jitter)" if smallest else
                  f"no square input up to {_LARGEST_SIZE}x{_LARGEST_SIZE} works")
        raise ValueError(
            f"model {self.name!r} cannot compute {', '.join(keys)} from "
            f"{size[0]}x{size[1]} images: {problem.rstrip('.')}; {advice}"
        )

    def _smallest_size(self, keys: tuple[str, ...], failing: int) -> int | None:
        """The smallest square side above `failing` that works (None: none up to the limit)."""
        low, high = failing, failing
        while self.size_problem(keys, (high, high)) is not None:
            if high >= _LARGEST_SIZE:
                return None
            low, high = high, min(2 * high, _LARGEST_SIZE)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if self.size_problem(keys, (middle, middle)) else (low, middle)
        return high


# Largest square side `check_input_size` tries when searching for a size that works.
_LARGEST_SIZE = 4096


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
