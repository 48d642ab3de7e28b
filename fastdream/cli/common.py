"""What every command shares: the one-line error contract, and output-path checks."""

from __future__ import annotations

import argparse
import inspect
import os
import re
import shlex
import sys
from contextlib import contextmanager
from pathlib import Path


class Parser(argparse.ArgumentParser):
    """argparse with the one-line error contract (argparse prints the whole usage by default)."""

    commands: dict = {}  # the top-level parser's: each command's parser, by name

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A value that reads as a negative number is a value, not an option: argparse knew only
        # -5 and -.5, so --step-size -inf (or -1e-9) was "expected one argument". (No option of
        # fastdream's looks like one.)
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.I)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def given(**options) -> dict:
    """The options the user gave on the command line (those not None): every other one is left to
    the library, so the shell and Python make the same output from the same words."""
    return {k: v for k, v in options.items() if v is not None}


def off(flag: bool) -> bool | None:
    """A ``--no-X`` switch: False when given, else None (the library's default)."""
    return False if flag else None


def library_defaults(fn) -> dict:
    """The keyword defaults of the library function (or options dataclass) ``fn``."""
    params = inspect.signature(fn).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def note_defaults(parser, defaults: dict, rename: dict | None = None) -> None:
    """Appends the library's default to the help of every option left to the library (argparse
    default None), read from ``defaults`` (the library's names; ``rename`` maps a dest to one)."""
    rename = rename or {}
    for action in parser._actions:
        name = rename.get(action.dest, action.dest)
        value = defaults.get(name)
        if action.default is None and value is not None and action.help != argparse.SUPPRESS:
            shown = "on" if value is True else "off" if value is False else value
            if isinstance(value, (tuple, list)):  # as typed: --shift 0.0 0.0, not (0.0, 0.0)
                shown = " ".join(map(str, value))
            action.help = f"{action.help} (default: {shown})" if action.help else f"default: {shown}"


class UsageError(ValueError):
    """A problem with the command line itself, reported like the other input errors."""


#: Commands whose ``-o`` is a video (GIF, WebP or MP4) rather than an image.
VIDEO_COMMANDS = ("zoom", "dream-video", "style-video")
#: Commands whose ``--overwrite`` lets the output replace the input file.
OVERWRITE_COMMANDS = ("dream", "style", "cutout")
#: Options (argparse dests) that name files or folders a command reads (``model``: a dreamer
#: checkpoint, or a backbone's name, which is no file).
INPUT_DESTS = (
    "guide", "mask", "mask_from", "subject_from", "model", "weights", "styles", "masks", "checkpoint", "between",
    "sheet_image",
)  # fmt: skip


#: The command that works on every frame of what a still command reads only the first of.
_EVERY_FRAME = {"dream": "fastdream dream-video", "style": "fastdream style-video"}


def _refuse_replacing_frames(out: Path, command: str) -> None:
    """``--overwrite`` of an animation or a multi-page file would keep its first frame only."""
    from fastdream import io

    with io.opened(out, "input") as im:
        frames = io.frame_count(im)
    if frames > 1:
        other = _EVERY_FRAME.get(command)
        raise UsageError(
            f"output: {out} is the input, which holds {frames} frames: the result written over it would keep only "
            "the first; choose another output" + (f" ({other} works on every frame)" if other else "")
        )


