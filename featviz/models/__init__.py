"""Models: loading any Keras image model and running it the way visualization needs.

- `loading`: `load_model` (the demo model, `keras.applications` families, model files);
- `model`: `VisModel`, the model with its preprocessing, class names, layer lookup and the one
  resize -> preprocess -> extract method (`VisModel.activations`);
- `graph`: the graph runner, which reads any layer (nested models included) without changing
  the model, and holds the run's gradient overrides (redirected ReLUs, pre-softmax logits);
- `gradients`: the redirected ReLU gradient itself;
- `applications`, `classes`: the `keras.applications` families and ImageNet class names.

Models know nothing of objectives, transforms or the loop.
"""

from featviz.models.gradients import redirected_relu, redirected_relu6
from featviz.models.loading import load_model
from featviz.models.model import LOGITS, VisModel

__all__ = ["LOGITS", "VisModel", "load_model", "redirected_relu", "redirected_relu6"]
