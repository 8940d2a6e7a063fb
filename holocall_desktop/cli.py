"""Command-line entry points: ``holocall`` and its subcommands.

Every command has ``--help``, exits non-zero with a one-line reason on bad input, and keeps heavy
imports (Qt, vispy, aiortc) inside the command that needs them.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from holocall_desktop import __version__
from holocall_desktop.errors import CliError

__all__ = ["CliError", "main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="holocall", description="HoloCall Desktop: volumetric (3D) video calls."
    )
    parser.add_argument("--version", action="version", version=f"holocall {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    from holocall_desktop import commands

    commands.register(sub)

    bench = sub.add_parser("bench", help="run a reproducible benchmark")
    bench_sub = bench.add_subparsers(dest="bench", metavar="NAME", required=True)
    from holocall_desktop.bench import available

    for name, module in available().items():
        doc = (module.__doc__ or name).strip().splitlines()[0]
        p = bench_sub.add_parser(name, help=doc, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(handler=module.run)
    return parser


_sigint = threading.Event()  # a Ctrl-C arrived (a compiled extension may have eaten it)


def _on_sigint(_signum: int, _frame: object) -> None:
    _sigint.set()
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)  # Python's own, remembering that it came
    try:
        parser = _build_parser()
        args = parser.parse_args(route(list(sys.argv[1:] if argv is None else argv)))
        return int(args.handler(args) or 0)
    except CliError as exc:
        print(f"holocall: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C at any moment, even while the heavy modules load
        print("holocall: interrupted", file=sys.stderr)
        return 130
    except ImportError as exc:
        if not (_interrupted(exc) or _sigint.is_set()):
            raise
        # Ctrl-C while a compiled extension initialised: it reports "initialization failed",
        # or another import error without the KeyboardInterrupt (numpy: "PyCapsule_Import
        # could not import module")
        print("holocall: interrupted", file=sys.stderr)
        return 130


RECORDING_SUFFIXES = (".bag", ".db3", ".holocall")  # depth recordings, recorded calls


def route(argv: list[str]) -> list[str]:
    """The command a bare ``holocall ...`` means: what a desktop launcher passes (an invite
    link, a recording to open, as a path or a ``file://`` URL) or nothing (the app)."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        return ["app", *argv]  # plain `holocall [options]`: the desktop app
    first = argv[0]
    if first.lower().startswith(("holocall://", "holocalls://")):
        return ["join", *argv]
    if first.lower().startswith("file://"):
        from urllib.parse import unquote, urlparse

        first = unquote(urlparse(first).path)
    if first.lower().endswith(RECORDING_SUFFIXES):
        return ["replay", first, *argv[1:]]
    return argv


def _interrupted(exc: BaseException) -> bool:
    """``exc`` was caused by a Ctrl-C (KeyboardInterrupt somewhere in its chain)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False
