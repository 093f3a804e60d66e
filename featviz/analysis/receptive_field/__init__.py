"""Receptive fields: which input pixels a neuron of a layer can see.

Two notions, both in input-pixel coordinates (row, column; pixel ``i`` has its centre at ``i``):

* The *theoretical* receptive field (`receptive_fields`, `receptive_field`, `center_position`),
  read from the model graph through convolutions, pooling, padding, merges and nested models:
  a `ReceptiveField` of size, stride and start per axis, whose `region(position, image_size)`
  is the crop seen by one output position (`featviz.analysis.receptive_field.theoretical` states the
  recurrence and which layers it understands).
* The *effective* receptive field (`effective_receptive_field`, `effective_region`):
  ``|d neuron / d image|``, which shows where inside the theoretical field the neuron actually
  looks for given inputs.

>>> import keras
>>> inputs = keras.Input((32, 32, 3))
>>> x = keras.layers.Conv2D(4, 3, name="conv1")(inputs)
>>> x = keras.layers.MaxPooling2D(name="pool1")(x)
>>> field = receptive_field(keras.Model(inputs, x), "pool1")
>>> field.size, field.stride
((4, 4), (2, 2))
"""

from featviz.analysis.receptive_field.effective import effective_receptive_field, effective_region
from featviz.analysis.receptive_field.field import ReceptiveField
from featviz.analysis.receptive_field.theoretical import center_position, receptive_field, receptive_fields

__all__ = [
    "ReceptiveField", "center_position", "effective_receptive_field", "effective_region",
    "receptive_field", "receptive_fields",
]
