"""The command line's last line of defence: whatever a command lets out becomes one line on stderr
and an exit status, never a traceback (unless ``--debug`` asks for it).

- 2: the user's input (a bad value, a missing or unreadable file, not enough memory for what was
  asked, a missing extra): the line says what is wrong and what is accepted.
- 1: training failed (diverged; the last good checkpoint is kept), or an internal error: a bug in
  fastdream, which the line asks to report, with ``--debug`` for the traceback.
- 130: interrupted (Ctrl-C); the line says what was kept.
"""

from __future__ import annotations

import re
import signal
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from fastdream._startup import ENDINGS
from fastdream.io.atomic import handled

#: Exceptions that mean the user's input is wrong (or the machine lacks something it asks for).
USER_ERRORS = (ValueError, TypeError, OSError, ImportError)


def one_line(text) -> str:
    """``text`` on one line: its lines joined, runs of spaces made one."""
    return " ".join(str(text).split())


#: The library's advice in Python's words -> the same on the command line.
_CLI_WORDS = (
    ("resume=False (--no-resume)", "--no-resume"),
    ("resume=False", "--no-resume"),
    ("pass skip_bad=True", "pass --skip-bad"),
    ("skip_bad=True leaves such files out", "without --strict such files are left out"),
    ("lower batch_size", "lower --batch-size"),
    ("pass low_memory=False (or None) with it", "drop --low-memory to use it"),
    ("or pass background=(R, G, B) (--bg-color R G B)", "or pass --bg-color R G B"),
    ("(None: no tiling)", "(--tile 0: no tiling)"),
    ("masks='subject' paints", "--subject-from paints"),
    ("input_dir: ", "input: "),
    ("images_dir: ", "images: "),  # (the training commands' folder: a positional named images)
    ("must be after start (", "must be after --start ("),  # (and its end, below)
    (  # a dreamer's subjects: the shell's way to give it
        "pass model= a dreamer (fastdream.models.load('dreamer.pt'), written by fastdream.train_dreamer), or "
        "--model dreamer.pt in the shell",
        "pass --model dreamer.pt, a dreamer written by fastdream train-dreamer",
    ),
)


