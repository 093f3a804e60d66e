"""ImageNet class names as package data, and resolving classes by index or name."""

from __future__ import annotations

import json
import re
from importlib import resources

import numpy as np
import pytest

from featviz.models.classes import imagenet_class_names, resolve_class

NAMES = imagenet_class_names()


def test_class_index_file_has_the_keras_format():
    text = resources.files("featviz").joinpath("data", "imagenet_class_index.json").read_text()
    index = json.loads(text)
    assert sorted(index, key=int) == [str(i) for i in range(1000)]
    wnids = [index[str(i)][0] for i in range(1000)]
    assert all(re.fullmatch(r"n\d{8}", wnid) for wnid in wnids)
    # Keras' file lists the WordNet ids in increasing order; a mistyped id would break it.
    assert wnids == sorted(set(wnids))
    assert all(len(entry) == 2 and entry[1] for entry in index.values())


@pytest.mark.parametrize(
    "index, name",
    [(0, "tench"), (1, "goldfish"), (3, "tiger_shark"), (9, "ostrich"), (30, "bullfrog"),
     (76, "tarantula"), (130, "flamingo"), (277, "red_fox"), (285, "Egyptian_cat"),
     (323, "monarch"), (967, "espresso"), (999, "toilet_tissue")],
)
def test_imagenet_class_names(index, name):
    assert len(NAMES) == 1000
    assert NAMES[index] == name


def test_imagenet_class_names_is_cached():
    assert imagenet_class_names() is imagenet_class_names()


@pytest.mark.parametrize(
    "target", [277, np.int64(277), "red_fox", "red fox", "Red-Fox", " RED  FOX "]
)
def test_resolves_indices_and_spellings(target):
    assert resolve_class(target, NAMES) == 277


def test_exact_case_decides_between_names_only_case_tells_apart():
    assert resolve_class("Cardigan", NAMES) == 264  # the corgi
    assert resolve_class("cardigan", NAMES) == 474  # the sweater
    with pytest.raises(ValueError, match=r"264 \('Cardigan'\), 474 \('cardigan'\)"):
        resolve_class("CARDIGAN", NAMES)


@pytest.mark.parametrize(
    "name, indices", [("crane", "134 ('crane'), 517"), ("maillot", "638 ('maillot'), 639")]
)
def test_duplicate_names_are_ambiguous(name, indices):
    with pytest.raises(ValueError, match=rf"ambiguous.*{re.escape(indices)}.*give the index"):
        resolve_class(name, NAMES)


def test_unknown_name_lists_the_closest():
    with pytest.raises(ValueError, match=r"unknown class 'flamingoo'; closest: 'flamingo'"):
        resolve_class("flamingoo", NAMES)


def test_unknown_name_without_close_match_says_so():
    with pytest.raises(ValueError, match=r"no close match among the 1000 class names"):
        resolve_class("qqqqqqqq", NAMES)


@pytest.mark.parametrize("index", [-1, 1000])
def test_index_out_of_range_names_the_valid_range(index):
    expected = rf"class index {index} is out of range; valid indices: 0\.\.999"
    with pytest.raises(ValueError, match=expected):
        resolve_class(index, NAMES)


def test_num_classes_bounds_indices_and_names():
    assert resolve_class(4, None, num_classes=5) == 4
    with pytest.raises(ValueError, match=r"0\.\.4"):
        resolve_class(5, None, num_classes=5)
    with pytest.raises(ValueError, match=r"index 999 in class_names, but the model has only 10"):
        resolve_class("toilet tissue", NAMES, num_classes=10)


def test_index_without_any_bound_only_needs_to_be_non_negative():
    assert resolve_class(12345, None) == 12345
    with pytest.raises(ValueError, match="0 or more"):
        resolve_class(-3, None)


def test_name_without_class_names_explains_how_to_give_them():
    with pytest.raises(ValueError, match=r"no class names.*integer index.*class_names="):
        resolve_class("red fox", None, num_classes=1000)


@pytest.mark.parametrize("target", [True, 2.0, None, ["red_fox"]])
def test_other_types_are_rejected(target):
    with pytest.raises(TypeError, match="integer index or a string name"):
        resolve_class(target, NAMES)
