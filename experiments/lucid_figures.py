"""Figures of Lucid's toolbox and MACO on the reference ImageNet MobileNet-0.25 (issue 15).

One sub-command per feature; each writes a full-size figure and a JSON of its measured numbers
into runs/lucid/<feature>/, and a small PNG into experiments/figures/ (via small_png.py).
Modest budgets (2 shared CPU cores): 128-256 steps, a few images.

    python experiments/lucid_figures.py diversity       # Channel with and without Diversity
    python experiments/lucid_figures.py interpolation   # A -> B: Fourier vs SharedLowRes + Alignment
    python experiments/lucid_figures.py cppn            # a CPPN channel render at 1x and 4x
    python experiments/lucid_figures.py transparency    # a centred neuron with optimized alpha
    python experiments/lucid_figures.py maco            # deep classes: Fourier vs MACO, attribution
    python experiments/lucid_figures.py deepdream       # one octave vs three octaves
    python experiments/lucid_figures.py caricature      # one row per layer
    python experiments/lucid_figures.py accentuation    # a channel accentuated in three photographs
    python experiments/lucid_figures.py style           # style layers x weights, Gram distance and content error
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gin
import numpy as np
import tensorflow as tf

import featviz as fv
from featviz.analysis.evaluate import high_frequency_power
from featviz.configs import IMAGES

sys.path.insert(0, str(Path(__file__).parent))
from small_png import shrink  # noqa: E402

MOBILENET = Path("/work/shared/models/mobilenet_025_imagenet.keras")
FIGURES = Path(__file__).parent / "figures"
RUNS = Path("runs/lucid")


def mobilenet() -> fv.VisModel:
    return fv.load_model(str(MOBILENET), preprocess="mobilenet", class_names="imagenet")


def channel_means(model: fv.VisModel, images: np.ndarray, layer: str, channel: int) -> np.ndarray:
    """[batch] mean activation of a channel for images resized to the model's input."""
    acts = model.activations(np.asarray(images)[..., :3], [layer])[layer]
    return acts[..., channel].numpy().mean(axis=(1, 2))


def save(name: str, figure: np.ndarray, numbers: dict, scale: float = 0.5) -> None:
    out = RUNS / name
    out.mkdir(parents=True, exist_ok=True)
    fv.save_png(out / f"{name}.png", figure)
    (out / f"{name}.json").write_text(json.dumps(numbers, indent=2))
    size = shrink(out / f"{name}.png", FIGURES / f"lucid_{name}.png", scale)
    print(json.dumps(numbers, indent=2))
    print(f"experiments/figures/lucid_{name}.png: {size / 1024:.0f} KB")


def diversity(model: fv.VisModel) -> None:
    layer, channel, where = "conv_pw_11_relu", 37, "conv_pw_9_relu"
    rows, numbers = [], {}
    for label, weight in (("plain", 0.0), ("diversity", 10.0)):
        objective = fv.Channel(layer, channel)
        if weight:
            objective = objective + weight * fv.Diversity(where)
        render = fv.Visualizer(model, objective, param=fv.Fourier(224, batch=4, decay_power=1.5),
                               steps=192).run()
        acts = model.activations(render.images, [where])[where]
        similarity = fv.gram_similarity(acts).numpy()
        off = (similarity.sum() - np.trace(similarity)) / 12
        numbers[label] = {"weight": weight, "mean_pairwise_gram_similarity": float(off),
                          "channel": channel_means(model, render.images, layer, channel).tolist()}
        rows.append(render.images)
    save("diversity", fv.rows_figure(rows, [f"{k} (sim {v['mean_pairwise_gram_similarity']:.3f})"
                                            for k, v in numbers.items()]), numbers)


def interpolation(model: fv.VisModel) -> None:
    layer, a, b = "conv_pw_11_relu", 37, 90
    size, frames = 160, 6
    interpolate = fv.ChannelInterpolate(layer, a, layer, b)
    runs = {
        "Fourier, no alignment": (interpolate, fv.Fourier(size, batch=frames, decay_power=1.5)),
        "SharedLowRes + Alignment": (
            interpolate + 1.0 * fv.Alignment("conv_pw_5_relu", decay_ratio=5.0)
            + 1.0 * fv.Alignment(layer, decay_ratio=5.0),
            fv.SharedLowRes(size, batch=frames, base=fv.Fourier(decay_power=1.5))),
    }
    rows, numbers = [], {}
    for label, (objective, param) in runs.items():
        render = fv.Visualizer(model, objective, param=param, steps=192).run()
        numbers[label] = {"mean_frame_distance": float(fv.frame_distances(render.images).mean()),
                          "channel_a": channel_means(model, render.images, layer, a).tolist(),
                          "channel_b": channel_means(model, render.images, layer, b).tolist()}
        rows.append(render.images)
    save("interpolation", fv.rows_figure(
        rows, [f"{k} (d {v['mean_frame_distance']:.3f})" for k, v in numbers.items()]), numbers)