def cli_spelling(text: str, options=None) -> str:
    """A library message with its Python arguments spelled as the command line's ``options``
    (the command's option strings; None: any); a setting with no option keeps its Python name.

    Examples:
        >>> cli_spelling("pass resume=False to start over")
        'pass --no-resume to start over'
        >>> cli_spelling("trained with backbone=None; pass backbone=None to resume, resume=False to start over")
        'trained with backbone=None; pass --backbone none to resume, --no-resume to start over'
        >>> cli_spelling("pass nc=3 to resume", {"--channels"}), cli_spelling("pass nz=8 to resume", {"--seed"})
        ('pass --channels 3 to resume', 'pass nz=8 to resume')

    The setting a message is about, and advice given in both spellings, in the option's:

        >>> cli_spelling("tile_size must be >= 32, got 5", {"--tile"})
        '--tile must be >= 32, got 5'
        >>> cli_spelling("frames=100 frames of 512x512 need 2 GB", {"--frames"})
        '--frames 100 frames of 512x512 need 2 GB'
        >>> cli_spelling("the flow needs frames; pass flow=False (--no-flow)"), cli_spelling("use device='cpu'")
        ('the flow needs frames; pass --no-flow', 'use --device cpu')
        >>> cli_spelling("out_path: x.png is a photo; choose another out_path", {"--output"})
        '--output: x.png is a photo; choose another --output'
        >>> cli_spelling("input: no such file", {"-o"}), cli_spelling("(pass fps= / --fps to choose)")
        ('input: no such file', '(pass --fps to choose)')
        >>> cli_spelling("style_weights[1] must be >= 0", {"--style-weights"}), cli_spelling("background[0] must be")
        ('--style-weights must be >= 0', '--bg-color must be')
        >>> cli_spelling("--low-memory: norm='laplacian' needs it", {"--norm", "--low-memory"})
        '--low-memory: --norm laplacian needs it'
        >>> cli_spelling("content_weight and tv_weight are 0 (see my_file.png)", {"--content-weight", "--tv-weight"})
        '--content-weight and --tv-weight are 0 (see my_file.png)'
        >>> cli_spelling("pass allow_remote=True if you mean it")  # a switch: the flag alone
        'pass --allow-remote if you mean it'

    A resume's refusal (:func:`fastdream.io.settings_diff`) names the options that changed:

        >>> cli_spelling("other settings (dream.tile_size: stored 64, now None; dream.steps: stored 2, now 3)", {"--tile"})
        'other settings (--tile: 64 before, none now; dream.steps: stored 2, now 3)'
        >>> cli_spelling("(tta: stored (not recorded), now True; subject: stored 'dog', now (not recorded))", {"--tta", "--subject"})
        '(--tta: not recorded before, on now; --subject: dog before, not recorded now)'
        >>> cli_spelling("(size: stored [64, 48], now [80, 60]; style.size: stored 64, now 80)", {"--size"})
        '(--size: 64 before, 80 now)'
        >>> cli_spelling("(cutout.soft: stored (not recorded), now 'False')", {"--hard"})
        '(--hard: off before, on now)'
        >>> cli_spelling("choose another frames_dir (--frames-dir), or", {"--frames-dir"})
        'choose another --frames-dir, or'
        >>> cli_spelling("(cutout.background: stored '(1, 2, 3)', now '(0, 0, 0)')", {"--bg-color"})
        '(--bg-color: (1, 2, 3) before, (0, 0, 0) now)'
        >>> cli_spelling("(dream.mask: none before, one now; guide: its contents differ)", {"--mask", "--guide"})
        '(--mask: none before, one now; --guide: its contents differ)'
        >>> cli_spelling("(blend: stored 0.5, now 0.0; flow: stored True, now False)", {"--blend", "--no-flow"})
        '(--blend: 0.5 before, 0.0 now; --no-flow: off before, on now)'
        >>> cli_spelling("end (3) must be after start (3): none", {"--end", "--start"})
        '--end (3) must be after --start (3): none'
        >>> cli_spelling("nz=100, ngf=64 (a network) needs", {"--nz", "--ngf"}), cli_spelling("n=9 (32x32) needs", {"-n"})
        ('--nz 100, --ngf 64 (a network) needs', '-n 9 (32x32) needs')
    """
    for python, option in _CLI_WORDS:
        text = text.replace(python, option)
    text = re.sub(r"^end (\(\d+\) must be after --start)", r"--end \1", text)

    def flag(name: str) -> str | None:
        f = _FLAGS.get(name, "--" + name.replace("_", "-"))
        return f if options is None or f in options else None

    def resume_with(m: re.Match) -> str:
        f = flag(m[1])
        return m[0] if f is None else f"pass {f} {_shell_value(m[2])} to resume"

    def use(m: re.Match) -> str:
        f = flag(m[2])
        return m[0] if f is None else f"{m[1]} {f}" + ("" if m[3] == "True" else f" {_shell_value(m[3])}")

    def subject(m: re.Match) -> str:
        f = flag(m[1])
        return m[0] if f is None else f + (f" {m[2]}" if m[2] else "")

    text = _BOTH.sub(lambda m: m[1] or m[2], text)
    text = _PAIRED.sub(lambda m: m[2] if flag(m[1]) == m[2] else m[0], text)  # "frames_dir (--frames-dir)"
    text = _RESUME_WITH.sub(resume_with, text)
    text = _USE.sub(use, text)
    text = _ANOTHER.sub(lambda m: m[0] if flag(m[1]) is None else f"another {flag(m[1])}", text)
    text = _SUBJECT.sub(subject, text, count=1)
    text = _diffs(text, flag)
    if options is None:
        return text
    # Any other setting of the command named in Python (content_weight, norm='laplacian'): its option.
    text = _ASSIGN.sub(lambda m: m[0] if flag(m[1]) is None else f"{flag(m[1])} {_shell_value(m[2])}", text)
    return _NAME.sub(lambda m: flag(m[1]) or m[0], text)


