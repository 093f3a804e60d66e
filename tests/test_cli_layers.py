"""`featviz layers MODEL`: shapes, channels, receptive-field size and stride, offline."""

from __future__ import annotations

import keras

from featviz.cli import main


def _table(capsys) -> dict[str, list[str]]:
    """The printed table as layer name -> the other cells (cells are separated by 2+ spaces)."""
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["layer", "type", "output", "shape", "channels", "rf", "size", "rf", "stride"]
    rows = [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in lines[1:]]
    return {row[0]: row[1:] for row in rows}


def test_layers_lists_receptive_field_size_and_stride(tiny_keras_model, tmp_path, capsys):
    path = tmp_path / "tiny.keras"
    tiny_keras_model.save(path)
    assert main(["layers", str(path)]) == 0
    table = _table(capsys)
    assert table["conv1"] == ["Conv2D", "(None, 32, 32, 8)", "8", "3x3", "1"]
    assert table["pool1"][-2:] == ["4x4", "2"]
    assert table["conv2"][-2:] == ["8x8", "2"]
    assert table["gap"][-2:] == ["global", "-"]


def test_layers_of_a_keras_application_needs_no_weights(capsys):
    # VGG16 is built with weights=None: the listing needs the architecture only.
    assert main(["layers", "vgg16"]) == 0
    table = _table(capsys)
    assert table["block1_conv2"][-2:] == ["5x5", "1"]
    assert table["block3_conv1"][-2:] == ["24x24", "4"]
    assert table["block5_conv3"][-2:] == ["196x196", "16"]


def test_layers_of_a_model_without_fixed_input_size_still_lists_layers(tmp_path, capsys):
    inputs = keras.Input((None, None, 3), name="image")
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="conv")(inputs))
    path = tmp_path / "free.keras"
    model.save(path)
    assert main(["layers", str(path)]) == 0
    captured = capsys.readouterr()
    assert "no receptive fields" in captured.err and "input_size" in captured.err
    conv = captured.out.splitlines()[-1].split()
    assert conv[0] == "conv" and conv[-3:] == ["2", "?", "?"]