def cppn(model: fv.VisModel) -> None:
    layer, channel = "conv_pw_7_relu", 12
    param = fv.CPPN(128, batch=1)
    # Lucid's CPPN notebook: Adam 0.005.
    visualizer = fv.Visualizer(model, fv.Channel(layer, channel), param=param, steps=256,
                               learning_rate=0.005)
    render = visualizer.run()
    large = param.render(visualizer.variable, 512).numpy()
    numbers = {"channel_at_1x": float(channel_means(model, render.images, layer, channel)[0]),
               "channel_at_4x": float(channel_means(model, large, layer, channel)[0])}
    small = np.asarray(tf.image.resize(render.images, (512, 512), method="nearest"))
    save("cppn", fv.rows_figure([np.concatenate([small, large])], ["128 px, 4x nearest | 512 px render"]),
         numbers)


def transparency(model: fv.VisModel) -> None:
    layer, channel = "conv_pw_11_relu", 37
    rows, numbers = [], {}
    for weight in (0.5, 2.0):
        render = fv.Visualizer(
            model, fv.Neuron(layer, channel) + weight * fv.Opacity(),
            param=fv.Transparent(224, batch=1, color=fv.Fourier(decay_power=1.5)),
            transforms=[fv.CompositeRandomBackground(), *fv.default_transforms(224)],
            steps=192).run()
        alpha = render.images[0, ..., 3]
        border = np.concatenate([alpha[:32].ravel(), alpha[-32:].ravel(), alpha[:, :32].ravel(),
                                 alpha[:, -32:].ravel()]).mean()
        numbers[f"opacity weight {weight}"] = {"alpha_centre_64px": float(alpha[80:144, 80:144].mean()),
                                               "alpha_border_32px": float(border)}
        rows.append(np.stack([fv.io.over_checkerboard(render.images[0]),
                              np.repeat(render.images[0, ..., 3:], 3, axis=-1)]))
    save("transparency", fv.rows_figure(rows, list(numbers)), numbers)


def maco(model: fv.VisModel) -> None:
    classes = ["flamingo", "goldfinch", "volcano"]
    objectives = [fv.ClassLogit(c) for c in classes]
    attribution = fv.GradientMagnitude(save=False)
    runs = {
        "Fourier (default recipe)": dict(),
        "MACO": dict(param=fv.Maco(224), transforms=[fv.RandomCrop(sizes=(0.9, 0.4))],
                     learning_rate=0.2, callbacks=[attribution]),
    }
    rows, numbers = [], {}
    for label, settings in runs.items():
        start = time.time()
        render = fv.Visualizer(model, objectives, steps=192, **settings).run()
        logits = model.activations(render.images, [fv.LOGITS])[fv.LOGITS].numpy()
        probabilities = tf.nn.softmax(logits).numpy()
        numbers[label] = {
            "target_probability": [float(probabilities[i, model.class_index(c)])
                                   for i, c in enumerate(classes)],
            "power_above_half_nyquist": high_frequency_power(render.images).tolist(),
            "seconds": round(time.time() - start),
        }
        rows.append(render.images)
    rows.append(np.repeat(attribution.maps[..., None], 3, axis=-1))
    save("maco", fv.rows_figure(rows, [*runs, "MACO attribution"], [classes] * 3), numbers)




def _photo_settings(steps: int, learning_rate: float) -> None:
    """The loop settings the photograph jobs take from gin."""
    gin.clear_config()
    gin.bind_parameter("Visualizer.steps", steps)
    gin.bind_parameter("Visualizer.learning_rate", learning_rate)