#: Settings whose option has another name than the library's keyword.
_FLAGS = {
    "nc": "--channels",
    "tile_size": "--tile",
    "out_path": "--output",
    "out_dir": "--output",
    "output_dir": "--output",
    "background": "--bg-color",
    "model_or_checkpoint": "--model",
    "cutout_model": "--subject-from",
    "n": "-n",
}
#: Advice in both spellings, ``name=VALUE (--option ...)`` or ``name= / --option``: the option's.
_BOTH = re.compile(r"\b\w+=\S*? \((--[\w-]+[^)]*)\)|\b\w+= / (--[\w-]+)")
#: A setting named in both spellings, ``frames_dir (--frames-dir)``: the option's, once.
_PAIRED = re.compile(r"\b([a-z]\w*) \((--[\w-]+)\)")
#: "use device='cpu'", "pass lr=0.1": the advice of one setting and its value.
_USE = re.compile(r"\b(use|pass) (\w+)='?([\w.:-]+)'?(?= |$|[;,)])")
#: "choose another out_path": the setting to change.
_ANOTHER = re.compile(r"\banother (\w+)\b")
#: The setting a message starts with: ``tile_size must be``, ``frames=100 frames of``.
_SUBJECT = re.compile(r"^(\w+)(?:\[\d+\])?(?:=(\S+?))?(?= must | is |=|: | frames|, | \()")


#: A setting and its value in Python, ``norm='laplacian'``, ``smooth=SIGMA``.
_ASSIGN = re.compile(r"(?<![\w./'\"-])(\w+)=('[\w.:-]+'|[\w.:-]+)(?=[\s;,)]|$)")
#: A Python name with an underscore, not part of a path, an assignment or an option already.
_NAME = re.compile(r"(?<![\w/.=-])([a-z]+(?:_[a-z0-9]+)+)\b(?![=(/.\w])")
#: A changed setting of a resume's refusal, ``dream.tile_size: stored 64, now None``.
_DIFF = re.compile(
    r"(?<![\w-])(?:\w+\.)*(\w+): stored (\(not recorded\)|'[^']*'|.+?), now (\(not recorded\)|'[^']*'|.+?)(?=; |\)|$)"
)
#: A changed file of a resume's refusal, ``dream.mask: none before, one now``, ``guide: its contents differ``.
_HASHED = re.compile(r"(?<![\w.-])(?:\w+\.)*(\w+)(?=: (?:none|one|\d+) before, |: (?:its|their) contents differ)")
#: The trainers' "pass NAME=VALUE to resume" (a checkpoint's setting this run must repeat).
_RESUME_WITH = re.compile(r"pass (\w+)=(\S+?) to resume")


def _shell_value(text: str) -> str:
    return "none" if text == "None" else text.strip("'\"")


#: Settings whose command-line switch is their opposite (``soft=False``: ``--hard``), default True.
_INVERTED = {"soft": "hard", "flow": "no-flow"}


def _diffs(text: str, flag) -> str:
    """A resume's changed settings by their options. Where two settings are one option (a styled
    video's ``style.size`` and the working ``size`` it gives), the option is named once, with the
    values as typed (a number, not the ``[w, h]`` derived from it)."""
    chosen: dict[str, re.Match] = {}
    for m in _DIFF.finditer(text):
        f = flag(m[1])
        if f is not None and (f not in chosen or chosen[f][2].startswith("[") and not m[2].startswith("[")):
            chosen[f] = m
    kept = {m.span() for m in chosen.values()}
    dropped = "\x00"

    def spell(m: re.Match) -> str:
        f = flag(m[1])
        if f is None and flag(_INVERTED.get(m[1], "")) is not None:  # soft=False is --hard; unrecorded: the default
            on = lambda v: "on" if v.strip("'\"") == "False" else "off"
            return f"{flag(_INVERTED[m[1]])}: {on(m[2])} before, {on(m[3])} now"
        if f is None:
            return m[0]
        return f"{f}: {_state(m[2])} before, {_state(m[3])} now" if m.span() in kept else dropped

    text = _HASHED.sub(lambda m: flag(m[1]) or m[0], text)
    return _DIFF.sub(spell, text).replace(f"; {dropped}", "").replace(f"{dropped}; ", "")


