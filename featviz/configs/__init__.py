"""The gin configs and sample photographs that ship with featviz, and how a config file is read.

The `.gin` files beside this module are package data: `featviz run quickstart` names one by its
bare name from any directory, `featviz configs` lists them (`shipped()`), and their sample
photographs live in `images/` (`sample_image("astronaut")`, with their sources and licences in
`images/README.md`).

A config file's relative paths mean "beside this file", whatever the working directory:

- `include 'other.gin'` is found by gin's include search, which looks in the working directory
  and then in the directories of the configs being read; `read` puts every config's directory
  on that search path and refuses an include that a file of the same name in the working
  directory would shadow.
- A relative string value that names an existing file or folder beside the config that wrote it
  (an image such as `IMAGE = 'images/astronaut.jpg'`, a folder of photographs, a `.keras` model,
  a weights file) is rebound
  to that file's absolute path (`relative_path_bindings`). Values given on the command line
  (`--gin_param`) are the user's and stay relative to the working directory.

This module knows nothing of models or the loop: it reads config files with gin's own parser.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gin
from gin import config_parser

DIRECTORY = Path(__file__).resolve().parent
"""The directory of the shipped `.gin` files."""

IMAGES = DIRECTORY / "images"
"""The directory of the shipped sample photographs."""


def shipped() -> dict[str, str]:
    """Every shipped config's bare name and the first line of its header comment, by name."""
    return {path.stem: _header(path) for path in sorted(DIRECTORY.glob("*.gin"))}


def _header(path: Path) -> str:
    with path.open(encoding="utf-8") as file:
        first = file.readline().strip()
    return first.lstrip("#").strip()


def find(config: str | os.PathLike) -> Path:
    """The config file `config` names: an existing path as given, else a shipped config.

    A bare name (`quickstart` or `quickstart.gin`, no directory part) that is not a file in the
    working directory names the shipped `featviz/configs/quickstart.gin`.

    Raises:
        FileNotFoundError: neither exists; the message lists the shipped configs.
    """
    path = Path(config)
    if path.is_file():
        return path
    bare = path.parent == Path(".") and path.suffix in ("", ".gin")
    if bare and (DIRECTORY / f"{path.stem}.gin").is_file():
        return DIRECTORY / f"{path.stem}.gin"
    kind = "no such file and no shipped config of that name" if bare else "no such file"
    raise FileNotFoundError(
        f"gin config {str(config)!r}: {kind}; the shipped configs are {', '.join(shipped())} "
        f"(`featviz configs` describes them), or give the path of a .gin file"
    )


def sample_image(name: str) -> Path:
    """The path of a shipped sample photograph: `"astronaut"` or `"astronaut.jpg"`.

    Raises:
        ValueError: no such sample; the message lists the shipped ones.
    """
    samples = {path.stem: path for path in sorted(IMAGES.glob("*.jpg"))}
    stem = Path(name).stem
    if stem not in samples:
        raise ValueError(f"no sample image {name!r}; the shipped ones are {', '.join(samples)}")
    return samples[stem]


class _Reference:
    """A `@name`, `@name()` or `%MACRO` of a parsed value, written back exactly as it was."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class _Delegate(config_parser.ParserDelegate):
    """Keeps references and macros as text: the values are re-emitted, never evaluated."""

    def configurable_reference(self, scoped_configurable_name: str, evaluate: bool) -> _Reference:
        return _Reference(f"@{scoped_configurable_name}{'()' if evaluate else ''}")

    def macro(self, macro_name: str) -> _Reference:
        return _Reference(f"%{macro_name}")


def _statements(path: Path) -> list[Any]:
    """The statements of one config file, by gin's own parser (syntax errors name file and line)."""
    with path.open(encoding="utf-8") as file:
        return list(config_parser.ConfigParser(file, _Delegate()))


def _include(statement: Any, including: Path, search: Sequence[Path]) -> Path:
    """The file gin's include search finds for `include '...'`: the working directory first."""
    name = Path(statement.filename)
    if name.is_absolute():
        return name
    beside = including.parent / name
    if name.is_file():
        if beside.is_file() and not beside.samefile(name):
            raise ValueError(
                f"{including}, line {statement.location.line_num}: include {str(name)!r} would "
                f"read {str(name)!r} from the working directory instead of {str(beside)!r} "
                f"beside the config; run from another directory or rename one of them"
            )
        return name
    for directory in (including.parent, *search):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(
        f"{including}, line {statement.location.line_num}: included file {str(name)!r} is neither "
        f"beside the config nor in the working directory"
    )


def _beside(value: Any, directory: Path) -> Any:
    """`value` with each string naming an existing file or folder in `directory` made absolute.

    Folders too, for jobs that read a folder of photographs (`accentuate.folder = 'images'`).
    """
    if isinstance(value, str):
        path = Path(value)
        return str(directory / path) if not path.is_absolute() and (directory / path).exists() else value
    if isinstance(value, (list, tuple)):
        return type(value)(_beside(item, directory) for item in value)
    if isinstance(value, dict):
        return {key: _beside(item, directory) for key, item in value.items()}
    return value


def read(files: Sequence[str | os.PathLike]) -> list[str]:
    """Prepares gin to parse `files` as written, wherever they are; returns the path rebindings.

    Walks the files and everything they include (in gin's order), adds each config's
    directory to gin's include search path (gin keeps that list for the process; a directory
    added twice is searched twice, harmlessly), and returns one gin binding for every final
    binding whose value names files beside the config that wrote it, with those paths made
    absolute. Parse `files`, then these bindings, then the user's own.

    Raises:
        SyntaxError: a config is not valid gin (file and line named).
        FileNotFoundError, ValueError: an include is missing, or shadowed by the working directory.
    """
    directories: list[Path] = []
    final: dict[tuple[str, str, str], tuple[Any, Path]] = {}

    def walk(path: Path) -> None:
        path = path.resolve()
        if path.parent not in directories:
            directories.append(path.parent)
            gin.add_config_file_search_path(str(path.parent))
        for statement in _statements(path):
            if isinstance(statement, config_parser.IncludeStatement):
                walk(_include(statement, path, directories))
            elif isinstance(statement, config_parser.BindingStatement):
                key = (statement.scope, statement.selector, statement.arg_name)
                final[key] = (statement.value, path.parent)

    for file in files:
        walk(Path(file))
    bindings = []
    for (scope, selector, arg_name), (value, directory) in final.items():
        absolute = _beside(value, directory)
        if absolute != value:
            name = f"{scope}/{selector}" if scope else selector
            bindings.append(f"{name}.{arg_name} = {absolute!r}" if arg_name else f"{name} = {absolute!r}")
    return bindings


def parse(files: Sequence[str | os.PathLike], bindings: Sequence[str] = ()) -> None:
    """Parses configs into gin as `featviz run` does, also from Python or a notebook.

    Each of `files` is a shipped config's bare name or a path (`find`); relative paths inside
    them mean beside them (`read`); `bindings` (gin binding strings, applied last) are relative to
    the working directory. Import featviz first, so that gin knows its configurable names.

    Raises:
        FileNotFoundError: a config or include is missing.
        SyntaxError, ValueError, TypeError, NameError: gin refuses the configuration.
    """
    paths = [find(file) for file in files]
    beside = read(paths)
    gin.parse_config_files_and_bindings([str(path) for path in paths], [*beside, *bindings],
                                        skip_unknown=False)
