"""Jobs that start from photographs: DeepDream with octaves, caricatures, feature accentuation.

- `deepdream`: DeepDream at several scales (octaves), the detail lost by shrinking re-injected
  at each upscale (the keras.io `deep_dream` example, after Mordvintsev et al. 2015), so that
  patterns grow at several sizes while the photograph stays sharp;
- `caricature`: for each layer, images maximising `ActivationDot` (dot product times cosine)
  with a photograph's activations: what each layer "sees" in it (Lucid's
  `recipes/caricature.py`), one row per layer;
- `accentuate`: feature accentuation (Hamblin, Fel, Saha, Konkle & Alvarez, "Feature
  Accentuation: Revealing 'What' Features Respond to in Natural Images", 2024): from each
  photograph of a folder, raise a unit while `ActivationMatch` at a lower layer keeps the
  image's features close to the photograph's, one row per photograph and one image per
  strength of that penalty.

Each builds its `Visualizer`s with the job's model, objective and parameterization; everything
else (steps, learning rate, transforms, optimizer, callbacks) comes from `Visualizer.*` gin
bindings, as for the other jobs, and every file goes through `run.outputs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import gin
import numpy as np
import tensorflow as tf

from featviz import io as image_io
from featviz.jobs.base import RunLike, as_run, markdown_table
from featviz.models import VisModel, load_model
from featviz import recipes
from featviz.objectives import ActivationDot, ActivationMatch, Features, Objective, stack
from featviz.objectives.matching import ImageSource
from featviz.params import Parameterization, Pixel
from featviz.render import Visualizer
from featviz.transforms import Transform

# keras.io `deep_dream` (Chollet): 3 octaves, each 1.4 times larger than the one before.
OCTAVES = 3
OCTAVE_SCALE = 1.4


@dataclasses.dataclass(frozen=True)
class Dream:
    """What `deepdream` returns.

    Attributes:
        original: the photograph at the final size, [height, width, channels] in [0, 1].
        octaves: the image after each octave, smallest first, each [h_i, w_i, channels].
        values: the objective of the final image and of the photograph, {"photo", "dream"}.
    """

    original: np.ndarray
    octaves: list[np.ndarray]
    values: dict[str, float]


def octave_sizes(size: tuple[int, int], octaves: int, scale: float) -> list[tuple[int, int]]:
    """The image sizes of the octaves, smallest first; the last is `size`."""
    if isinstance(octaves, bool) or not isinstance(octaves, int) or octaves < 1:
        raise ValueError(f"octaves must be a positive int, got {octaves!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 1:
        raise ValueError(f"octave_scale must be a number > 1, got {scale!r}")
    return [tuple(max(8, round(side / scale ** i)) for side in size)
            for i in reversed(range(octaves))]


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return tf.image.resize(image[None], size, method="bilinear", antialias=True).numpy()[0]


def _objective_value(model: VisModel, objective: Objective, image: np.ndarray) -> float:
    """The objective of one image, without transforms (resized to the model's input)."""
    batch = tf.constant(image[None], tf.float32)
    leaves = [leaf for _, leaf in objective.terms()]
    keys = [key for leaf in leaves for key in leaf.layers]
    # `activations` resizes and preprocesses, as the step does.
    features = Features(model.activations(batch, keys), batch, model)
    return float(objective(features)[0])


@gin.register(module="featviz")
def deepdream(
    run: RunLike,
    model: VisModel | str = gin.REQUIRED,
    image: ImageSource = gin.REQUIRED,
    objective: Objective = gin.REQUIRED,
    size: int | tuple[int, int] = 224,
    octaves: int = OCTAVES,
    octave_scale: float = OCTAVE_SCALE,
    param: Parameterization | None = None,
) -> Dream:
    """DeepDream over octaves: dream at the smallest size, upscale, re-inject detail, repeat.

    At octave i the image is resized to size / octave_scale^(octaves - 1 - i) and optimized
    for `Visualizer.steps` steps (from gin, with the rest of the loop's settings). Before the
    next octave it is upscaled, and the detail the photograph loses between the two sizes
    (photo at the new size minus the photo shrunk to the old size and upscaled) is added back,
    so the dream keeps the photograph's sharpness.

    Args:
        run: the run (or its directory).
        model: the model, or anything `load_model` accepts.
        image: the photograph: a file path or an array [height, width, channels].
        objective: what to amplify, e.g. `LayerActivation(layer, "l2")`.
        size: the final image size, an int or (height, width).
        octaves: the number of scales (1: single-scale DeepDream).
        octave_scale: the size ratio between consecutive octaves (> 1).
        param: the parameterization, re-sized and started from the image at each octave;
            default sigmoid `Pixel`.

    Returns:
        The `Dream`; after a stop request, the octaves finished so far.
    """
    run = as_run(run)
    model = load_model(model)
    size = (size, size) if isinstance(size, int) else tuple(size)
    sizes = octave_sizes(size, octaves, octave_scale)
    param = param if param is not None else Pixel()
    photo = image_io.as_image_batch(image, size, model.input_channels, 1, what="photograph")[0]
    current = _resize(photo, sizes[0])
    shrunk = current
    results = []
    for i, octave in enumerate(sizes):
        if i > 0:
            # Detail re-injection (keras.io deep_dream): what shrinking the photo lost at
            # this size, added to the upscaled dream.
            upscaled_shrunk = _resize(shrunk, octave)
            current = _resize(current, octave) + (_resize(photo, octave) - upscaled_shrunk)
            current = np.clip(current, 0.0, 1.0)
            shrunk = _resize(photo, octave)
        start = dataclasses.replace(param, size=octave, batch=1, init=current[None])
        visualizer = Visualizer(model=model, objective=objective, param=start, stop=run.stop,
                                logdir=run.subdirectory(f"octave_{i}"))
        current = visualizer.run().images[0]
        results.append(current)
        if run.stop:
            break
    values = {"photo": _objective_value(model, objective, photo),
              "dream": _objective_value(model, objective, results[-1])}
    dream = Dream(photo, results, values)
    with run.outputs as outputs:
        outputs.png("deepdream.png", results[-1])
        tiles = [_resize(o, size) for o in results]
        labels = [f"octave {i}: {o.shape[0]}x{o.shape[1]}" for i, o in enumerate(results)]
        outputs.grid("octaves.png", np.stack([photo, *tiles]), ["photograph", *labels],
                     columns=len(tiles) + 1)
        outputs.json("deepdream.json", {"sizes": [list(s) for s in sizes], **values})
    return dream


@dataclasses.dataclass(frozen=True)
class Caricature:
    """What `caricature` returns.

    Attributes:
        original: the photograph at the render size, [height, width, channels].
        images: layer -> its caricatures, [samples, height, width, channels].
        values: layer -> the objective of each caricature and of the photograph itself,
            {"photo": float, "caricatures": [samples]}.
    """

    original: np.ndarray
    images: dict[str, np.ndarray]
    values: dict[str, dict]


@gin.register(module="featviz")
def caricature(
    run: RunLike,
    model: VisModel | str = gin.REQUIRED,
    image: ImageSource = gin.REQUIRED,
    layers: Sequence[str] = gin.REQUIRED,
    samples: int = 2,
    cosine_power: float = 1.0,
) -> Caricature:
    """What each layer sees in a photograph, exaggerated: one row of caricatures per layer.

    One `Visualizer` run of len(layers) * samples images (image layer_index * samples + s
    maximises `ActivationDot(layers[layer_index], image, cosine_power)` from its own random
    start); the parameterization, transforms and steps come from gin (the default recipe when
    unset).

    Args:
        run: the run (or its directory).
        model: the model, or anything `load_model` accepts.
        image: the photograph: a file path or an array [height, width, channels].
        layers: layers with a spatial output, one row each.
        samples: caricatures per layer (different random starts).
        cosine_power: see `ActivationDot` (1: Lucid's dot product times cosine).

    Returns:
        The `Caricature`. Writes `caricature.png` (per row: the photograph, then the
        caricatures) and `caricature.json` (the objective of each image and of the photo).
    """
    run = as_run(run)
    if isinstance(layers, str) or not layers or len(set(layers)) != len(layers):
        raise ValueError(f"caricature needs a list of distinct layer names, got {layers!r}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"caricature samples must be a positive int, got {samples!r}")
    model = load_model(model)
    terms = [ActivationDot(layer, image, cosine_power) for layer in layers]
    visualizer = Visualizer(model=model, objective=stack([t for t in terms for _ in range(samples)]),
                            stop=run.stop, logdir=run.subdirectory("render"))
    render = visualizer.run()
    shape = visualizer.param.shape
    photo = image_io.as_image_batch(image, shape, model.input_channels, 1, what="photograph")[0]
    images, values = {}, {}
    for i, (layer, term) in enumerate(zip(layers, terms)):
        images[layer] = render.images[i * samples:(i + 1) * samples]
        values[layer] = {"photo": _objective_value(model, term, photo),
                         "caricatures": [_objective_value(model, term, x) for x in images[layer]]}
    with run.outputs as outputs:
        rows = [np.concatenate([photo[None], images[layer]]) for layer in layers]
        outputs.png("caricature.png", image_io.rows_figure(
            rows, list(layers), [["photograph"] + [f"{v:.2f}" for v in values[layer]["caricatures"]]
                                 for layer in layers]))
        outputs.json("caricature.json", values)
    return Caricature(photo, images, values)


@dataclasses.dataclass(frozen=True)
class Accentuation:
    """One photograph's accentuations.

    Attributes:
        photo: the file.
        original: the photograph at the render size, [height, width, channels].
        images: one accentuation per penalty weight, [weights, height, width, channels].
        unit: the unit's objective for the photograph, then for each accentuation.
        feature_error: ||a - a_photo|| / ||a_photo|| at the penalty's layer, per accentuation.
    """

    photo: str
    original: np.ndarray
    images: np.ndarray
    unit: list[float]
    feature_error: list[float]


_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@gin.register(module="featviz")
def accentuate(
    run: RunLike,
    model: VisModel | str = gin.REQUIRED,
    folder: str = gin.REQUIRED,
    unit: Objective = gin.REQUIRED,
    layer: str = gin.REQUIRED,
    weights: Sequence[float] = (1.0, 10.0),
    param: Parameterization | None = None,
    transforms: Sequence[Transform] = (),
) -> list[Accentuation]:
    """Feature accentuation of every photograph in a folder (Hamblin et al. 2024).

    Image j of photograph p maximises `unit + weights[j] * ActivationMatch(layer, p)`, starting
    from p: the unit rises while the penalty keeps `layer`'s features near the photograph's, so
    the change shows where and what in this photograph drives the unit. Larger weights keep
    closer to the photograph. The penalty compares position by position, so by default no
    transforms move the image: under the recipe's random affine the photograph's features can
    never be matched and the render drifts away from it (measured on MobileNet-0.25, w=1000:
    relative feature distance 0.46 with the affine, 0.12 without).

    Args:
        run: the run (or its directory).
        model: the model, or anything `load_model` accepts.
        folder: a directory of photographs (jpg, png, ...), taken in name order.
        unit: what to raise: `Channel`, `Neuron`, `ClassLogit`, ... (one value per image).
        layer: the layer whose features must stay close to the photograph's (a lower layer
            than the unit's; the paper regularizes at an intermediate layer).
        weights: penalty strengths, one accentuation each.
        param: the parameterization, started from each photograph; default the recipe's
            decorrelated Fourier at the model's input size, with free contrast (the
            photograph's own).
        transforms: the transforms of every step (default none, see above).

    Returns:
        One `Accentuation` per photograph. Writes `accentuation.png` (per row: the photograph,
        then one accentuation per weight), `accentuation.csv` and `accentuation.md`.
    """
    run = as_run(run)
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in _PHOTO_SUFFIXES) \
        if Path(folder).is_dir() else []
    if not paths:
        raise ValueError(f"accentuate needs a folder of photographs ({', '.join(_PHOTO_SUFFIXES)}); "
                         f"{folder!r} holds none")
    weights = [float(w) for w in weights]
    if not weights or any(w < 0 for w in weights):
        raise ValueError(f"accentuate weights must be a non-empty list of numbers >= 0, got {weights!r}")
    model = load_model(model)
    if param is None:
        # Free contrast: the recipe's fixed contrast would re-standardise the photograph, so
        # the render would not start from the seed it must stay close to.
        param = dataclasses.replace(
            recipes.default_param(model.input_size or 224, model.input_channels), contrast=None)
    results: list[Accentuation] = []
    for path in paths:
        penalty = ActivationMatch(layer, str(path))
        objective = stack([unit + w * penalty for w in weights])
        visualizer = Visualizer(model=model, objective=objective, stop=run.stop,
                                param=dataclasses.replace(param, batch=len(weights), init=str(path)),
                                transforms=list(transforms), logdir=run.subdirectory(path.stem))
        render = visualizer.run()
        shape = visualizer.param.shape
        photo = image_io.as_image_batch(str(path), shape, model.input_channels, 1,
                                        what="photograph")[0]
        images = render.images
        results.append(Accentuation(
            str(path), photo, images,
            [_objective_value(model, unit, x) for x in (photo, *images)],
            [float(np.sqrt(max(0.0, -_objective_value(model, penalty, x)))) for x in images]))
        if run.stop:
            break
    columns = ["photo", "weight", "unit_photo", "unit", "feature_error"]
    rows = [[Path(r.photo).name, w, f"{r.unit[0]:.4g}", f"{r.unit[j + 1]:.4g}",
             f"{r.feature_error[j]:.3g}"] for r in results for j, w in enumerate(weights)]
    with run.outputs as outputs:
        outputs.png("accentuation.png", image_io.rows_figure(
            [np.concatenate([r.original[None], r.images]) for r in results],
            [Path(r.photo).stem for r in results],
            [[f"photo {r.unit[0]:.2f}"] + [f"w={w:g}: {u:.2f}" for w, u in zip(weights, r.unit[1:])]
             for r in results]))
        outputs.csv("accentuation.csv", columns, rows)
        outputs.text("accentuation.md", markdown_table(columns, rows))
    return results