def _state(text: str) -> str:
    """A setting's value in a resume's refusal: a switch said on or off."""
    return {"True": "on", "False": "off", "(not recorded)": "not recorded"}.get(text, _shell_value(text))


def _hint(text: str, options) -> str:
    """A training's failure by the command's options; its hint, "Try a lower lr or amp=False",
    as "Try a lower --lr or without --amp" (one-word settings, which :func:`cli_spelling` leaves
    alone elsewhere: they are words too)."""
    if options is None:
        return cli_spelling(text)

    def flag(name: str) -> str | None:
        f = "--" + name.replace("_", "-")
        return f if f in options else None

    text = re.sub(r"(?<![\w-])([a-z_]+)=False\b", lambda m: f"without {flag(m[1])}" if flag(m[1]) else m[0], text)
    head, sep, hint = cli_spelling(text, options).partition("Try a lower ")
    return head + sep + re.sub(r"(?<![\w-])([a-z]\w*)(?![\w=-])", lambda m: flag(m[1]) or m[0], hint)


def _training_error(exc: BaseException) -> bool:
    from fastdream.training import TrainingError

    return isinstance(exc, TrainingError)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``docker stop``, a batch system's time limit) or SIGHUP (the terminal or
    the SSH session closed) raised as an interrupt, so that it unwinds as Ctrl-C does: the picture
    so far saved, half-written temporary files removed, the line saying what was kept. A
    KeyboardInterrupt to every ``except`` that cleans up; exit status 128 + the signal (143, 129)."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__()
        self.signum = int(signum)


#: Seconds in which a second stop is the first one again (two quick Ctrl-Cs): raised while the first
#: unwound, it lost the picture so far that the first was about to save.
REPEAT_S = 1.0


@contextmanager
def terminated_as_interrupted():
    """While a command runs, SIGTERM and SIGHUP raise :class:`Terminated` and Ctrl-C a
    KeyboardInterrupt (in the main thread only), a stop within :data:`REPEAT_S` of the last one
    nothing: the first is still being handled."""
    last = [float("-inf")]

    def stop(signum, frame):
        if time.monotonic() - last[0] < REPEAT_S:
            return
        last[0] = time.monotonic()
        raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)

    with handled(
        (signal.SIGINT, *ENDINGS), stop
    ):  # (SIGHUP killed it with no word, no partial)  # (not in a test runner's thread: the signals left alone)
        yield


#: Commands whose INPUT the library calls ``image``.
_INPUT_IS_IMAGE = frozenset({"dream", "zoom", "sheet", "cutout"})


def as_input(text: str, command: str) -> str:
    """A library message about its ``image`` argument, named as the command's usage names it:
    ``fastdream zoom bad.png`` said "image: bad.png is not an image" where ``dream`` said "input:".

    Examples:
        >>> as_input("image: no such file: a.png", "dream"), as_input("image: no such file", "style")
        ('input: no such file: a.png', 'image: no such file')
    """
    return "input:" + text[len("image:") :] if command in _INPUT_IS_IMAGE and text.startswith("image:") else text


