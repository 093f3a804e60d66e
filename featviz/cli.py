"""The `featviz` command line: `featviz run CONFIG`, `featviz atlas CONFIG`, `featviz sweep CONFIG`, `featviz layers MODEL`, `featviz configs`.

`run` takes a shipped config's bare name (`featviz run quickstart`, from any directory) or the
path of a `.gin` file; `configs` lists the shipped ones with their header lines. Relative paths
written inside a config (includes, images, model files) mean "beside that config"
(`featviz.configs`); those given with `--gin_param` are relative to the working directory.

The `featviz` console script (`_featviz_console`, outside this package because importing any
`featviz` module imports TensorFlow) silences TensorFlow's C++ and absl start-up logs unless
`--verbose` is given or `TF_CPP_MIN_LOG_LEVEL` is set; importing featviz as a library, or
`python -m featviz.cli`, changes no logging.

`layers` lists a model's layers with their output shapes, channel counts and theoretical
receptive-field size and stride in input pixels ("?" where the field is unknown, "global" after
global pooling); `keras.applications` names are built without weights, so it works offline.

`run` parses gin once, here at the entry point (config files, then `--gin_file`s, then
`--gin_param`s, unknown names are errors), creates the run directory, calls the configured job
(`experiment.job`, by default one `Visualizer` run) and writes `operative_config.gin` beside the
outputs. Ctrl-C or SIGTERM stop the run at the end of the current step; what was finished is
written, and the command exits non-zero with a one-line message.

`atlas` is `run` for the `activation_atlas` job (the same gin parsing and signals), with
`--images DIR` and `--layer NAME` as shorthands for its bindings, into `runs/<config>/` like
`sweep`: a rerun into a directory that holds an atlas's collection resumes (finished collection
shards and icons are kept); `--overwrite` discards them and starts afresh.

`sweep` parses gin the same way and runs the `sweep` job (`featviz.sweep`) into
`runs/<config>/` (no time stamp: a rerun into the same directory is a resume, rendering only
what is missing); `--layers`, `--backend`, `--address`, `--examples` and `--grid` override or
complete the config's `sweep.*` bindings.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import shutil
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import gin

# Importing the package registers every configurable name a config may use.
import featviz
from featviz import configs

# Exit codes of a process stopped by SIGINT / SIGTERM, by shell convention (128 + signal).
_SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
_VERBOSE_HELP = "show TensorFlow's C++ and absl start-up logs (hidden unless TF_CPP_MIN_LOG_LEVEL is set)"


def _run_directory(config: Path, logdir: str | None, overwrite: bool, stamp: bool = True,
                   resumable: str | None = None) -> Path:
    """The run directory, created; refused when it is not empty, unless `overwrite` is set or
    it holds the file `resumable` (a sweep's manifest: rerunning into it is a resume)."""
    if logdir is None:
        suffix = "-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S") if stamp else ""
        path = Path("runs") / f"{config.stem}{suffix}"
    else:
        path = Path(logdir)
    resuming = resumable is not None and (path / resumable).is_file()
    if path.exists() and any(path.iterdir()) and not (overwrite or resuming):
        raise SystemExit(
            f"featviz: run directory {str(path)!r} already exists and is not empty; choose "
            f"another --logdir or pass --overwrite"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".featviz-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise SystemExit(f"featviz: cannot write to run directory {str(path)!r}: {error.strerror}") from None
    return path


def _parse_gin(files: Sequence[Path], params: Sequence[str]) -> None:
    """Parses `files` (relative paths in them meaning "beside the file"), then `params`."""
    # Each run starts from its own files alone, also when main() is called again in-process.
    gin.clear_config()
    try:
        configs.parse(files, params)
    except (ValueError, TypeError, NameError, SyntaxError, FileNotFoundError) as error:
        raise SystemExit(f"featviz: invalid gin configuration: {error}") from None


def _config_file(name: str) -> Path:
    try:
        return configs.find(name)
    except FileNotFoundError as error:
        raise SystemExit(f"featviz: {error}") from None


@contextlib.contextmanager
def _stop_on_signals(stop: Any, what: str) -> Iterator[list[int]]:
    """Within the block, SIGINT/SIGTERM request `stop`; yields the signals received."""
    received: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        if received:
            # A second signal means "now": give up on the clean stop.
            raise KeyboardInterrupt
        received.append(signum)
        print(f"\nfeatviz: {signal.Signals(signum).name} received; stopping after {what} "
              f"(send it again to quit at once)", file=sys.stderr)
        stop.request()

    previous = {sig: signal.signal(sig, on_signal) for sig in _SIGNAL_EXIT}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_job(args: argparse.Namespace, params: Sequence[str], call: Callable[[Path, Any], Any],
             resumable: str | None = None) -> int:
    """Parses gin, makes the run directory and runs `call(logdir, stop)` under the signal handlers.

    With `resumable` (a file a resumable job leaves in its directory), the directory has no time
    stamp and a rerun into one holding that file is allowed (see `_run_directory`)."""
    from featviz.jobs import save_operative_config
    from featviz.render import NonFiniteError, StopToken

    config = _config_file(args.config)
    _parse_gin([config, *map(_config_file, args.gin_file)], params)
    logdir = _run_directory(config, args.logdir, args.overwrite, stamp=resumable is None,
                            resumable=resumable)
    stop = StopToken()
    with _stop_on_signals(stop, "this step") as received:
        try:
            with gin.unlock_config():
                call(logdir, stop)
        except NonFiniteError as error:
            save_operative_config(logdir)
            print(f"featviz: {error}. Outputs so far are in {logdir}", file=sys.stderr)
            return 3
    save_operative_config(logdir)
    if received:
        name = signal.Signals(received[0]).name
        print(f"featviz: interrupted by {name}; finished steps were saved in {logdir}", file=sys.stderr)
        return _SIGNAL_EXIT[received[0]]
    print(f"featviz: done; outputs in {logdir} (tensorboard --logdir {logdir.parent})")
    return 0


def _command_run(args: argparse.Namespace) -> int:
    from featviz.jobs import experiment

    return _run_job(args, args.gin_param, lambda logdir, stop: experiment(str(logdir), stop=stop))


def _command_atlas(args: argparse.Namespace) -> int:
    from featviz.jobs import Run
    from featviz.collection.collect import MANIFEST
    from featviz.sweep import COLLECTION, ICONS, activation_atlas

    def atlas(logdir: Path, stop: Any) -> None:
        if args.overwrite:
            # Starting afresh: the finished collection and icons are no longer kept.
            for part in (COLLECTION, ICONS):
                shutil.rmtree(logdir / part, ignore_errors=True)
        activation_atlas(Run(logdir, stop))

    # The shorthands go after the config's bindings and before --gin_param, which may override them.
    params = [f"activation_atlas.{name} = {value!r}" for name, value in
              (("images", args.images), ("layer", args.layer)) if value is not None]
    return _run_job(args, [*params, *args.gin_param], atlas, resumable=f"{COLLECTION}/{MANIFEST}")


def _command_sweep(args: argparse.Namespace) -> int:
    from featviz.jobs import Run, save_operative_config
    from featviz.render import StopToken
    from featviz.sweep import MANIFEST, ConfigMismatchError, LostItemError, RayExecutor, sweep

    config = _config_file(args.config)
    _parse_gin([config, *map(_config_file, args.gin_file)], args.gin_param)
    logdir = _run_directory(config, args.logdir, args.overwrite, stamp=False, resumable=MANIFEST)
    if args.resume and not (logdir / MANIFEST).is_file():
        raise SystemExit(f"featviz: --resume: {str(logdir)!r} holds no sweep ({MANIFEST}) to resume")
    if args.overwrite and (logdir / MANIFEST).is_file():
        # Starting afresh: the old results are no longer counted (their files are rewritten).
        (logdir / MANIFEST).unlink()
    if args.address and args.backend != "ray":
        raise SystemExit("featviz: --address joins a Ray cluster; use it with --backend ray")
    settings: dict[str, Any] = {}
    if args.layers:
        settings["layers"] = [layer.strip() for layer in args.layers.split(",") if layer.strip()]
    if args.examples:
        settings["examples"] = args.examples
    if args.grid:
        settings["grid"] = args.grid
    stop = StopToken()
    with _stop_on_signals(stop, "the items being rendered") as received:
        try:
            with gin.unlock_config():
                if args.backend == "ray":
                    # RayExecutor's other arguments (resources, retries) are gin bindings.
                    settings["executor"] = RayExecutor(**({"address": args.address} if args.address else {}))
                manifest = sweep(Run(logdir, stop), **settings)
        except ConfigMismatchError as error:
            raise SystemExit(f"featviz: {error}") from None
        except LostItemError as error:
            print(f"featviz: {error}", file=sys.stderr)
            return 4
    save_operative_config(logdir)
    failed = sum(entry["error"] is not None or bool(entry["failures"]) for entry in manifest.items.values())
    if received:
        name = signal.Signals(received[0]).name
        print(f"featviz: interrupted by {name}; {len(manifest.items)} finished items are kept in "
              f"{logdir} (rerun the same command to render the rest)", file=sys.stderr)
        return _SIGNAL_EXIT[received[0]]
    note = f", {failed} with failures (shown in the atlas)" if failed else ""
    print(f"featviz: done; {len(manifest.items)} items{note}; atlas: {logdir / 'atlas' / 'index.html'}")
    return 0


def _field_columns(field: object) -> tuple[str, str]:
    """The receptive-field size and stride cells of one layer of the `layers` table."""
    if field is None:
        return "?", "?"
    if field.is_global:
        return "global", "-"
    (height, width), (rows, cols) = field.size, field.stride
    stride = str(rows) if rows == cols else f"{rows}x{cols}"
    return f"{height}x{width}", stride


def _command_layers(args: argparse.Namespace) -> int:
    from featviz.analysis.receptive_field import receptive_fields
    from featviz.models import load_model

    model = load_model(args.model, weights=args.weights)
    try:
        fields = receptive_fields(model.model)
    except ValueError as error:
        # A model without a fixed input size still lists its layers, without fields.
        print(f"featviz: no receptive fields: {error}", file=sys.stderr)
        fields = {}
    rows = [("layer", "type", "output shape", "channels", "rf size", "rf stride")]
    # Qualified names (`outer/inner`), as objectives and receptive fields take them; layers of
    # nested models are indented under their model.
    for name in model.layer_names:
        try:
            shape = model.output_shape(name)
        except ValueError:
            shape = ("?",)
        channels = str(shape[-1]) if len(shape) >= 2 and shape[-1] is not None else "-"
        indent = "  " * name.count("/")
        rows.append((indent + name, type(model.layer(name)).__name__, str(shape), channels,
                     *_field_columns(fields.get(name))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _command_configs(args: argparse.Namespace) -> int:
    shipped = configs.shipped()
    width = max(map(len, shipped))
    for name, header in shipped.items():
        print(f"{name.ljust(width)}  {header}")
    print(f"\n(in {configs.DIRECTORY}; run one with `featviz run NAME`)")
    return 0


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments `run` and `atlas` share: the config, gin files and bindings, the run directory."""
    parser.add_argument("config", help="a shipped config's name (see `featviz configs`) or a .gin file")
    parser.add_argument("--gin_file", action="append", default=[], help="more .gin files, applied in order")
    parser.add_argument("--gin_param", action="append", default=[],
                        help="a gin binding, e.g. --gin_param=\"Visualizer.steps=64\" (repeatable)")
    parser.add_argument("--logdir", help="run directory (default: runs/<config>-<time>)")
    parser.add_argument("--overwrite", action="store_true",
                        help="allow writing into an existing non-empty --logdir (atlas: discard its collection and icons)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `featviz` command."""
    parser = argparse.ArgumentParser(prog="featviz", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"featviz {featviz.__version__}")
    # Acted on by the `featviz` console script (`_featviz_console`) before featviz and TensorFlow
    # are imported; accepted here, before or after the command, so that it is documented and
    # `python -m featviz.cli` takes the same arguments. SUPPRESS keeps a sub-command's default
    # from overwriting `featviz --verbose run ...`.
    parser.add_argument("--verbose", action="store_true", help=_VERBOSE_HELP)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=_VERBOSE_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", parents=[common], help="run a gin-configured visualization")
    _add_run_arguments(run)
    run.set_defaults(handler=_command_run)

    atlas = commands.add_parser("atlas", parents=[common],
                                help="an activation atlas of a layer over a folder of images")
    _add_run_arguments(atlas)
    atlas.add_argument("--images", help="folder of images (any Pillow format), for activation_atlas.images")
    atlas.add_argument("--layer", help="layer to lay out, for activation_atlas.layer")
    atlas.set_defaults(handler=_command_atlas)

    sweep = commands.add_parser("sweep", parents=[common],
                                help="render every channel of chosen layers into an atlas, resumably")
    sweep.add_argument("config", help="a shipped sweep config's name (demo_sweep, imagenet_sweep) or a .gin file")
    sweep.add_argument("--gin_file", action="append", default=[], help="more .gin files, applied in order")
    sweep.add_argument("--gin_param", action="append", default=[], help="a gin binding (repeatable)")
    sweep.add_argument("--logdir", help="sweep directory (default: runs/<config>); a rerun into it resumes")
    sweep.add_argument("--overwrite", action="store_true",
                       help="start afresh in a non-empty --logdir (forgets its finished items)")
    sweep.add_argument("--layers", help="comma-separated layer names (overrides sweep.layers)")
    sweep.add_argument("--backend", choices=("local", "ray"), default="local",
                       help="local: this process (default); ray: Ray actors (pip install \"featviz[ray]\")")
    sweep.add_argument("--address", help="HOST:PORT of an existing Ray cluster (default: a local one)")
    sweep.add_argument("--resume", action="store_true",
                       help="require an existing sweep in --logdir and render what it lacks (a plain rerun does the same)")
    sweep.add_argument("--examples", metavar="DIR", help="a folder of images: top dataset examples per channel")
    sweep.add_argument("--grid", action="append", default=[],
                       help="sweep a gin binding: --grid \"Fourier.decay_power=[1.0,1.5]\" (repeatable; all combinations)")
    sweep.set_defaults(handler=_command_sweep)

    layers = commands.add_parser("layers", parents=[common],
                                 help="list a model's layers with shapes, channel counts and receptive fields")
    layers.add_argument("model", help="'demo', a keras.applications name (e.g. vgg16) or a .keras/.h5 file")
    layers.add_argument("--weights", default=None,
                        help="weights for keras.applications names (default: none, works offline)")
    layers.set_defaults(handler=_command_layers)

    listing = commands.add_parser("configs", parents=[common],
                                  help="list the shipped configs with their header lines")
    listing.set_defaults(handler=_command_configs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `featviz` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, TypeError, FileNotFoundError, OSError) as error:
        print(f"featviz: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
