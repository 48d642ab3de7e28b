"""The ``fastdream`` command line.

Errors in the user's input (bad values, missing files) print one line on stderr and exit with
status 2; nothing is written then.
"""
from __future__ import annotations

import argparse
import json
import sys


def _cmd_info(args) -> int:
    from fastdream.info import format_info, info

    d = info()
    print(json.dumps(d, indent=2) if args.json else format_info(d))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastdream", description="DeepDream and creative image models.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("info", help="versions, native kernels and the backend in use")
    s.add_argument("--json", action="store_true", help="print a JSON object")
    s.set_defaults(func=_cmd_info)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"fastdream {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fastdream {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