def deepdream(model: fv.VisModel) -> None:
    objective = fv.LayerActivation("conv_pw_11_relu", "l2")
    rows, numbers = [], {}
    for octaves in (1, 3):
        gin.clear_config()
        # configs/deepdream.gin's loop: SGD on normalised gradients, jitter.
        gin.bind_parameter("Visualizer.steps", 40)
        gin.bind_parameter("Visualizer.optimizer", "sgd")
        gin.bind_parameter("Visualizer.learning_rate", 0.012)
        gin.bind_parameter("Visualizer.gradient_transforms", [fv.NormalizeGradient()])
        gin.bind_parameter("Visualizer.transforms", [fv.Jitter(8)])
        dream = fv.deepdream(RUNS / f"deepdream_{octaves}", model, str(IMAGES / "astronaut.jpg"),
                             objective, size=224, octaves=octaves)
        numbers[f"{octaves} octave(s), 40 steps each"] = dream.values
        rows.append(np.stack([dream.original, dream.octaves[-1]]))
    gin.clear_config()
    save("deepdream", fv.rows_figure(rows, [f"{k}: {v['photo']:.2f} -> {v['dream']:.2f}"
                                            for k, v in numbers.items()]), numbers)


def caricature(model: fv.VisModel) -> None:
    layers = ["conv_pw_3_relu", "conv_pw_7_relu", "conv_pw_11_relu"]
    _photo_settings(192, 0.03)
    result = fv.caricature(RUNS / "caricature_run", model, str(IMAGES / "chelsea.jpg"), layers,
                           samples=2)
    gin.clear_config()
    rows = [np.concatenate([result.original[None], result.images[layer]]) for layer in layers]
    save("caricature", fv.rows_figure(rows, layers), result.values)


def accentuation(model: fv.VisModel) -> None:
    folder = RUNS / "accentuation_photos"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("chelsea", "coffee", "astronaut"):
        (folder / f"{name}.jpg").write_bytes((IMAGES / f"{name}.jpg").read_bytes())
    # accentuate's default: no transforms (the penalty compares position by position).
    _photo_settings(128, 0.03)
    unit = fv.ClassLogit("goldfinch")
    results = fv.accentuate(RUNS / "accentuation_run", model, str(folder), unit,
                            layer="conv_pw_3_relu", weights=[100.0, 1000.0])
    gin.clear_config()
    numbers = {Path(r.photo).stem: {"logit_photo": r.unit[0], "logit_per_weight": r.unit[1:],
                                    "feature_error_per_weight": r.feature_error} for r in results}
    rows = [np.concatenate([r.original[None], r.images]) for r in results]
    save("accentuation", fv.rows_figure(rows, list(numbers), [["photo", "w=100", "w=1000"]] * 3), numbers)


def style(model: fv.VisModel) -> None:
    content_layer = "conv_pw_7_relu"
    layer_sets = {
        "conv1..pw11 (mobilenet.gin)": ["conv1_relu", "conv_pw_1_relu", "conv_pw_3_relu",
                                        "conv_pw_5_relu", "conv_pw_11_relu"],
        "conv1..pw3 (early)": ["conv1_relu", "conv_pw_1_relu", "conv_pw_3_relu"],
    }
    weights = [10.0, 100.0, 1000.0]
    content = str(IMAGES / "chelsea.jpg")
    rows, labels, numbers = [], [], {}
    photo = fv.io.as_image_batch(content, (224, 224), 3, 1)
    for style_name in ("immunohistochemistry", "hubble_deep_field"):
        style_image = str(IMAGES / f"{style_name}.jpg")
        for set_name, layers in layer_sets.items():
            match = fv.StyleMatch(layers, style_image)
            keep = fv.ActivationMatch(content_layer, content)
            objective = fv.stack([keep + w * match for w in weights])
            render = fv.Visualizer(model, objective, param=fv.Fourier(224, batch=3, init=content),
                                   transforms=[], steps=160, learning_rate=0.05).run()
            images = np.concatenate([photo, render.images])
            batch = tf.constant(images)
            keys = [*layers, content_layer]
            features = fv.Features(model.activations(batch, keys), batch, model)
            gram = match.distance(features).numpy()
            error = np.sqrt(-keep(features).numpy())
            cell = f"{style_name} | {set_name}"
            numbers[cell] = {"weights": ["photo", *weights], "gram_distance": gram.tolist(),
                             "content_error": error.tolist()}
            rows.append(images)
            labels.append(cell)
    save("style", fv.rows_figure(rows, labels, [[f"{w}: G {g:.2f} C {c:.2f}" for w, g, c in zip(
        v["weights"], v["gram_distance"], v["content_error"])] for v in numbers.values()]), numbers)


FEATURES = {f.__name__: f for f in (diversity, interpolation, cppn, transparency, maco, deepdream,
                                    caricature, accentuation, style)}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", nargs="+", choices=sorted(FEATURES))
    args = parser.parse_args()
    model = mobilenet()
    for feature in args.features:
        FEATURES[feature](model)
