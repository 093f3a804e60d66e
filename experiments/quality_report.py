"""Side by side on a real ImageNet network: the seed method, featviz's defaults, xplique, tf-keras-vis.

For a list of classes (and optionally of channels), renders one image per target with each
method, then writes one labelled PNG (a row per method, a column per target) and a table of
measures per method: how many images keep their class (channels: stay their layer's most
active channel, and how much activation they keep) under strong held-out perturbations
(`featviz.evaluate.strong_perturbations`: rescale 0.5-1.5x, rotation +-20 degrees, a 60% crop,
Gaussian blur, each drawn `--repeats` times per image), the mean target probability under them,
top-5 as judged by a second network (`--judge`), colour (mean HSV saturation, share of pixels
with saturation above 0.8), the share of spectral power above half-Nyquist, and the wall time.

Methods, each at its own defaults:
- `seed`: `featviz/configs/vgg16_classes.gin` as shipped (sigmoid pixels re-standardised every step,
  normalised gradient, Adam 0.1, 50 rounds of 20 steps with zoom 1.01 and blur 1 between them),
  only the model replaced by `--model`; channels replace its objective.
- `previous`: featviz's default recipe before issue 13 (decorrelated Fourier 1/f^1.5 through a
  sigmoid, Adam 0.03, pad 16 / jitter 16 / random affine / jitter 8 at 224 px), spelled out.
- `init-0.01`: the default with Lucid's start, a raw spectrum of standard deviation 0.01
  instead of `recipes.INIT_STD` (the default before the start's scale was measured).
- `featviz`: `Visualizer(model, objectives, steps=STEPS)` and nothing else (the recipe of
  `featviz.recipes`, as in `featviz/configs/imagenet_classes.gin`).
- `no-centre`: the default without its centre window (`default_transforms(centre=None)`: the
  default before the window was measured), the window's ablation.
- `featviz-448`: the same with `param=recipes.default_param(448)` and `input_size` the render
  size: a canvas larger than the network's input, seen whole at half size (`--large-size`).
- `featviz-views`: the default with `views=--views` (4): every step averages the objective over
  that many differently transformed copies of each image (`Visualizer.views`).
- `maco`: featviz's `Maco` parameterization (phase only, the shipped photographs' magnitude
  spectrum; Fel et al. 2023) in place of the recipe's `Fourier`, with the recipe's transforms
  and `maco.gin`'s Adam 0.2 on the phases (`maco_recipe`); `maco-scenes` the same with the
  spectrum of the four scenes among the shipped photographs (`Maco.spectrum_images`).
- `xplique`: `features_visualizations.optimize(objective, nb_steps=STEPS)` (Fourier, 512x512
  render, its standard transformations), where xplique is installed.
- `tf-keras-vis`: `ActivationMaximization(model)(score, seed_input=uniform noise, steps=STEPS)`
  (pixels, RMSprop, jitter and rotation, total variation and norm regularizers), where installed.
The peers get the network as a user would hand it to them (`peer_model`): a Keras model with the
preprocessing inside, taking their own input range ([0, 1] for xplique, [0, 255] for
tf-keras-vis) at a fixed size, and the logits (or the channel's layer) as a named output.

    python -m experiments.quality_report --model /work/shared/models/mobilenet_025_imagenet.keras \\
        --preprocess mobilenet --logits-layer reshape_2 \\
        --judge /work/shared/models/efficientnet_lite1_imagenet.keras --judge-preprocess 127/128 \\
        --classes flamingo red_fox tarantula ... --channels conv_pw_3_relu:0 ... \\
        --figures experiments/figures

`--preprocess` is a `keras.applications` family name (its `preprocess_input`) or MEAN/STD for
`(rgb - MEAN) / STD` on 0-255 pixels (EfficientNet-Lite: 127/128). Renders are cached in
`--runs` (images and wall time per method; `--reuse` skips methods already rendered), tables
are written there as `quality_<kind>.md` and `.json`, figures as
`<figures>/quality_<kind>_<name>.png`. Run from the repository root; wall times from a shared
machine are comparable only roughly.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import gin
import keras
import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw, ImageFont

import featviz as fv
from featviz import recipes
from featviz.analysis.evaluate import (channel_robustness, high_frequency_power,
                                       perturbation_robustness, strong_perturbations)
from featviz.params.maco import SCENE_PHOTOGRAPHS

SEED_CONFIG = "vgg16_classes"
METHODS = ("seed", "previous", "init-0.01", "no-centre", "featviz", "featviz-448", "featviz-views",
           "maco", "maco-scenes", "xplique", "tf-keras-vis")
LABELS = {"seed": "seed method", "previous": "previous default",
          "init-0.01": "featviz default\ninit 0.01", "no-centre": "featviz default\nno centre window",
          "featviz": "featviz default",
          "featviz-448": "featviz default\n448 px canvas",
          "featviz-views": "featviz default\nviews per step",
          "maco": "featviz Maco\nrecipe transforms",
          "maco-scenes": "featviz Maco\nscenes' spectrum",
          "xplique": "xplique default",
          "tf-keras-vis": "tf-keras-vis default"}
# Methods that render channels too (the 448-pixel canvas is a class-image question).
CHANNEL_METHODS = ("seed", "previous", "init-0.01", "no-centre", "featviz", "featviz-views", "maco",
                   "maco-scenes", "xplique", "tf-keras-vis")
# scikit-image sample photographs: the reference for the high-frequency measure.
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera")

Unit = tuple[str, int]
Target = str | Unit


class Unavailable(RuntimeError):
    """A peer library is not installed or does not run here; the message says why."""


@gin.register(module="experiments")
def scaled_pixels(images: tf.Tensor, mean: float = gin.REQUIRED, std: float = gin.REQUIRED) -> tf.Tensor:
    """Preprocessing `(rgb - mean) / std` on 0-255 pixels (EfficientNet-Lite: mean 127, std 128).

    Args:
        images: [batch, height, width, channels] in [0, 1].
        mean, std: on the 0-255 scale.

    Returns:
        The network's input, same shape.
    """
    return (images * 255.0 - mean) / std


def _mean_std(spec: str) -> tuple[float, float]:
    mean_text, _, std_text = spec.partition("/")
    try:
        mean, std = float(mean_text), float(std_text)
    except ValueError:
        raise ValueError(f"--preprocess MEAN/STD needs two numbers, got {spec!r} (e.g. 127/128), "
                         f"or give a keras.applications family name") from None
    if std <= 0:
        raise ValueError(f"--preprocess STD must be positive, got {spec!r}")
    return mean, std


def preprocessing(spec: str | None) -> Callable[[tf.Tensor], tf.Tensor] | str | None:
    """`--preprocess` for `load_model`: a family name or None as they are, MEAN/STD as a function.

    Raises:
        ValueError: MEAN/STD with a non-number or a non-positive STD.
    """
    if spec is None or "/" not in spec:
        return spec
    mean, std = _mean_std(spec)
    return functools.partial(scaled_pixels, mean=mean, std=std)


def _preprocess_bindings(spec: str | None) -> list[str]:
    """The gin bindings giving `load_model` the preprocessing `spec`."""
    if spec is None:
        return []
    if "/" not in spec:
        return [f"load_model.preprocess = {spec!r}"]
    mean, std = _mean_std(spec)
    return ["load_model.preprocess = @scaled_pixels", f"scaled_pixels.mean = {mean}",
            f"scaled_pixels.std = {std}"]


@dataclasses.dataclass(frozen=True)
class Network:
    """A real network and what it takes to feed it.

    Attributes:
        model: the loaded network (preprocessing and ImageNet class names attached).
        name: a short name for file names and captions.
        logits_layer: the layer whose output is the pre-softmax logits (for the peers; featviz
            finds the logits itself).
        size: (height, width) of every render: the network's fixed input, or the given size for
            networks with free input size.
        source: what it was loaded from, as given to `load_network`.
        preprocess_spec: its preprocessing, as given to `load_network`.
    """

    model: fv.VisModel
    name: str
    logits_layer: str
    size: tuple[int, int]
    source: str
    preprocess_spec: str | None


def load_network(path: str, preprocess: str | None, logits_layer: str | None, size: int,
                 name: str | None = None) -> Network:
    """Loads a network for the report.

    Args:
        path: a .keras file, a `keras.applications` name or "demo".
        preprocess: see `preprocessing`.
        logits_layer: the logits layer's name; None: the model's output layer (for models
            whose output has no softmax).
        size: the render size when the input size is free.
        name: the short name; default the file's stem.

    Raises:
        ValueError: `logits_layer` is not a layer of the model (the message lists the last ones).
    """
    # ImageNet class names for files; "demo" and applications come with their own.
    model = fv.load_model(path, preprocess=preprocessing(preprocess), class_names="imagenet")
    layers = [layer.name for layer in model.model.layers]
    logits_layer = logits_layer or layers[-1]
    if logits_layer not in layers:
        raise ValueError(f"--logits-layer {logits_layer!r} is not a layer of {path!r}; its last "
                         f"layers are {layers[-4:]}")
    return Network(model, name or Path(path).stem, logits_layer, model.input_size or (size, size),
                   path, preprocess)


# Methods: each renders [n, height, width, 3] images in [0, 1], one per target ------------------

def run_seed(network: Network, kind: str, targets: Sequence[Target], steps: int | None) -> np.ndarray:
    """The seed method from its shipped config, with only the model (and targets) rebound."""
    bindings = [f"load_model.name = {network.source!r}", "load_model.class_names = 'imagenet'",
                *_preprocess_bindings(network.preprocess_spec),
                "Visualizer.callbacks = []", "Visualizer.metrics = []"]
    if steps is not None:
        bindings.append(f"Visualizer.steps = {steps}")
    if kind == "classes":
        bindings.append(f"CLASSES = {list(targets)!r}")
    else:
        bindings += ["Visualizer.objective = @channel_objectives()",
                     f"channel_objectives.units = {[tuple(t) for t in targets]!r}"]
    gin.clear_config()
    fv.configs.parse([SEED_CONFIG], bindings)
    with gin.unlock_config():
        images = fv.Visualizer().run().images
    gin.clear_config()
    return images


def _objectives(kind: str, targets: Sequence[Target]) -> list[fv.Objective]:
    if kind == "classes":
        return fv.class_objectives(targets)
    return fv.channel_objectives(targets)


def previous_recipe(size: tuple[int, int]) -> dict:
    """featviz's default recipe before issue 13, as `Visualizer` arguments, for `size` renders.

    Decorrelated Fourier with 1/f^1.5 scaling through a sigmoid (Lucid's colour matrix and
    range), Adam 0.03, and at 224 px `Pad(16)`, `Jitter(16)`, `RandomAffine((0.625, 1.6),
    (-25, 25), 0.1)`, `Jitter(8)` (the pixel counts are fractions of the side).
    """
    side = min(size)
    return dict(param=fv.Fourier(size, decorrelate=True, decay_power=1.5), learning_rate=0.03,
                transforms=[fv.Pad(round(0.07 * side)), fv.Jitter(round(0.07 * side)),
                            fv.RandomAffine(scales=(0.625, 1.6), degrees=(-25.0, 25.0), translate=0.1),
                            fv.Jitter(round(0.035 * side))])


def lucid_start(size: tuple[int, int], channels: int = 3, **changes) -> fv.Fourier:
    """The recipe's parameterization started as Lucid starts, from a raw spectrum of standard
    deviation 0.01 (`recipes.INIT_STD` is 0.3), with any other fields `changes`."""
    return dataclasses.replace(recipes.default_param(size, channels), **{"init_std": 0.01, **changes})


def before_window(size: tuple[int, int], **changes) -> list:
    """The recipe's transforms for `size` as they were before the centre window (the ones the
    earlier methods and variants were measured with), with any `default_transforms` `changes`."""
    return recipes.default_transforms(size, centre=None, **changes)


def maco_recipe(network: Network, **maco) -> dict:
    """The recipe with `Maco(**maco)` for its `Fourier`, as `Visualizer` arguments: MACO's fixed
    natural magnitude spectrum under the recipe's transforms. Adam 0.2 on phases in radians, as
    in `featviz/configs/maco.gin` (with the scenes' spectrum, 0.05 kept fewer of MobileNet's
    tuning classes under the strong perturbations, 66% against 84% at 128 steps, and as many
    of EfficientNet-Lite1's, 88%)."""
    return dict(param=fv.Maco(network.size, **maco),
                transforms=before_window(network.size),
                learning_rate=0.2)


def small_init_recipe(network: Network) -> dict:
    """The default recipe from Lucid's start, as `Visualizer` arguments: the start's ablation
    (with the transforms it was measured with, before the centre window)."""
    return dict(param=lucid_start(network.size, network.model.input_channels),
                transforms=before_window(network.size))


def no_centre_recipe(network: Network) -> dict:
    """The default recipe without its centre window, as `Visualizer` arguments: its ablation."""
    return dict(transforms=before_window(network.size))


def run_featviz(network: Network, kind: str, targets: Sequence[Target], steps: int,
                recipe: dict | None = None) -> np.ndarray:
    """featviz with no configuration beyond the objectives and the step budget (and `recipe`)."""
    return fv.Visualizer(network.model, _objectives(kind, targets), steps=steps,
                         **(recipe or {})).run().images


def run_large(network: Network, kind: str, targets: Sequence[Target], steps: int,
              size: int) -> np.ndarray:
    """The default recipe on a `size`-pixel canvas seen at the render size (`input_size`;
    fixed-size networks resize to their input anyway), measured area-downscaled to it."""
    return run_featviz(network, kind, targets, steps,
                       dict(param=recipes.default_param(size, network.model.input_channels),
                            input_size=network.size))


def peer_model(network: Network, layer: str, scale: float) -> keras.Model:
    """The network as a user hands it to a peer library: preprocessing inside, a named output.

    Built from the loaded `keras.Model` with Keras layers only: an input of the render size
    taking pixels in [0, `scale`], a `Lambda` with the network's preprocessing, the network cut
    at `layer`, and an `Identity` named "logits" (for the logits layer) or "<layer>_output", so
    that the peers find the output by name. (featviz's own extractor is not used: it runs the
    graph eagerly and takes no symbolic Keras inputs.)

    Args:
        network: the network and how to feed it.
        layer: the layer whose output the peer reads (the logits layer, or a channel's layer).
        scale: the peer's input range is [0, scale] (1 for xplique, 255 for tf-keras-vis).

    Returns:
        A functional model [batch, height, width, channels] -> the layer's activations.
    """
    keras_model = network.model.model
    cut = keras.Model(keras_model.inputs, keras_model.get_layer(layer).output)
    inputs = keras.Input((*network.size, network.model.input_channels))
    preprocessed = keras.layers.Lambda(lambda x: network.model.preprocess(x / scale),
                                       name="preprocess")(inputs)
    output = keras.layers.Identity(name=_output_name(network, layer))(cut(preprocessed))
    return keras.Model(inputs, output, name=f"{network.name}_for_peers")


def _output_name(network: Network, layer: str) -> str:
    return "logits" if layer == network.logits_layer else f"{layer}_output"


def _groups(kind: str, network: Network,
            targets: Sequence[Target]) -> list[tuple[str, list[int], list[int]]]:
    """(layer, target indices in that layer, their positions in `targets`) per layer."""
    if kind == "classes":
        indices = [network.model.class_index(t) for t in targets]
        return [(network.logits_layer, indices, list(range(len(targets))))]
    groups: dict[str, tuple[list[int], list[int]]] = {}
    for position, (layer, channel) in enumerate(targets):
        groups.setdefault(layer, ([], []))
        groups[layer][0].append(channel)
        groups[layer][1].append(position)
    return [(layer, channels, positions) for layer, (channels, positions) in groups.items()]


def run_xplique(network: Network, kind: str, targets: Sequence[Target], steps: int) -> np.ndarray:
    """xplique's `optimize` at its defaults: one call per layer (its `+` combines objectives)."""
    try:
        from xplique.features_visualizations import Objective, optimize
    except ImportError as error:
        raise Unavailable(f"xplique is not importable: {error}") from None
    images = [None] * len(targets)
    for layer, indices, positions in _groups(kind, network, targets):
        peer = peer_model(network, layer, scale=1.0)  # xplique's default values_range is (0, 1)
        make = Objective.neuron if kind == "classes" else Objective.channel
        rendered, _ = optimize(make(peer, _output_name(network, layer), indices), nb_steps=steps)
        for position, image in zip(positions, np.asarray(rendered[-1])):
            images[position] = image
    return np.stack(images)


def run_tf_keras_vis(network: Network, kind: str, targets: Sequence[Target], steps: int) -> np.ndarray:
    """tf-keras-vis's `ActivationMaximization` at its defaults, from uniform noise in [0, 255]."""
    try:
        from tf_keras_vis.activation_maximization import ActivationMaximization
    except ImportError as error:
        raise Unavailable(f"tf-keras-vis is not importable: {error}") from None
    images = [None] * len(targets)
    tf.random.set_seed(0)
    for layer, indices, positions in _groups(kind, network, targets):
        peer = peer_model(network, layer, scale=255.0)  # tf-keras-vis's default input_range

        def score(output: tf.Tensor, indices: list[int] = indices) -> tf.Tensor:
            # One value per image: its class's logit, or its channel's mean activation.
            values = [output[i, ..., index] for i, index in enumerate(indices)]
            return tf.stack([tf.reduce_mean(v) for v in values])

        noise = tf.random.uniform((len(indices), *network.size, network.model.input_channels),
                                  0.0, 255.0)
        rendered = ActivationMaximization(peer)(score, seed_input=noise, steps=steps)
        for position, image in zip(positions, np.asarray(rendered) / 255.0):
            images[position] = image
    return np.stack(images)


def _resized(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Images clipped to [0, 1] at `size` (area-downscaled: xplique renders 512 pixels)."""
    batch = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    if batch.shape[1:3] != tuple(size):
        batch = tf.image.resize(batch, size, method="area").numpy()
    return batch


# Measures ---------------------------------------------------------------------------------------

def saturation(images: np.ndarray) -> np.ndarray:
    """HSV saturation (max - min) / max of every pixel, [batch, height, width]; 0 for black."""
    brightest = images.max(axis=-1)
    chroma = brightest - images.min(axis=-1)
    return np.divide(chroma, brightest, out=np.zeros_like(chroma), where=brightest > 1e-6)


def top5(judge: fv.VisModel, images: np.ndarray, targets: Sequence[str]) -> float:
    """The share of images whose class is among `judge`'s five most probable ones."""
    indices = np.array([judge.class_index(t) for t in targets])
    extract = judge.extractor([fv.LOGITS])
    batch = tf.constant(images)
    if judge.input_size is not None:
        batch = tf.image.resize(batch, judge.input_size, method="bilinear")
    logits = np.asarray(extract(judge.preprocess(batch))[fv.LOGITS])
    best = np.argsort(-logits, axis=-1)[:, :5]
    return float(np.mean([index in row for index, row in zip(indices, best)]))


def measure(model: fv.VisModel, kind: str, targets: Sequence[Target], images: np.ndarray,
            repeats: int, judge: fv.VisModel | None = None) -> dict[str, float]:
    """The table's numbers for one method's images, [n, height, width, 3] in [0, 1]."""
    perturbations = {"none": fv.compose([]), **strong_perturbations()}
    strong = [name for name in perturbations if name != "none"]
    saturations = saturation(images)
    row: dict[str, float] = {"high_frequency": float(high_frequency_power(images).mean()),
                             "saturation": float(saturations.mean()),
                             "saturated": float((saturations > 0.8).mean())}
    if kind == "classes":
        results = perturbation_robustness(model, images, targets, perturbations, repeats=repeats)
        row["clean"] = results["none"].accuracy
        row["clean_probability"] = results["none"].target_probability
        row["probability"] = float(np.mean([results[name].target_probability for name in strong]))
        if judge is not None:
            row["judge_top5"] = top5(judge, images, targets)
    else:
        results = channel_robustness(model, images, [tuple(t) for t in targets], perturbations,
                                     repeats=repeats)
        row["clean"] = results["none"].accuracy
        row["retained"] = float(np.mean([results[name].retained for name in strong]))
    row.update({name: results[name].accuracy for name in strong})
    row["robust"] = float(np.mean([results[name].accuracy for name in strong]))
    return row


def photo_measures(size: tuple[int, int]) -> dict[str, dict[str, float]]:
    """High-frequency share and colour of reference photographs at `size`.

    The scikit-image sample photographs (`PHOTOS`) and the photographs shipped in
    `featviz/configs/images/` (the issue's colour reference), each resized to `size`.
    """
    import skimage.data

    photos = {name: getattr(skimage.data, name)() for name in PHOTOS}
    photos.update({f"images/{path.name}": str(path)
                   for path in sorted(fv.configs.IMAGES.glob("*.jpg"))})
    measures = {}
    for name, source in photos.items():
        photo = fv.io.as_image_batch(source, size, 3, 1)
        saturations = saturation(photo)
        measures[name] = {"high_frequency": float(high_frequency_power(photo)[0]),
                          "saturation": float(saturations.mean()),
                          "saturated": float((saturations > 0.8).mean())}
    return measures


def markdown_table(kind: str, rows: dict[str, dict[str, float]], steps: dict[str, int]) -> str:
    """The measures as a markdown table, one row per method."""
    if kind == "classes":
        head = ("| method | steps | still top-1 after perturbation | rescale | rotate | crop60 | blur "
                "| target probability | unperturbed top-1 | other network's top-5 | mean saturation "
                "| saturation > 0.8 | power above half-Nyquist | wall time |")
    else:
        head = ("| method | steps | still top channel after perturbation | rescale | rotate | crop60 "
                "| blur | activation kept | unperturbed top channel | mean saturation "
                "| saturation > 0.8 | power above half-Nyquist | wall time |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for method, row in rows.items():
        if kind == "classes":
            judged = f"{row['judge_top5']:.0%}" if "judge_top5" in row else "-"
            middle = f"{row['probability']:.2f} | {row['clean']:.0%} | {judged}"
        else:
            middle = f"{row['retained']:.2f} | {row['clean']:.0%}"
        label = LABELS[method].replace("\n", ", ")
        lines.append(
            f"| {label} | {steps[method]} | {row['robust']:.0%} | {row['rescale']:.0%} "
            f"| {row['rotate']:.0%} | {row['crop60']:.0%} | {row['blur']:.0%} | {middle} "
            f"| {row['saturation']:.2f} | {row['saturated']:.3f} | {row['high_frequency']:.3f} "
            f"| {row['wall_s']:.0f} s |")
    return "\n".join(lines) + "\n"


# The figure ---------------------------------------------------------------------------------------

def figure(rows: dict[str, np.ndarray], labels: Sequence[str], path: Path, tile: int,
           per_row: int = 8) -> int:
    """A palette PNG of rows of images (keyed by their label) in blocks of `per_row` columns.

    Args:
        rows: row label (may have two lines) -> [n, height, width, 3] images in [0, 1].
        labels: n column labels.
        path: the PNG to write.
        tile: pixels per tile side.
        per_row: columns per block; the blocks are stacked.

    Returns:
        The file's size in bytes.
    """
    font = ImageFont.load_default()
    measuring = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left = 8 + max(measuring.multiline_textbbox((0, 0), label, font=font)[2] for label in rows)
    pad, top = 3, 14
    blocks = [range(i, min(i + per_row, len(labels))) for i in range(0, len(labels), per_row)]
    width = left + per_row * (tile + pad)
    block_height = top + len(rows) * (tile + pad)
    canvas = Image.new("RGB", (width, len(blocks) * block_height + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for b, block in enumerate(blocks):
        y0 = b * block_height
        for c, index in enumerate(block):
            draw.text((left + c * (tile + pad), y0 + 1), _fit(draw, font, labels[index], tile),
                      fill="black", font=font)
        for r, (label, images) in enumerate(rows.items()):
            y = y0 + top + r * (tile + pad)
            draw.multiline_text((4, y + tile // 2 - 12), label, fill="black", font=font)
            for c, index in enumerate(block):
                tile_image = Image.fromarray(fv.io.to_uint8(images[index]))
                tile_image = tile_image.resize((tile, tile), Image.Resampling.LANCZOS)
                canvas.paste(tile_image, (left + c * (tile + pad), y))
    # A 256-colour palette (no dithering) keeps the file small and the textures legible.
    palette = canvas.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    fv.io.atomic_write(path, lambda tmp: palette.save(tmp, format="PNG", optimize=True))
    return path.stat().st_size


def _fit(draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont, text: str, width: int) -> str:
    while text and draw.textlength(text, font=font) > width:
        text = text[:-1]
    return text


# Driver ---------------------------------------------------------------------------------------

def _render(method: str, args: argparse.Namespace, network: Network, kind: str,
            targets: Sequence[Target]) -> tuple[np.ndarray, float, int]:
    """(images at the method's own size, wall seconds, steps) of one method."""
    runners: dict[str, Callable[[], np.ndarray]] = {
        "seed": lambda: run_seed(network, kind, targets, args.seed_steps),
        "previous": lambda: run_featviz(network, kind, targets, args.steps,
                                        previous_recipe(network.size)),
        "init-0.01": lambda: run_featviz(network, kind, targets, args.steps,
                                         small_init_recipe(network)),
        "no-centre": lambda: run_featviz(network, kind, targets, args.steps,
                                         no_centre_recipe(network)),
        "featviz": lambda: run_featviz(network, kind, targets, args.steps),
        "featviz-448": lambda: run_large(network, kind, targets, args.steps, args.large_size),
        "featviz-views": lambda: run_featviz(network, kind, targets, args.steps,
                                             dict(views=args.views)),
        "maco": lambda: run_featviz(network, kind, targets, args.steps, maco_recipe(network)),
        "maco-scenes": lambda: run_featviz(network, kind, targets, args.steps,
                                           maco_recipe(network, spectrum_images=SCENE_PHOTOGRAPHS)),
        "xplique": lambda: run_xplique(network, kind, targets, args.steps),
        "tf-keras-vis": lambda: run_tf_keras_vis(network, kind, targets, args.steps),
    }
    start = time.perf_counter()
    images = runners[method]()
    wall = time.perf_counter() - start
    steps = args.steps if method != "seed" else (args.seed_steps or _config_steps())
    return images, wall, steps


def _config_steps() -> int:
    gin.clear_config()
    fv.configs.parse([SEED_CONFIG])
    steps = gin.query_parameter("Visualizer.steps")
    gin.clear_config()
    return steps


def report(args: argparse.Namespace, network: Network, kind: str, targets: Sequence[Target],
           judge: fv.VisModel | None) -> dict:
    """Renders (or reuses), measures and writes the figure and tables of one kind of target.

    Returns:
        {"targets", "rows", "steps", "skipped"}, as written to `quality_<kind>.json`.
    """
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    methods = [m for m in args.methods if kind == "classes" or m in CHANNEL_METHODS]
    columns, rows, steps, skipped = {}, {}, {}, {}
    for method in methods:
        cache = runs / f"{kind}_{method}.npz"
        if args.reuse and cache.exists():
            saved = np.load(cache)
            images, wall, count = saved["images"], float(saved["wall_s"]), int(saved["steps"])
        else:
            print(f"{kind}: rendering {len(targets)} images with {method}", flush=True)
            try:
                images, wall, count = _render(method, args, network, kind, targets)
            except Unavailable as error:
                skipped[method] = str(error)
                print(f"{kind}: {method} skipped: {error}", flush=True)
                continue
            np.savez_compressed(cache, images=images, wall_s=wall, steps=count)
        # Every method is measured and shown at the render size (xplique's 512-pixel and the
        # 448-pixel canvases area-downscaled).
        images = _resized(images, network.size)
        columns[method], steps[method] = images, count
        rows[method] = {**measure(network.model, kind, targets, images, args.repeats, judge),
                        "wall_s": wall}
        print(f"{kind}: {method}: {json.dumps(rows[method])}", flush=True)
    labels = [t if isinstance(t, str) else f"{t[0]}:{t[1]}" for t in targets]
    shown = {f"{LABELS[method]}\n{steps[method]} steps": images for method, images in columns.items()}
    path = Path(args.figures) / f"quality_{kind}_{network.name}.png"
    size = figure(shown, labels, path, args.tile)
    table = markdown_table(kind, rows, steps)
    (runs / f"quality_{kind}.md").write_text(table)
    result = {"targets": labels, "rows": rows, "steps": steps, "skipped": skipped}
    (runs / f"quality_{kind}.json").write_text(json.dumps(result, indent=1))
    print(table + f"figure: {path} ({size / 1024:.0f} KB)")
    return result


def _unit(text: str) -> Unit:
    layer, _, channel = text.rpartition(":")
    if not layer or not channel.isdigit():
        raise argparse.ArgumentTypeError(f"a channel is LAYER:INDEX, got {text!r}")
    return layer, int(channel)


def parser() -> argparse.ArgumentParser:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True,
                        help="a .keras file, a keras.applications name, or demo")
    parser.add_argument("--preprocess", default=None,
                        help="a keras.applications family name, or MEAN/STD on 0-255 pixels")
    parser.add_argument("--logits-layer", default=None,
                        help="the layer whose output is the logits (default: the last layer)")
    parser.add_argument("--name", default=None, help="short name in file names (default: file stem)")
    parser.add_argument("--size", type=int, default=224,
                        help="render size for networks with free input size")
    parser.add_argument("--large-size", type=int, default=448,
                        help="canvas side of the featviz-448 method (smaller for smoke tests)")
    parser.add_argument("--views", type=int, default=4,
                        help="copies of each image per step of the featviz-views method")
    parser.add_argument("--judge", default=None, help="a second network giving top-5 (as --model)")
    parser.add_argument("--judge-preprocess", default=None, help="its preprocessing (as --preprocess)")
    parser.add_argument("--classes", nargs="+", required=True)
    parser.add_argument("--channels", nargs="*", type=_unit, default=[], help="LAYER:INDEX ...")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--steps", type=int, default=256, help="step budget of featviz and the peers")
    parser.add_argument("--seed-steps", type=int, default=None,
                        help="the seed method's steps (default: its config's, as published)")
    parser.add_argument("--repeats", type=int, default=4, help="draws of each random perturbation")
    parser.add_argument("--tile", type=int, default=144, help="pixels per tile in the figure")
    parser.add_argument("--figures", default="experiments/figures")
    parser.add_argument("--runs", default=None, help="cache and tables (default: runs/quality/NAME)")
    parser.add_argument("--reuse", action="store_true", help="reuse cached renders in --runs")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Runs the report from the command line."""
    args = parser().parse_args(argv)
    network = load_network(args.model, args.preprocess, args.logits_layer, args.size, args.name)
    judge = (fv.load_model(args.judge, preprocess=preprocessing(args.judge_preprocess),
                           class_names="imagenet") if args.judge else None)
    args.runs = args.runs or f"runs/quality/{network.name}"
    photos = photo_measures(network.size)
    print("photographs: " + ", ".join(
        f"{name} high-frequency {m['high_frequency']:.3f} saturation {m['saturation']:.2f} "
        f"saturated {m['saturated']:.3f}" for name, m in photos.items()))
    Path(args.runs).mkdir(parents=True, exist_ok=True)
    (Path(args.runs) / "photos.json").write_text(json.dumps(photos, indent=1))
    report(args, network, "classes", args.classes, judge)
    if args.channels:
        report(args, network, "channels", args.channels, judge)


if __name__ == "__main__":
    main()
