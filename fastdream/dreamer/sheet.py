"""A dreamer's contact sheet: one picture dreamed toward each subject, side by side and labeled
(:func:`subject_sheet`), so you see at once what you trained."""

from __future__ import annotations

from PIL import Image, ImageDraw

from fastdream import _checks, io
from fastdream.dream import DreamOptions, run
from fastdream.models.registry import load

#: Height of the caption strip under each picture, in pixels.
CAPTION = 18


def subject_sheet(model, image=None, *, size: int = 256, columns: int | None = None, progress=False, **dream_kwargs):
    """The picture ``image`` (default: the bundled astronaut) dreamed toward each subject of the
    dreamer ``model`` (a :class:`~fastdream.models.dreamer.Dreamer`, or its checkpoint's path),
    at ``size`` pixels on its long side, next to the picture itself, each captioned: a PIL image.

    Args:
        model: a dreamer, or the path of a checkpoint written by :func:`fastdream.train_dreamer`.
        image: the picture (any kind :func:`fastdream.dream` takes).
        size: long side of each cell in pixels (>= 32).
        columns: cells per row (default: all in one row up to 6, else about square).
        progress: a progress bar over the subjects.
        **dream_kwargs: options of :func:`fastdream.dream` (``subject`` and ``model`` are the
            sheet's); the same seed is used for every cell, so the cells differ only by subject.

    Returns:
        The contact sheet, a PIL RGB image.

    Examples:
        >>> sheet = subject_sheet("dreamer.pt", steps=20)        # doctest: +SKIP
        >>> sheet.save("subjects.png")                           # doctest: +SKIP
    """
    if isinstance(model, str) or hasattr(model, "__fspath__"):  # on the run's device (CUDA by default)
        net = load(model, device=_checks.device("device", dream_kwargs.get("device")))
    else:
        net = model
    subjects = getattr(net, "subjects", None)
    if not subjects:
        raise ValueError(f"model: {type(net).__name__} has no subjects; give a dreamer (written by train_dreamer)")
    size = _checks.integer("size", size, 32)
    for k in ("subject", "model"):
        if k in dream_kwargs:
            raise TypeError(f"subject_sheet sets {k}= itself (one cell per subject); leave it out")
    picture = io.to_pil(io.load(io.SAMPLE_IMAGE if image is None else image, "image", one=True).rgb[0])
    scale = size / max(picture.size)  # (up too: thumbnail() only shrinks, and 1024 gave 512 px cells)
    picture = picture.resize(
        (max(1, round(picture.width * scale)), max(1, round(picture.height * scale))), Image.LANCZOS
    )
    cells = [("picture", picture)]
    seed = dream_kwargs.pop("seed", None)
    seed = 0 if seed is None else seed
    for name in subjects:
        opts = DreamOptions.create(model=net, subject=name, seed=seed, **dream_kwargs)
        cells.append((name, run(picture, opts, progress=progress)))
    return _layout(cells, columns)


def _layout(cells: list, columns: int | None) -> Image.Image:
    n = len(cells)
    cols = columns or (n if n <= 6 else max(1, round(n**0.5)))
    w, h = cells[0][1].size
    rows = -(-n // cols)
    sheet = Image.new("RGB", (cols * w, rows * (h + CAPTION)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (label, im) in enumerate(cells):
        x, y = (k % cols) * w, (k // cols) * (h + CAPTION)
        sheet.paste(im.convert("RGB"), (x, y))
        draw.text((x + 4, y + h + 3), label, fill="black")
    return sheet
