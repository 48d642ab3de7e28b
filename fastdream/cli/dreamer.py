"""The dreamer's command: train-dreamer (fine-tune on folders of subjects, optionally write a
contact sheet of the subjects dreamed into the sample picture)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from fastdream.cli.common import (
    UsageError,
    given,
    library_defaults,
    main_rank,
    note_defaults,
    off,
    output_path,
    say_written,
    stamp,
)


def _cmd_train_dreamer(args) -> int:
    from fastdream.dreamer import subject_sheet, train_dreamer

    kw = given(
        epochs=args.epochs,
        max_minutes=args.max_minutes,
        seed=args.seed,
        image_size=args.image_size,
        batch_size=args.batch_size,
        lr=args.lr,
        backbone_lr=args.backbone_lr,
        tune_from=args.tune_from,
        keep=args.keep,
        val_split=args.val_split,
        resume=off(args.no_resume),
        skip_bad=False if args.strict else None,
        device=args.device,
    )
    sheet = None
    for flag in ("--sheet-image", "--sheet-size", "--sheet-steps"):
        if getattr(args, flag[2:].replace("-", "_")) is not None and not args.sheet:
            raise UsageError(f"{flag} is for --sheet SHEET.png; pass --sheet too")
    looks = _sheet_looks(args)  # checked before the training, as the sheet's picture is
    if args.sheet_image:
        from fastdream import io

        io.load_pil(args.sheet_image, "--sheet-image")  # not an image: said before the training, not after
    # (output_path below said "d.pt is the input d.pt" of a checkpoint not there yet)
    if args.sheet and Path(args.sheet).resolve() == Path(args.output).resolve():
        raise UsageError(f"--sheet {args.sheet} is the --output checkpoint's name; give the sheet a picture's name")
    if args.sheet:  # checked before the training
        try:
            sheet = output_path(
                SimpleNamespace(output=args.sheet, input=args.sheet_image, overwrite=False),
                None,
                inputs=[args.images, args.output],
                mode="RGB",  # the contact sheet, whatever the picture's mode
            )
        except (UsageError, ValueError, OSError) as exc:  # said of --sheet (it said --output)
            raise type(exc)(re.sub(r"(?<![\w/.-])output(?![\w/.-])", "--sheet", str(exc))) from None
    args.checkpoint_before = before = stamp(args.output)  # (an interrupt says whether this run wrote it)
    path = train_dreamer(args.images, args.output, progress=not args.quiet, **kw)  # a TrainingError: exit 1
    say_written(path, before, args.quiet, "fastdream dream PHOTO --model {} --subject NAME")
    if sheet is not None and main_rank():  # (under torchrun, one sheet: rank 0's)
        from fastdream import io

        image = subject_sheet(
            path, args.sheet_image, progress=not args.quiet, **looks, **given(seed=args.seed, device=args.device)
        )
        io.save_image(image, sheet)
        print(f"wrote {sheet}")
    return 0


def _sheet_looks(args) -> dict:
    """--sheet-size and --sheet-steps as subject_sheet's keywords, checked."""
    from fastdream import _checks
    from fastdream.dream.options import MAX

    looks = {}
    if args.sheet_size is not None:
        looks["size"] = _checks.integer("--sheet-size", args.sheet_size, 32, cap=1 << 16)  # (the sides fastdream opens)
    if args.sheet_steps is not None:
        looks["steps"] = _checks.integer("--sheet-steps", args.sheet_steps, 1, cap=MAX["steps"])
    return looks


def add(sub) -> None:
    from fastdream.dreamer import subject_sheet, train_dreamer
    from fastdream.dreamer.options import DREAM_SETTINGS

    s = sub.add_parser(
        "train-dreamer",
        help="fine-tune the dream network on folders of your pictures (one per subject), to dream them",
    )
    s.add_argument("images", help="folder with one subfolder of pictures per subject (named for it)")
    s.add_argument("-o", "--output", required=True, help="checkpoint file to write (dreamer.pt)")
    s.add_argument("--epochs", type=int, help="default: from the number of pictures (about 3000 views)")
    s.add_argument("--max-minutes", type=float, help="stop before an epoch that would end past this")
    s.add_argument("--seed", type=int, help="default: a fresh one (a resumed run keeps its own)")
    s.add_argument("--image-size", type=int, help="training resolution")
    s.add_argument("--batch-size", type=int)
    s.add_argument("--lr", type=float, help="learning rate of the new output layer")
    s.add_argument("--backbone-lr", type=float, help="the learning blocks' rate, as a fraction of --lr")
    s.add_argument("--tune-from", type=int, help="first block that learns (16: only the head)")
    s.add_argument("--keep", type=float, help="weight of the loss that keeps the features near ImageNet's")
    s.add_argument("--val-split", type=float, help="fraction of each subject held out for validation")
    s.add_argument(
        "--strict", action="store_true", default=None, help="stop at an unreadable picture instead of skipping it"
    )
    s.add_argument("--no-resume", action="store_true", help="start over instead of continuing")
    s.add_argument("--device")
    s.add_argument(
        "--sheet", metavar="SHEET.png", help="also write a contact sheet: the sample dreamed toward each subject"
    )
    s.add_argument("--sheet-image", metavar="IMAGE", help="the picture of --sheet (default: the bundled astronaut)")
    size, steps = library_defaults(subject_sheet)["size"], DREAM_SETTINGS["steps"]
    s.add_argument("--sheet-size", type=int, metavar="PX", help=f"long side of each --sheet cell (default: {size})")
    s.add_argument(
        "--sheet-steps", type=int, metavar="N", help=f"dream steps per octave of each --sheet cell (default: {steps})"
    )
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    note_defaults(s, library_defaults(train_dreamer))
    s.set_defaults(func=_cmd_train_dreamer)
