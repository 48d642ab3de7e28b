"""The ``fastdream`` command line: thin commands over the library, one module per pipeline.

Errors in the user's input (bad values, missing files, unknown layers) print one line on stderr
and exit with status 2, never a traceback; nothing is written then. Any other exception is one
line too, exit status 1, asking for a report (``--debug`` shows the traceback); Ctrl-C is 130 and
says what was kept (:mod:`fastdream.cli.errors`). Each command imports what it
needs when it runs, so ``fastdream --help`` and ``fastdream info`` start quickly.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback

from fastdream import _startup
from fastdream.cli import cutout, dream, dreamer, generative, sheet, style, ui
from fastdream.cli.common import Parser, UsageError, common_help, empty_path, expand_home
from fastdream.cli.errors import kept, one_line_warnings, status, terminated_as_interrupted
from fastdream.cli.lock import output_lock

__all__ = ["Parser", "UsageError", "build_parser", "main"]


def _cmd_info(args) -> int:
    from fastdream.info import format_info, info

    d = info()
    print(json.dumps(d, indent=2) if args.json else format_info(d))
    return 0


def _version() -> str:
    from fastdream._version import __version__

    return __version__


def build_parser() -> Parser:
    p = Parser(prog="fastdream", description="DeepDream and creative image models.")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error (the option may come anywhere)")
    p.add_argument("--version", action="version", version=f"fastdream {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    p.commands = sub.choices  # each command's parser, by name
    s = sub.add_parser("info", help="versions, native kernels and the backend in use")
    s.add_argument("--json", action="store_true", help="print a JSON object")
    s.set_defaults(func=_cmd_info)
    for module in (dream, sheet, style, cutout, generative, dreamer, ui):
        module.add(sub)
    for command in p.commands.values():
        common_help(command)
    return p


def main(argv=None) -> int:
    """Runs one command; returns the exit status (see :mod:`fastdream.cli.errors`)."""
    from_shell = argv is None and _startup.command_line()  # the `fastdream` command, not a caller's main()
    argv = list(sys.argv[1:] if argv is None else argv)
    end = argv.index("--") if "--" in argv else len(argv)
    debug = "--debug" in argv[:end]
    argv = [a for i, a in enumerate(argv) if a != "--debug" or i >= end]
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the parser whose part of the line holds them: the command's, or fastdream's
        before = argv[: argv.index(args.command)] if args.command in argv else []
        owner = parser if any(a in before for a in extra) else _command_parser(parser, args.command)
        owner.error(f"unrecognized arguments: {' '.join(extra)}")
    command = args.command
    own = _command_parser(parser, command)
    empty = empty_path(args, own)
    if empty:
        own.error(f"{empty}: the name is empty (an unset shell variable?); give one")
    expand_home(args)
    for stream in (sys.stdout, sys.stderr):  # a path the terminal cannot show must not fail a finished run
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    options = set(_command_parser(parser, command)._option_string_actions)
    with one_line_warnings(command, options), terminated_as_interrupted():
        try:
            with output_lock(args):  # (a second run into the same output is refused, not mixed in)
                code = args.func(args)
            if from_shell:  # done and said: a Ctrl-C now exited 130, with no word, after "wrote ..."
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            return code
        except BrokenPipeError:  # output piped into head & co.; before OSError, its base class
            # Python would report the broken pipe again when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except (Exception, KeyboardInterrupt) as exc:
            if debug:  # the traceback, then the same line and exit status as without --debug
                traceback.print_exc()
            code, line = status(exc, command, kept(args, exc), options)
            print(line, file=sys.stderr)
            if from_shell and isinstance(exc, KeyboardInterrupt):  # a further Ctrl-C would only
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # spoil the exit with a traceback
            return code


def _command_parser(parser: Parser, command: str) -> Parser:
    """The subparser of ``command``, which says its errors in the command's name."""
    return parser.commands.get(command, parser)
