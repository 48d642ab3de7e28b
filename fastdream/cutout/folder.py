"""A folder of pictures cut out by a U-Net (:func:`cutout_folder`), and which output formats
lose a cutout's transparency (:func:`loses_alpha`)."""

from __future__ import annotations

import ast
import inspect

from PIL import Image

from fastdream import _checks, io
from fastdream.batch import check_folders, run_folder, stored_settings
from fastdream.cutout.predict import background_color, cutout, model_and_device


def loses_alpha(extension: str, soft: bool = True) -> str | None:
    """The format of ``extension`` (``".gif"``, ``"jpg"``) if it would lose a cutout's alpha:
    JPEG and BMP have none; GIF keeps only on/off transparency, so a ``soft`` one (Pillow drops
    it altogether). None for the others, and for an extension Pillow does not know (said by the
    writer's own check).

    Examples:
        >>> loses_alpha(".GIF"), loses_alpha("jpg"), loses_alpha(".png"), loses_alpha(".gif", soft=False)
        ('GIF', 'JPEG', None, None)
        >>> loses_alpha("bmp"), loses_alpha(".webp")
        ('BMP', None)
    """
    fmt = Image.registered_extensions().get("." + extension.lower().lstrip("."))
    if fmt is None or io.keeps_soft_alpha(f"x.{extension.lstrip('.')}") or (fmt == "GIF" and not soft):
        return None
    return fmt


def cutout_folder(
    input_dir,
    output_dir,
    model_or_checkpoint,
    *,
    format: str | None = "png",
    progress: bool = False,
    device=None,
    **cutout_kwargs,
):
    """:func:`cutout` for every image of ``input_dir`` (and its subfolders) into ``output_dir``,
    under the same relative names (as PNG by default, which keeps the alpha), through
    :func:`fastdream.batch.run_folder`: outputs already there are skipped, unreadable files
    reported one line each and counted, the images split over torchrun ranks.

    ``format``: the outputs' format (``png`` by default); None keeps each input's own (a JPEG's
    cutout is then put on white, as a JPEG holds no transparency). ``**cutout_kwargs``: the
    options of :func:`cutout`.

    Returns:
        A :class:`~fastdream.batch.FolderReport` of this rank's images.

    Examples:
        >>> from fastdream import cutout_folder
        >>> cutout_folder("photos", "cutouts", "unet.pt", background=(255, 255, 255))  # doctest: +SKIP
    """
    check_folders(input_dir, output_dir, None)  # (said before the checkpoint loads: seconds with a backbone)
    _checks.boolean("progress", progress)
    model, dev = model_and_device(model_or_checkpoint, device)
    probe = cutout(Image.new("RGB", (8, 8)), model, device=dev, **cutout_kwargs)  # bad options: an error first
    if cutout_kwargs.get("background") is not None:  # recorded as (R, G, B): "white" or an array resumes it too
        cutout_kwargs = {**cutout_kwargs, "background": background_color(cutout_kwargs["background"])}
    if "A" in probe.mode and format is not None and loses_alpha(str(format), cutout_kwargs.get("soft", True)):
        raise ValueError(
            f"format: {format} cannot hold the cutouts' soft transparency; use png or webp, or pass background=(R, G, B) "
            "(--bg-color R G B) to put the subjects on a color"
        )
    return run_folder(
        input_dir,
        output_dir,
        format,
        lambda im: cutout(im, model, device=dev, **cutout_kwargs),
        device=dev,
        progress=progress,
        name="cutout",
        mode=probe.mode,
        soft=cutout_kwargs.get("soft", True),  # hard cutouts (--hard) go into a GIF as a single file's do
        # what decides the cutouts: a rerun with others is refused
        settings={
            "cutout": _recorded(cutout_kwargs, stored_settings(output_dir).get("cutout")),
            "model": io.model_fingerprint(model),
        },
    )


def _recorded(cutout_kwargs: dict, stored=None) -> dict:
    """The options that decide the cutouts, as recorded with them: those at :func:`cutout`'s
    defaults left out, so that a rerun spelling a default out (``threshold=0.5``) resumes; it
    was refused as "other settings (threshold: not recorded before, 0.5 now)". ``stored``: the
    folder's record, kept when it says the same with defaults spelled out (as fastdream did).

    Examples:
        >>> _recorded(dict(threshold=0.5, soft=True, tta=True))
        {'tta': 'True'}
        >>> _recorded({}, stored={"threshold": "0.5"}), _recorded({}, stored={"threshold": "0.4"})
        ({'threshold': '0.5'}, {})
    """
    defaults = {k: repr(p.default) for k, p in inspect.signature(cutout).parameters.items() if p.default is not p.empty}
    mine = {k: repr(v) for k, v in sorted(cutout_kwargs.items()) if repr(v) != defaults.get(k)}
    if isinstance(stored, dict):  # (its color as recorded before: "[0, 255, 0]", "(0, 255, 0, 255)")
        said = {k: _color_said(v) if k == "background" else v for k, v in stored.items()}
        if {k: v for k, v in said.items() if v != defaults.get(k)} == mine:
            return stored
    return mine


def _color_said(text):
    """A recorded background as :func:`background_color` gives it now, else as it was."""
    try:
        return repr(background_color(ast.literal_eval(text)))
    except (ValueError, TypeError, SyntaxError):
        return text
