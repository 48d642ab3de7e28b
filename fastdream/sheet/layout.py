"""The contact sheet itself: equal cells in a grid, each captioned under its picture, and a title."""

from __future__ import annotations

import math
import re
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

#: Caption text size in pixels (Pillow's built-in font, so nothing is needed on disk), the space
#: between cells, and the colors.
FONT_SIZE = 13
GAP = 6
#: The narrowest column: room for a caption's words under a tiny picture.
MIN_CELL = 32
BACKGROUND, INK = (255, 255, 255), (20, 20, 20)


def columns_for(count: int, row: int | None = None) -> int:
    """Columns of a sheet of ``count`` cells: ``row`` (the values of the last varied option, one
    row per value of the others) when it is at most 8, else about a square.

    Examples:
        >>> columns_for(4, 2), columns_for(16), columns_for(5), columns_for(30, 10)
        (2, 4, 3, 6)
    """
    if row is not None and 1 <= row <= 8:
        return row
    return max(1, math.ceil(math.sqrt(count)))


#: Fonts of common systems with more than ASCII, tried in turn for a sheet whose words need them:
#: Pillow's own font has no é, ü, ж or 日 (a photo named café.jpg was captioned "caf▯.jpg").
SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "/System/Library/Fonts/Helvetica.ttc",
    "C:/Windows/Fonts/arial.ttf",
    "C:/Windows/Fonts/msyh.ttc",
)


def _font(size: int, text: str = ""):
    """Pillow's own font at ``size``, or the first system font that has every letter of ``text``
    it lacks (else the one that has the most of them)."""
    try:
        default = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sizes for its default font
        default = ImageFont.load_default()
    missing = _missing(default, text)
    if not missing:
        return default
    best, fewest = default, len(missing)
    for path in SYSTEM_FONTS:
        try:
            font = ImageFont.truetype(path, size)
        except OSError:  # (not on this system)
            continue
        lacks = len(_missing(font, "".join(missing)))
        if lacks < fewest:
            best, fewest = font, lacks
        if not lacks:
            break
    return best


def _missing(font, text: str) -> list[str]:
    """The letters of ``text`` that ``font`` draws as its box for letters it has not (or cannot
    draw at all: Pillow's bitmap font before 10.1 takes Latin-1 only)."""
    wanted = [ch for ch in dict.fromkeys(text) if ord(ch) > 127 and not ch.isspace()]
    if not wanted:
        return []

    def drawn(ch: str) -> bytes | None:
        try:
            return bytes(font.getmask(ch))
        except UnicodeEncodeError:
            return None

    box = drawn("\U000f0000")  # (a private-use letter: no font has it)
    return [ch for ch in wanted if drawn(ch) in (box, None)]


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """``text`` in lines that fit ``width`` pixels, broken after spaces or ``+`` where it can be,
    and inside a word that alone is wider (a long layer spec) rather than past the edge."""
    lines, line = [], ""
    for word in re.findall(r"[^\s+]*\+?\s*", text):  # each word with the "+" or spaces after it
        if not word:
            continue
        if line and draw.textlength((line + word).rstrip(), font=font) > width:
            lines.append(line.rstrip())
            line = ""
        for ch in word:
            if line.strip() and draw.textlength((line + ch).rstrip(), font=font) > width:
                lines.append(line.rstrip())
                line = ""
            line += ch if line or not ch.isspace() else ""
    return lines + [line.rstrip()] if line.strip() else lines


def contact_sheet(
    pictures: Sequence[Image.Image], captions: Sequence[str], columns: int, title: str = ""
) -> Image.Image:
    """One RGB image of ``pictures`` (all the same size) in ``columns`` columns, each with its
    caption under it, and ``title`` above them all.

    Examples:
        >>> cells = [Image.new("RGB", (64, 48), c) for c in ("red", "green", "blue")]
        >>> contact_sheet(cells, ["a", "b", "c"], 2, "three").size
        (146, 162)
    """
    pw, h = pictures[0].size
    w = max(pw, MIN_CELL)  # a column; narrower pictures (a 2000x40 photo at 64 px) are centred in it
    font = _font(FONT_SIZE, title + "".join(captions))
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line_h = FONT_SIZE + 3
    wrapped = [_wrap(scratch, c, font, w) for c in captions]
    caption_h = line_h * max(1, max(map(len, wrapped)))
    rows = math.ceil(len(pictures) / columns)
    sheet_w = GAP + columns * (w + GAP)
    title_lines = _wrap(scratch, title, font, sheet_w - 2 * GAP) if title else []
    top = GAP + line_h * len(title_lines)
    sheet = Image.new("RGB", (sheet_w, top + rows * (h + caption_h + GAP)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for i, line in enumerate(title_lines):
        draw.text((GAP, GAP + i * line_h), line, fill=INK, font=font)
    for k, (picture, lines) in enumerate(zip(pictures, wrapped)):
        x = GAP + (k % columns) * (w + GAP)
        y = top + (k // columns) * (h + caption_h + GAP)
        clear = picture.getchannel("A") if "A" in picture.mode else None  # (never what lies under it)
        sheet.paste(picture.convert("RGB"), (x + (w - pw) // 2, y), clear)
        for i, line in enumerate(lines):
            draw.text((x, y + h + 1 + i * line_h), line, fill=INK, font=font)
    return sheet