def output_path(args, default: str | None, *, inputs=(), mode: str | None = None, soft: bool | None = None) -> Path:
    """``-o``, checked before any work (:mod:`fastdream.io.outputs`): a file (not a folder) in a
    folder that exists and can be written, in a format that can be written and holds ``mode``
    (the picture the command makes; default: that of the input image, whose alpha the result
    keeps), and not an input (``args.input``, the options that name files it reads and ``inputs``)
    unless ``--overwrite`` is given for ``args.input``, nor inside an input folder. ``soft``: whether
    the picture's alpha has values between clear and opaque (default: the input's, looked at only
    for a format that holds no such values, GIF); the input's size is checked against the format's.
    An existing output that is not a regular file (a named pipe, a device) is refused."""
    from fastdream import io

    if args.output is not None and not str(args.output).strip():
        raise UsageError("output: the name is empty (an unset shell variable?); give a file name")
    if str(args.output) == "-":
        raise UsageError("output: - (standard output) is not supported; give a file name")
    out = Path(args.output or default)
    if args.output is None:  # a default name never replaces an earlier result
        out = io.unused_name(out)
        args.output = str(out)
    io.check_name_length("output", out)
    try:
        out.resolve()
    except (RuntimeError, OSError):  # (Python's "Symlink loop" came as an internal error, exit 1)
        raise UsageError(
            f"output: {out} is a link that leads back to itself; remove it or choose another name"
        ) from None
    if out.is_dir():
        raise UsageError(f"output: {out} is a folder; give a file name")
    if str(args.output).endswith(("/", os.sep)):  # (Path drops the slash: x.png/ wrote a file x.png)
        raise UsageError(f"output: {args.output} ends with a slash, as a folder does; give a file name")
    if out.exists() and not out.is_file():
        raise UsageError(f"output: {out} exists and is not a regular file (a named pipe or a device); choose another")
    # A symbolic link is written through (io.atomic_save): its file's folder is the one written
    parent = io.check_parent("output", Path(os.path.realpath(out)) if out.is_symlink() else out)
    if not io.can_write_in(parent):
        raise PermissionError(f"output: the folder {parent} cannot be written")
    source = getattr(args, "input", None)
    overwrite = bool(getattr(args, "overwrite", False))
    if source and Path(source).is_file() and not overwrite and _same(out, source):
        if getattr(args, "command", None) in OVERWRITE_COMMANDS:
            raise UsageError(f"output: {out} is the input file; pass --overwrite to replace it")
        raise UsageError(f"output: {out} is the input file, which fastdream never writes over; choose another output")
    io.check_not_input("output", out, [source], overwrite=overwrite)
    if overwrite and source and Path(source).is_file() and _same(out, source):
        _refuse_replacing_frames(out, getattr(args, "command", ""))
    # --overwrite is for the input only (which may also be the guide or a style: read before the write)
    others = [p for p in input_args(args) if not (overwrite and source and _same(p, source))]
    io.check_not_input("output", out, [*others, *inputs])
    if getattr(args, "command", None) in VIDEO_COMMANDS:
        io.animation_format(out, "output")
        return out
    size = None
    if source and Path(source).is_file():
        with io.opened(source, "input") as im:  # the header only; a bad input is refused here too
            mode = mode or io.standard_mode(im)
            if _input_sized(args):  # the picture made is the input's size: its longest side, whichever way it turns
                size = im.size
            if soft is None and "A" in mode and not io.keeps_soft_alpha(out):
                soft = io.soft_alpha(io.standard(im))  # GIF holds an alpha that is only on or off
    io.image_format(out, mode or "RGB", "output", size=size, soft=True if soft is None else soft)
    return out


def _input_sized(args) -> bool:
    """Whether the command writes a picture of its input's size (a sheet, a style at --size do not)."""
    command = getattr(args, "command", None)
    return command in ("dream", "cutout") or (command == "style" and getattr(args, "size", None) is None)


def input_args(args) -> list:
    """The files and folders a command line reads besides ``INPUT`` (``--guide``, ``--weights``,
    the styles, the masks, checkpoints...): none of them may be an output."""
    found = []
    for dest in INPUT_DESTS:
        value = getattr(args, dest, None)
        found += value if isinstance(value, (list, tuple)) else [value]
    # Files only: a name like --model vgg16 is no input, even beside a folder called vgg16.
    return [v for v in found if isinstance(v, (str, os.PathLike)) and str(v) and Path(v).is_file()]


def empty_path(args, parser: argparse.ArgumentParser) -> str | None:
    """The input or path option given as an empty string (``"$VAR"`` unset), named as the
    command's ``parser`` names it: ``''`` as the input dreamed the working folder or the sample
    photo, and ``--mask ''`` was dropped without a word."""
    for dest in ("input", *INPUT_DESTS, "frames_dir"):
        value = getattr(args, dest, None)
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, str) and not v.strip() for v in values):
            action = next((a for a in parser._actions if a.dest == dest), None)
            if action is not None and action.option_strings:
                return max(action.option_strings, key=len)
            return str(action.metavar or dest) if action is not None else dest
    return None