def status(exc: BaseException, command: str, kept: str, options=None) -> tuple[int, str]:
    """The exit status and the line for an exception that reached ``main`` (``options``: the
    command's option strings, to say the library's advice in them)."""
    prog = f"fastdream {command}"
    if isinstance(exc, Terminated):
        hung_up = exc.signum == getattr(signal, "SIGHUP", None)
        return 128 + exc.signum, f"{prog}: {'hung up (the terminal closed)' if hung_up else 'terminated'}; {kept}"
    if isinstance(exc, KeyboardInterrupt):
        return 130, f"{prog}: interrupted; {kept}"
    if _training_error(exc):
        return 1, f"{prog}: training failed: {_hint(one_line(exc), options)}"
    from fastdream._checks import out_of_memory  # here: torch loads only for commands that need it

    oom = out_of_memory(exc)
    if oom:
        return 2, (
            f"{prog}: error: not enough memory for this input with these settings ({oom}); "
            "try a smaller size or fewer images" + (", or --low-memory" if command == "dream" else "")
        )
    if isinstance(exc, USER_ERRORS) and not isinstance(exc, (NotImplementedError, RecursionError)):
        return 2, f"{prog}: error: {as_input(cli_spelling(one_line(exc), options), command)}"
    if type(exc).__name__ == "Cancelled":
        return 130, f"{prog}: cancelled; {kept}"
    return 1, (
        f"{prog}: internal error ({type(exc).__name__}: {one_line(exc)[:300]}); this is a bug in fastdream, "
        "please report it with the command line; run it again with --debug for the traceback"
    )


def kept(args, exc: BaseException | None = None) -> str:
    """What an interrupted command leaves on disk, for the line that reports it. An interrupt held
    until its output was whole (:func:`fastdream.io.atomic.atomic_save`) says the output is there."""
    written = getattr(exc, "written", None)
    out = getattr(args, "output", None)
    if written is not None and out and not getattr(args, "partial", None) and _same_file(written, out):
        return f"{written} was written first, whole"
    try:
        return _kept(args)
    except OSError:  # a path the system refuses to look at (a name too long): the error says why
        return "nothing was written"


def _same_file(a, b) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _kept(args) -> str:
    if getattr(args, "partial", None):  # a single picture's work, saved as it was (cli.common.picture_so_far)
        return args.partial
    out = getattr(args, "output", None)
    command = getattr(args, "command", "")
    if command.startswith("train-") and out:
        ckpt = Path(out) if command in ("train-unet", "train-dreamer") else Path(out) / "checkpoint.pt"
        if ckpt.is_file():
            from fastdream.cli.common import stamp

            if not getattr(args, "no_resume", False):
                return f"the checkpoint of the last finished epoch is kept ({ckpt}); run the same command to resume"
            # "the same command" would start over; before the training began, nothing is this run's
            if not hasattr(args, "checkpoint_before") or stamp(ckpt) == args.checkpoint_before:
                return f"nothing new was written; the checkpoint there before is untouched ({ckpt})"
            return f"the checkpoint of the last finished epoch is kept ({ckpt}); run the command without --no-resume to resume"
    # (with --no-resume, "the same command" deletes what it says is kept, and starts over)
    again = "the command without --no-resume" if getattr(args, "no_resume", False) else "the same command"
    if out and Path(out).is_dir() and command in ("dream", "cutout"):
        return f"the images already written to {out} are kept; run {again} to finish"
    elif command in ("zoom", "dream-video", "style-video") and out:
        from fastdream.video.checks import default_frames_dir
        from fastdream.video.frames import frame_indices

        frames = Path(getattr(args, "frames_dir", None) or default_frames_dir(Path(out)))
        done = len(frame_indices(frames))
        if done:
            kept = "the finished frame in {} is" if done == 1 else f"the {done} finished frames in {{}} are"
            return f"{kept.format(frames)} kept: run {again} to resume"
    return "nothing was written"


@contextmanager
def one_line_warnings(command: str, options=None):
    """Warnings printed as ``fastdream CMD: warning: ...``, one line each (Python prints two,
    with the source line of the library that warned), in the command's ``options``' words."""

    said: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = f"fastdream {command}: warning: {as_input(cli_spelling(one_line(message), options), command)}"
        if text not in said:  # once: a warning of each frame's dream said 120 times for 120 frames
            said.add(text)
            print(text, file=file or sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
