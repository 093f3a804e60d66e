"""Trains featviz's bundled demo model on the procedural patterns of ``featviz.demo``.

The model is small enough to train in a few minutes on two CPU cores and to ship in the package
(well under 2 MB), and is shaped for feature visualization:

* named layers that featviz's docs and tests refer to: input ``image`` ([64, 64, 3] in [0, 1], no
  preprocessing), 3x3 ReLU convolutions ``conv1``..``conv5`` (16, 32, 64, 64, 64 channels), max
  pools ``pool1``..``pool4`` between them, ``gap``, the linear ``logits`` and a separate softmax
  ``predictions``; no batch normalization or dropout;
* every epoch sees freshly generated images (new colours, periods, phases, positions, noise), so
  the model has to learn geometry, not particular images or colours;
* besides softmax cross-entropy, a one-vs-rest sigmoid loss on the logits makes each logit
  negative on every other class, so that maximizing it draws its own class;
* a fraction of negatives (``featviz.demo.generate_negatives``: flat colours, pixel noise, smooth
  noise, shapes in the wrong colour) is labelled with the uniform distribution, so that the usual
  near-grey or noisy starting points of an optimization are not confidently any class, and so
  that ``red_squares`` needs red *and* squares.

Run from the repository root (or anywhere, with featviz installed)::

    python -m experiments.train_demo_model --epochs 12 --samples 12000

It writes the model (saved uncompiled, without optimizer state) and a JSON metadata file beside it.
"""

import argparse
import json
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf

from featviz import demo

_INPUT_SIZE = 64
# Share of each epoch's images that are negatives (see the module docstring).
_NEGATIVE_FRACTION = 0.15
# Validation images come from a seed far from any training epoch's seed.
_VALIDATION_SEED_OFFSET = 100_000
_VALIDATION_SAMPLES = 2_400
# conv1..conv5. Four 2x2 pools give conv5 a 78-pixel receptive field: with only conv1..conv4
# (38 pixels), logit ascent drew rings as bent stripes and the shape classes as coloured smears.
_CHANNELS = (16, 32, 64, 64, 64)


