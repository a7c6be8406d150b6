"""The ``monitor`` command: ``monitor [--config PATH] COMMAND [options]``.

Each area registers its subcommands from its own module (``register(subparsers)``);
every handler is ``(args, ctx) -> int`` and returns the exit code. Expected errors
become one-line messages: a config error exits 2, other expected errors exit 1.

Every command behaves in a pipe: when the reader goes away early (``monitor status |
head -1``), the command ends quietly, without a traceback, with exit status 141
(128 + SIGPIPE, what a shell reports for ``cat`` in the same place).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from monitor import __version__
from monitor.cli import alerts, core, db, feeds, ops, rules, search, stories, terms
from monitor.cli.context import Context
from monitor.cli.output import error_prefix
from monitor.errors import ConfigError, MonitorError
from monitor.log import LOG_FORMATS, LOG_LEVELS, setup_logging
from monitor.secrets import mask_text

EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away (`| head`)

# The modules that add subcommands, in the order `monitor --help` lists them.
COMMAND_MODULES = (core, db, rules, search, terms, feeds, alerts, stories, ops)


def common_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options accepted both before and after the command (``--config`` etc.)."""

    # Below the command, SUPPRESS keeps a value given before the command.
    def default(value: str | None) -> str | None:
        return value if top else argparse.SUPPRESS

    parser.add_argument(
        "--config",
        "-c",
        metavar="PATH",
        default=default(None),
        help="config file (default: $MONITOR_CONFIG, else ./config.toml)",
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=default("text"),
        help="log format on stderr (default: text)",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=default("info"),
        help="default: info",
    )


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="monitor", description="press-monitor: watch news feeds, alert on matching articles."
    )
    parser.add_argument("--version", action="version", version=f"press-monitor {__version__}")
    common_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    ops.adopt_run(sub.choices["run"])  # run --once: its summary and exit status
    for choice in sub.choices.values():
        _add_common_recursively(choice)
    return parser


def _add_common_recursively(parser: argparse.ArgumentParser) -> None:
    sub_actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not any("--config" in a.option_strings for a in parser._actions):
        common_options(parser, top=False)
    for action in sub_actions:
        for child in action.choices.values():
            _add_common_recursively(child)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``monitor`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_format, args.log_level)
    ctx = Context(args)
    try:
        code: int = args.handler(args, ctx)
        sys.stdout.flush()  # here, so that a closed pipe is seen here, not at exit
        return code
    except BrokenPipeError:
        return _reader_went_away()
    except ConfigError as exc:
        print(f"config error: {mask_text(str(exc))}", file=sys.stderr)
        return 2
    except MonitorError as exc:
        print(f"{error_prefix(exc)}: {mask_text(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _reader_went_away() -> int:
    """The reader closed stdout (``| head``): no traceback, nothing more to write.

    Python's documented recipe: what is still buffered for stdout would fail again at
    exit ("Exception ignored ... BrokenPipeError"), so stdout is pointed at /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # a stdout without a file descriptor (tests): nothing to do
        pass
    return EXIT_CLOSED_PIPE


def run() -> None:
    """``python -m monitor``."""
    sys.exit(main())
