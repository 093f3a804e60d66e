"""`VisModel`: a Keras image model and what visualization needs around it.

A preprocessing function from [0, 1] images to the model's input, class names, layer lookup
with helpful errors, and `extractor(keys)`, one function computing exactly the activations the
objectives asked for, of any layer, inside nested models too (`featviz.models.graph` runs the
graph, with the run's gradient overrides). `activations(images, keys)` is the one place where
images of any size are resized to the model's input, preprocessed and run.
Layer names are qualified inside nested models (`mobilenet_1.00_224/conv_pw_13`) and may be
given unqualified where unique. The user's model object is never modified.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

from featviz.models import graph
from featviz.models.classes import resolve_class

Preprocess = Callable[[tf.Tensor], tf.Tensor]
# fn(model_input, redirect_relu=None) -> {key: float32 activation}; see `VisModel.extractor`.
Extractor = Callable[..., dict[str, tf.Tensor]]

# The key under which the feature extractor provides the model's pre-softmax logits, whatever
# layer (a Dense, a 1x1 convolution plus reshape, a fused softmax) produces them.
LOGITS = "<logits>"


def identity(images: tf.Tensor) -> tf.Tensor:
    """The preprocessing of a model that takes [0, 1] images as they are."""
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
    preprocess: Preprocess = identity
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
    def _extractors(self) -> dict[tuple[str, ...], Extractor]:
        return {}

    def extractor(self, keys: Iterable[str]) -> Extractor:
        """A function computing exactly the activations of `keys` (layer names or `LOGITS`).

        Layers of nested models are computed inside their model's graph, each layer once; the
        model object is not changed. The same keys give the same (cached) function.

        Returns:
            fn(model_input [batch, height, width, channels], redirect_relu=None) -> {key:
            float32 activation} (float32 also under a mixed-precision policy). `redirect_relu`
            (a scalar bool tensor) gives the model's ReLUs the redirected gradient while it is
            True (`featviz.models.gradients`); None keeps the model's own gradients.
        """
        keys = tuple(dict.fromkeys(keys))
        if keys not in self._extractors:
            plan = self._plan(keys)

            def extract(inputs: tf.Tensor, redirect_relu: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
                features: dict[str, tf.Tensor] = {}
                graph.run(plan, [inputs], graph.LayerCall(redirect_relu), features)
                return {key: tf.cast(features[key], tf.float32) for key in keys}

            self._extractors[keys] = extract
        return self._extractors[keys]

    def fit_input(self, images: tf.Tensor) -> tf.Tensor:
        """Resizes images to the model's fixed input height and/or width (bilinear).

        Free dimensions keep the images' own size; images already at the input size are
        returned as they are.
        """
        fixed = tuple(self.input_shape[1:3])
        if fixed == (None, None) or tuple(images.shape[1:3]) == fixed:
            return images
        dynamic = tf.shape(images)
        size = [dynamic[1 + axis] if length is None else length for axis, length in enumerate(fixed)]
        return tf.image.resize(images, size, method="bilinear")

    def activations(self, images: tf.Tensor | np.ndarray, keys: Iterable[str],
                    redirect_relu: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """Resize to the model's input, preprocess and extract: the activations of `keys`.

        Args:
            images: [batch, height, width, channels] in [0, 1], any size (resized to a
                fixed-size model's input, bilinear).
            keys: layer names, or `LOGITS`.
            redirect_relu: see `extractor`.

        Returns:
            {key: float32 activation [batch, ...]}.
        """
        inputs = self.fit_input(tf.convert_to_tensor(images, tf.float32))
        return self.extractor(keys)(self.preprocess(inputs), redirect_relu)

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
