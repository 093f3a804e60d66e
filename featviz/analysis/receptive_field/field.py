"""`ReceptiveField`: the input region seen by the neurons of one layer.

Coordinates are input pixels (row, column); pixel ``i`` has its centre at ``i``. A field is
(size, stride, start) per axis, ``start`` being the centre of the field of output position
(0, 0); position ``p`` sees the ``size`` pixels centred on ``start + p * stride``.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
    """The input region seen by the neurons of one layer.

    Attributes:
        size: (height, width) of the field in input pixels.
        stride: (rows, columns) of input pixels between the fields of two
            neighbouring output positions (the "jump").
        start: (row, column) centre, in input pixel coordinates, of the field
            of output position (0, 0). A half-integer for even sizes; may lie
            outside the image when the layers pad.
        is_global: True when every output depends on the whole input (after
            global pooling, Flatten, Dense on a vector, ...). Such a field is
            built by `whole`: `size` is the input size, `stride` too (a single
            cell), `start` the image centre, and `region` is the whole image
            for any position.
    """

    size: tuple[int, int]
    stride: tuple[int, int]
    start: tuple[float, float]
    is_global: bool = False

    def __post_init__(self) -> None:
        for name in ("size", "stride"):
            value = getattr(self, name)
            if len(value) != 2 or not all(isinstance(v, int) and v > 0 for v in value):
                raise ValueError(f"ReceptiveField.{name} must be two positive ints, got {value!r}.")
        # The field of every position must cover whole pixels, so the top-left
        # corner start - (size - 1) / 2 is an integer.
        for size, start in zip(self.size, self.start):
            if (start - (size - 1) / 2) % 1:
                raise ValueError(
                    f"ReceptiveField start {self.start!r} does not put a field of size "
                    f"{self.size!r} on whole pixels: start - (size - 1) / 2 must be an integer."
                )

    @classmethod
    def whole(cls, input_size: tuple[int, int]) -> "ReceptiveField":
        """The field of a neuron that sees the whole input.

        Args:
            input_size: (height, width) of the model input.

        Returns:
            A global field centred on the image.
        """
        height, width = input_size
        return cls(
            size=(height, width),
            stride=(height, width),
            start=((height - 1) / 2, (width - 1) / 2),
            is_global=True,
        )

    def center(self, position: tuple[int, int]) -> tuple[float, float]:
        """The input-pixel centre of the field of an output position.

        Args:
            position: (row, column) in the layer's output grid.

        Returns:
            (row, column) in input pixel coordinates: start + position * stride.
        """
        return (
            self.start[0] + position[0] * self.stride[0],
            self.start[1] + position[1] * self.stride[1],
        )

    def region(
        self, position: tuple[int, int], image_size: tuple[int, int]
    ) -> tuple[int, int, int, int]:
        """Pixel bounds of the field of an output position, clipped to the image.

        Args:
            position: (row, column) in the layer's output grid.
            image_size: (height, width) of the input image.

        Returns:
            (top, left, bottom, right) with bottom and right exclusive, so that
            `image[top:bottom, left:right]` is the crop. The whole image for a
            global field.

        Raises:
            ValueError: if the field lies entirely outside the image.
        """
        height, width = image_size
        if self.is_global:
            return 0, 0, height, width
        row, col = self.center(position)
        top = int(row - (self.size[0] - 1) / 2)
        left = int(col - (self.size[1] - 1) / 2)
        bounds = (
            max(top, 0),
            max(left, 0),
            min(top + self.size[0], height),
            min(left + self.size[1], width),
        )
        if bounds[0] >= bounds[2] or bounds[1] >= bounds[3]:
            raise ValueError(
                f"The receptive field of position {position!r} lies outside an image of "
                f"size {image_size!r} (unclipped rows {top}..{top + self.size[0]}, "
                f"columns {left}..{left + self.size[1]})."
            )
        return bounds