def expand_home(args) -> None:
    """``~`` at the start of a value, as the shell would have: it expands ``~`` only at the start
    of a word, so ``--output=~/a.png`` or ``--weights=~/w.pt`` reached us as written and said "no
    such folder: ~". Every value is expanded (a quoted ``'~/x'`` too): no option but a path starts
    with ``~`` in practice, and ``~name`` stays as written unless ``name`` is a user."""
    for dest, value in vars(args).items():
        if isinstance(value, str) and value.startswith("~"):
            setattr(args, dest, os.path.expanduser(value))
        elif isinstance(value, list) and any(isinstance(v, str) and v.startswith("~") for v in value):
            setattr(args, dest, [os.path.expanduser(v) if isinstance(v, str) else v for v in value])


def _same(a, b) -> bool:
    a, b = Path(a), Path(b)
    return a.resolve() == b.resolve() or (a.exists() and os.path.samefile(a, b))


def model_arg(text: str) -> str:
    """``--model``: a backbone's name, or the path of a dreamer checkpoint (``train-dreamer``)."""
    from fastdream.models.dreamer import is_dreamer_path
    from fastdream.models.registry import names

    if text in names() or is_dreamer_path(text):
        return text
    raise argparse.ArgumentTypeError(
        f"unknown model {text!r}; give one of {', '.join(names())}, or a dreamer checkpoint's path (train-dreamer)"
    )


def model_options(s, dreamer_use: str = "dream its subjects with --subject") -> None:
    """``--model NAME|PATH --weights PATH``: a named backbone with the user's weights, or a dreamer
    (``dreamer_use``: what the command does with one, for the help)."""
    from fastdream.models.registry import names

    s.add_argument(
        "--model",
        type=model_arg,
        default=None,
        metavar="NAME|DREAMER.pt",
        help=f"backbone ({', '.join(names())}; default: efficientnet_lite0 with its bundled ImageNet weights), "
        f"or a dreamer checkpoint written by train-dreamer ({dreamer_use})",
    )
    s.add_argument(
        "--weights",
        metavar="PATH",
        default=None,
        help="state dict for --model (torchvision's key layout for googlenet, inception_v3 and vgg16/19)",
    )


def load_model(args, weights_for: str | None = None):
    """The model of ``--model`` / ``--weights`` (None: the default backbone, or the preset's
    model). ``--weights`` without ``--model`` are for ``weights_for`` (a preset's model), else for
    the default backbone."""
    if args.model is None and args.weights is None:
        return None
    from fastdream import _checks
    from fastdream.models import load

    if args.weights is not None:
        _checks.input_file("--weights", args.weights)  # never a pipe, which torch.load would wait on

    device = _checks.device("--device", getattr(args, "device", None))  # where the run goes (CUDA by default)
    return load(args.model or weights_for or "efficientnet_lite0", weights=args.weights, device=device)


def stamp(path) -> int | None:
    """When ``path`` was last written (None: it does not exist), to tell a run that trained from
    one that found nothing to do."""
    path = Path(path)
    return path.stat().st_mtime_ns if path.is_file() else None


def main_rank() -> bool:
    """Whether this process speaks for its launch (under torchrun only rank 0 printed the same
    ``wrote`` line as every rank); it holds the output's lock too."""
    from fastdream.training.distributed import main_process

    return main_process()


def say_written(path, before: int | None, quiet: bool, then: str | None = None) -> None:
    """The line after a training: what it wrote, or, when its progress was not shown (the trainer
    says it there), that the checkpoint was already done; ``then``: the command that uses it, said
    on stderr unless ``quiet`` (``{}``: the checkpoint's path), as what to do next."""
    if not main_rank():
        return
    if before is not None and stamp(path) == before:
        if quiet:
            print(f"{path} is already trained that far; nothing written")
        return
    print(f"wrote {path}")
    if then and not quiet:  # (the end of a training said only the path: not how to use it)
        print("next: " + then.format(shlex.quote(str(path))), file=sys.stderr)


