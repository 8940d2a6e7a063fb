"""Command-line entry points: ``holocall`` and its subcommands.

Every command has ``--help``, exits non-zero with a one-line reason on bad input, and keeps heavy
imports (Qt, vispy, aiortc) inside the command that needs them.
"""

from __future__ import annotations

import argparse
import sys
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


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = _build_parser()
        args_list = list(sys.argv[1:] if argv is None else argv)
        if not args_list or (
            args_list[0].startswith("-") and args_list[0] not in ("-h", "--help", "--version")
        ):
            args_list = ["app", *args_list]  # plain `holocall [options]`: the desktop app
        args = parser.parse_args(args_list)
        return int(args.handler(args) or 0)
    except CliError as exc:
        print(f"holocall: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C at any moment, even while the heavy modules load
        print("holocall: interrupted", file=sys.stderr)
        return 130
    except ImportError as exc:
        if not _interrupted(exc):
            raise
        # Ctrl-C while a compiled extension initialised: it reports "initialization failed"
        print("holocall: interrupted", file=sys.stderr)
        return 130


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