def build_model(num_classes: int, size: int = _INPUT_SIZE) -> keras.Model:
    """Builds the (untrained) demo CNN with the layer names featviz relies on.

    Args:
        num_classes: number of output units of ``logits``.
        size: input height and width in pixels.

    Returns:
        A functional model named ``demo`` mapping ``image`` [batch, size, size, 3] in [0, 1] to
        softmax ``predictions`` [batch, num_classes].
    """
    image = keras.Input((size, size, 3), name="image")
    x = image
    for index, channels in enumerate(_CHANNELS, start=1):
        x = keras.layers.Conv2D(
            channels, 3, padding="same", activation="relu", name=f"conv{index}"
        )(x)
        if index < len(_CHANNELS):
            x = keras.layers.MaxPooling2D(2, name=f"pool{index}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    predictions = keras.layers.Activation("softmax", name="predictions")(logits)
    return keras.Model(image, predictions, name="demo")


def make_epoch(samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generates one shuffled epoch of class images and negatives.

    Args:
        samples: total number of images, negatives included.
        seed: seed for both the class images and the negatives.

    Returns:
        ``(images, labels)``: images ``[samples, 64, 64, 3]`` in [0, 1]; labels ``[samples]``,
        indices into ``demo.CLASS_NAMES`` or -1 for negatives.
    """
    negatives = int(round(samples * _NEGATIVE_FRACTION))
    images, labels = demo.generate(samples - negatives, size=_INPUT_SIZE, seed=seed)
    images = np.concatenate([images, demo.generate_negatives(negatives, _INPUT_SIZE, seed)])
    labels = np.concatenate([labels, np.full(negatives, -1)])
    order = np.random.default_rng(seed).permutation(samples)
    return images[order], labels[order]


def make_targets(labels: np.ndarray, num_classes: int) -> dict[str, np.ndarray]:
    """Targets of both training losses.

    Args:
        labels: ``[n]`` class indices, -1 for negatives.
        num_classes: number of classes.

    Returns:
        ``predictions``: ``[n, num_classes]`` one-hot, uniform for negatives (softmax
        cross-entropy); ``logits``: ``[n, num_classes]`` one-hot, all zero for negatives
        (one-vs-rest sigmoid cross-entropy).
    """
    one_vs_rest = (labels[:, None] == np.arange(num_classes)).astype(np.float32)
    softmax = np.where(labels[:, None] < 0, 1.0 / num_classes, one_vs_rest).astype(np.float32)
    return {"predictions": softmax, "logits": one_vs_rest}


def parse_args() -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("featviz/data/demo_model.keras"),
        help="model path; the metadata goes beside it with a .json suffix",
    )
    parser.add_argument("--epochs", type=int, default=12, help="training epochs")
    parser.add_argument(
        "--samples", type=int, default=12_000, help="fresh images per epoch, negatives included"
    )
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--learning_rate", type=float, default=2e-3, help="peak Adam step size")
    parser.add_argument(
        "--one_vs_rest_weight",
        type=float,
        default=1.0,
        help="weight of the sigmoid one-vs-rest loss on the logits beside softmax cross-entropy",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    """Trains, evaluates and saves the demo model and its metadata."""
    args = parse_args()
    keras.utils.set_random_seed(args.seed)
    num_classes = len(demo.CLASS_NAMES)
    model = build_model(num_classes)
    steps = args.epochs * (args.samples // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, steps, warmup_target=args.learning_rate, warmup_steps=steps // 20
    )
    # Softmax cross-entropy alone only orders the logits, so a class logit may still grow on
    # another class's pattern (rings on straight stripes), and logit ascent then draws that
    # pattern. The one-vs-rest sigmoid loss pushes every logit below zero on everything but its
    # class, so its maximum is the class's own geometry.
    trainer = keras.Model(
        model.input, {"predictions": model.output, "logits": model.get_layer("logits").output}
    )
    trainer.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss={
            "predictions": keras.losses.CategoricalCrossentropy(),
            "logits": keras.losses.BinaryCrossentropy(from_logits=True),
        },
        loss_weights={"predictions": 1.0, "logits": args.one_vs_rest_weight},
        metrics={"predictions": ["categorical_accuracy"]},
    )
    val_images, val_labels = demo.generate(
        _VALIDATION_SAMPLES, size=_INPUT_SIZE, seed=args.seed + _VALIDATION_SEED_OFFSET
    )

    start = time.perf_counter()
    for epoch in range(args.epochs):
        # Fresh images every epoch act as unlimited augmentation.
        images, labels = make_epoch(args.samples, args.seed * 1_000 + epoch + 1)
        trainer.fit(
            images,
            make_targets(labels, num_classes),
            batch_size=args.batch_size,
            epochs=epoch + 1,
            initial_epoch=epoch,
            validation_data=(val_images, make_targets(val_labels, num_classes)),
            verbose=2,
        )
    training_seconds = time.perf_counter() - start

    probabilities = model.predict(val_images, batch_size=256, verbose=0)
    val_accuracy = float(np.mean(probabilities.argmax(axis=1) == val_labels))
    negatives = demo.generate_negatives(
        _VALIDATION_SAMPLES // 4, _INPUT_SIZE, args.seed + _VALIDATION_SEED_OFFSET
    )
    negative_max = model.predict(negatives, batch_size=256, verbose=0).max(axis=1)
    grey = np.full((1, _INPUT_SIZE, _INPUT_SIZE, 3), 0.5, dtype=np.float32)
    grey_max = float(model.predict(grey, verbose=0).max())
    print(
        f"val_accuracy {val_accuracy:.4f}; max probability on negatives: mean "
        f"{negative_max.mean():.3f}, max {negative_max.max():.3f}; on flat grey {grey_max:.3f}"
    )

    # A fresh, uncompiled copy drops the optimizer state and compile config from the file.
    exported = build_model(num_classes)
    exported.set_weights(model.get_weights())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    exported.save(args.output)
    metadata = {
        "class_names": list(demo.CLASS_NAMES),
        "input_range": [0, 1],
        "input_size": _INPUT_SIZE,
        "val_accuracy": round(val_accuracy, 4),
        "val_samples": _VALIDATION_SAMPLES,
        "val_seed": args.seed + _VALIDATION_SEED_OFFSET,
        "negative_max_probability_mean": round(float(negative_max.mean()), 4),
        "grey_max_probability": round(grey_max, 4),
        "trained_by": "experiments/train_demo_model.py",
        "epochs": args.epochs,
        "samples_per_epoch": args.samples,
        "negative_fraction": _NEGATIVE_FRACTION,
        "one_vs_rest_weight": args.one_vs_rest_weight,
        "seed": args.seed,
        "training_seconds": round(training_seconds, 1),
        "parameters": int(exported.count_params()),
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
    }
    metadata_path = args.output.with_suffix(".json")
    metadata_path.write_text(json.dumps(metadata, indent=2) + "\n")
    print(f"Wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB) and {metadata_path}")


if __name__ == "__main__":
    main()
