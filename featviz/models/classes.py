"""Class names: ImageNet's 1000 names as package data, and resolving a class given by index or name.

`imagenet_class_names()` reads `featviz/data/imagenet_class_index.json`, a copy of the file
Keras downloads for `decode_predictions` (`{"0": ["n01440764", "tench"], ...}`), so names work
offline. `resolve_class` turns what a user typed (`277`, `"red fox"`, `"Red_Fox"`) into an index
and, when it cannot, says which values would work.
"""

from __future__ import annotations

import difflib
import functools
import json
import numbers
import re
from collections.abc import Sequence
from importlib import resources

# Spaces, hyphens and underscores all separate words in class names ("red_fox", "Shih-Tzu").
_SEPARATORS = re.compile(r"[\s_\-]+")
_NUM_SUGGESTIONS = 5


@functools.cache
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class names in Keras' order (index 277 is "red_fox").

    Names are those of Keras' `imagenet_class_index.json`, words joined by underscores. Two
    names occur twice: "crane" (134, the bird; 517, the machine) and "maillot" (638, 639).

    Returns:
        A tuple of 1000 names; element i names output i of a `keras.applications` classifier.
    """
    text = resources.files("featviz").joinpath("data", "imagenet_class_index.json").read_text()
    index = json.loads(text)
    return tuple(index[str(i)][1] for i in range(len(index)))


def _words(name: str) -> str:
    return _SEPARATORS.sub(" ", name).strip()


def resolve_class(
    target: int | str, class_names: Sequence[str] | None, num_classes: int | None = None
) -> int:
    """Resolves a class given by index or by name to its index.

    Names match case-insensitively, with spaces, hyphens and underscores treated alike, so
    "red fox", "Red-Fox" and "red_fox" all resolve to ImageNet's 277. Where only case tells two
    names apart, the exact case decides: ImageNet's "Cardigan" is the corgi (264), "cardigan"
    the sweater (474).

    Args:
        target: a class index, or a class name from `class_names`.
        class_names: one name per class (element i names class i), or None when the model has
            no names, in which case only indices are accepted.
        num_classes: the model's number of classes; indices must lie in [0, num_classes).
            None: the number of `class_names`, or no upper bound if those are None too.

    Returns:
        The class index.

    Raises:
        TypeError: `target` is neither an integer nor a string.
        ValueError: the index is out of range; the name is unknown (the message lists the
            closest names), ambiguous (the message lists the indices it could mean), beyond the
            model's `num_classes`, or given while the model has no class names.
    """
    if num_classes is None and class_names is not None:
        num_classes = len(class_names)
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        index = int(target)
        if index < 0 or (num_classes is not None and index >= num_classes):
            valid = f"0..{num_classes - 1}" if num_classes is not None else "0 or more"
            raise ValueError(f"class index {index} is out of range; valid indices: {valid}")
        return index
    if not isinstance(target, str):
        raise TypeError(
            f"a class is an integer index or a string name, got {target!r} "
            f"({type(target).__name__})"
        )
    if class_names is None:
        raise ValueError(
            f"cannot resolve class name {target!r}: the model has no class names. Give the class "
            f"as an integer index, or give the model its names (class_names=[...], one per output; "
            f"featviz.classes.imagenet_class_names() for ImageNet classifiers)"
        )
    wanted = _words(target)
    normalized = [_words(name).lower() for name in class_names]
    matches = [i for i, name in enumerate(normalized) if name == wanted.lower()]
    if not matches:
        raise ValueError(_unknown_class_message(target, wanted.lower(), class_names, normalized))
    if len(matches) > 1:
        matches = [i for i in matches if _words(class_names[i]) == wanted] or matches
    if len(matches) > 1:
        candidates = ", ".join(f"{i} ({class_names[i]!r})" for i in matches)
        raise ValueError(
            f"class name {target!r} is ambiguous: it names classes {candidates}; give the index "
            f"instead"
        )
    index = matches[0]
    if index >= num_classes:
        raise ValueError(
            f"class {target!r} is index {index} in class_names, but the model has only "
            f"{num_classes} classes (valid indices: 0..{num_classes - 1})"
        )
    return index


def _unknown_class_message(
    target: str, wanted: str, class_names: Sequence[str], normalized: list[str]
) -> str:
    close = difflib.get_close_matches(wanted, normalized, n=_NUM_SUGGESTIONS, cutoff=0.6)
    # Map normalized suggestions back to the names as written, without repeats ("crane" twice).
    suggestions = list(dict.fromkeys(class_names[normalized.index(name)] for name in close))
    if suggestions:
        return f"unknown class {target!r}; closest: {', '.join(map(repr, suggestions))}"
    examples = ", ".join(map(repr, class_names[:_NUM_SUGGESTIONS]))
    return (
        f"unknown class {target!r} and no close match among the {len(class_names)} class names "
        f"(they start {examples}, ...)"
    )
