"""The page's tabs, one module each: ``TITLE`` and ``build(page)``, which lays the tab out and
wires its buttons to the public API (``fastdream.*``) through :class:`fastdream.ui.page.Page`."""

from fastdream.ui.tabs import cutout, dream, generative, sheet, style, subjects, video, zoom

#: In the order they appear on the page.
TABS = (dream, sheet, subjects, zoom, video, style, cutout, generative)
