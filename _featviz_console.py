"""The `featviz` console script: quiets TensorFlow's start-up, then runs `featviz.cli.main`.

This module sits outside the `featviz` package on purpose: importing any `featviz` module runs
`featviz/__init__.py`, which imports TensorFlow, whose C++ libraries log through absl straight
to file descriptor 2 while they load ("All log messages before absl::InitializeLog() is called
are written to STDERR", the CUDA stub, CPU features, a failed cuInit) — some of it before
`TF_CPP_MIN_LOG_LEVEL` is read. So the decision is taken here, before that import, and only for
this command's own process: importing featviz as a library changes no logging.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Sends what native code writes to file descriptor 2 to /dev/null; Python's stderr still prints.

    `sys.stderr` writes to a copy of the original descriptor meanwhile, so Python warnings and
    the traceback of a failed import are still shown.
    """
    sys.stderr.flush()
    original = os.dup(2)
    python_stderr = sys.stderr
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    sys.stderr = open(original, "w", encoding=python_stderr.encoding, errors="backslashreplace",
                      buffering=1, closefd=False)
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr = python_stderr
        os.dup2(original, 2)
        os.close(original)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `featviz` console script (arguments as for `featviz.cli.main`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--verbose" in argv or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        from featviz.cli import main as cli_main
    else:
        # 3 also hides C++ ERROR lines such as the failed cuInit of a machine without a GPU;
        # errors that matter reach featviz as Python exceptions.
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        with native_stderr_silenced():
            from featviz.cli import main as cli_main
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
