"""`load_model`: the bundled demo model, `keras.applications` families and model files.

`load_model(name)` accepts the bundled `"demo"` model, a `keras.applications` family name
(`"vgg16"`, `"mobilenet"`, ... with that family's own `preprocess_input`), a `.keras`/`.h5`
file or a `keras.Model`, and returns a `VisModel`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import gin
import keras

from featviz.models import applications
from featviz.models.classes import imagenet_class_names
from featviz.models.model import Preprocess, VisModel, identity

_DEMO = "demo"


def _demo_model() -> VisModel:
    data = resources.files("featviz") / "data"
    meta = json.loads((data / "demo_model.json").read_text())
    with resources.as_file(data / "demo_model.keras") as path:
        model = keras.models.load_model(path, compile=False)
    return VisModel(model, identity, tuple(meta["class_names"]), _DEMO)


def _file_model(path: Path, preprocess: Preprocess | None, class_names: Sequence[str] | None,
                safe_mode: bool = True) -> VisModel:
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=safe_mode)
    except Exception as error:  # noqa: BLE001 - Keras raises many types for bad files
        if safe_mode and "safe_mode" in str(error):
            # Keras refuses to deserialize code (Lambda layers) from a file it cannot trust.
            raise ValueError(
                f"{str(path)!r} contains Python code (a Lambda layer) that Keras' safe_mode refuses "
                f"to load, since loading it would run that code. Only for a file you trust, pass "
                f"load_model(..., safe_mode=False) (gin: load_model.safe_mode = False)"
            ) from None
        raise ValueError(
            f"could not load a Keras model from {str(path)!r}: {type(error).__name__}: {error}. "
            f"Expected a file saved by model.save() (.keras or .h5)"
        ) from None
    return VisModel(model, preprocess or identity, _class_names_for(model, class_names), path.stem)


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
    safe_mode: bool = True,
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
        safe_mode: Keras' safe mode for model files: a file with Lambda layers (code) is
            refused. False only for files you trust: loading runs their code.
    """
    if isinstance(preprocess, str):
        preprocess = applications.get_application(preprocess).preprocess
    if isinstance(name, VisModel):
        return name
    if isinstance(name, keras.Model):
        return VisModel(name, preprocess or identity, _class_names_for(name, class_names), name.name)
    if not isinstance(name, (str, Path)):
        raise TypeError(f"load_model expects a name, a path or a keras.Model, got {name!r}")
    if name == _DEMO:
        return _demo_model()
    path = Path(name)
    if path.suffix in (".keras", ".h5", ".hdf5") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"model file {str(path)!r} does not exist")
        return _file_model(path, preprocess, class_names, safe_mode)
    app = applications.get_application(str(name))
    model = applications.build_application(str(name), weights=weights, input_shape=input_shape)
    names = _class_names_for(model, class_names) or imagenet_class_names()
    return VisModel(model, preprocess or app.preprocess, names, app.name)