def video_options(args) -> dict:
    """The options of a video made from a video (``dream-video``, ``style-video``): its frames
    folder and resume, the part of the input, the rate and the sound (given ones only)."""
    return given(
        frames_dir=args.frames_dir,
        resume=off(args.no_resume),
        start=args.start,
        end=args.end,
        fps=args.fps,
        keep_audio=off(args.no_audio),
    )


def say_video(path: Path, frames_dir, settings_name: str, seeded: bool = True) -> None:
    """The ``wrote`` line of a video made from saved frames, with the seed its frames were made
    with (drawn by the first run, kept by a resumed one: in the frames' settings file), so that a
    video you like can be made again (``--seed``). Not ``seeded`` (a styled video, painted from
    its frames: no seed changes it), no seed is said: a new one each run read as another video."""
    from fastdream.video.checks import default_frames_dir
    from fastdream.video.frames import stored_key

    if not main_rank():
        return
    if not seeded:
        print(f"wrote {path}")
        return
    folder = Path(frames_dir) if frames_dir is not None else default_frames_dir(Path(path))
    try:
        seed = (stored_key(folder, settings_name) or {}).get("seed")
    except (OSError, ValueError):  # (a folder removed since, a file another process rewrites)
        seed = None
    print(f"wrote {path}" + ("" if seed is None else f" (seed {seed})"))


@contextmanager
def picture_so_far(args, out: Path):
    """Ctrl-C during a single picture's work: the picture so far saved beside ``out``
    (``dream-partial.png``, at the size of the octave it was in), and said by the interrupt's line."""
    try:
        yield
    except KeyboardInterrupt as stop:
        image = getattr(stop, "image", None)
        if image is not None:
            from fastdream import io

            path = io.unused_name(partial_name(out))  # never over a file (an input...)
            saved = None
            try:
                saved = io.save_image(image, path)
            except KeyboardInterrupt as again:  # a second Ctrl-C, held until the picture was whole
                saved = getattr(again, "written", None)
            except (OSError, ValueError):
                pass  # the interrupt is what the user asked for; its line says nothing was kept
            if saved is not None:
                done, total = stop.steps  # type: ignore[attr-defined]
                args.partial = f"the picture so far (step {done} of {total}, {image.width}x{image.height}) is in {path}"
        raise


def partial_name(out: Path) -> Path:
    """``NAME-partial.EXT`` beside ``out``, its stem shortened where the name would pass the 255
    bytes a name may have (with room for :func:`~fastdream.io.unused_name`'s ``-2``): a long
    ``-o`` that was accepted lost the picture so far to "File name too long" at Ctrl-C.

    Examples:
        >>> partial_name(Path("a/dream.png")).as_posix(), len(partial_name(Path("x" * 250 + ".png")).name)
        ('a/dream-partial.png', 249)
        >>> partial_name(Path(os.fsdecode(b"caf\\xe9.png"))) == Path(os.fsdecode(b"caf\\xe9-partial.png"))
        True
    """
    tail, stem = f"-partial{out.suffix}", out.stem
    while len(os.fsencode(stem + tail)) > 255 - 6 and stem:  # (a character at a time: never half of one)
        stem = stem[:-1]
    return out.with_name(stem + tail)


#: What an option says in --help where its command says nothing of its own (by argparse dest).
COMMON_HELP = {
    "seed": "the random seed (default: a fresh one each run)",
    "device": "cpu, cuda, cuda:N or mps (default: CUDA when available, else the CPU)",
    "quiet": "no progress bars",
    "max_minutes": "stop before an epoch that would end past this many minutes (the checkpoint is kept)",
    "no_resume": "start over instead of resuming (replaces only a checkpoint of this trainer's kind)",
    "frames": "how many frames",
    "fps": "frames per second",
}


def common_help(parser) -> None:
    """Fills the --help lines of ``parser``'s options that say nothing from :data:`COMMON_HELP`."""
    for action in parser._actions:
        if not action.help and action.option_strings and action.dest in COMMON_HELP:
            action.help = COMMON_HELP[action.dest]
