"""The page: a header, one tab per pipeline (each a module of ``fastdream.ui.tabs``), the queue
that runs one job at a time, and the end of a session."""

from __future__ import annotations

import gradio as gr

import fastdream as fd
from fastdream.ui import widgets
from fastdream.ui.page import Page
from fastdream.ui.tabs import TABS

#: Pictures and text in the system's own fonts: the page loads nothing from other sites.
THEME = gr.themes.Soft(
    primary_hue="violet",
    secondary_hue="slate",
    font=[gr.themes.Font("system-ui"), gr.themes.Font("Segoe UI"), gr.themes.Font("sans-serif")],
    font_mono=[gr.themes.Font("ui-monospace"), gr.themes.Font("monospace")],
)

CSS = """
.gradio-container { max-width: 1280px !important; margin: auto; }
#fd-header h1 { margin-bottom: 0; }
#fd-header p { margin-top: 4px; opacity: 0.8; }
.fd-status { margin: 4px 2px; font-size: 0.95rem; }
.fd-error { color: #b00020; font-weight: 600; }
.fd-note { margin: 2px 2px; font-size: 0.85rem; opacity: 0.75; }
.fd-preview-box:not(:has(img)) { display: none; }  /* no empty box above the result */
.fd-preview { margin: 0; text-align: center; }
.fd-preview img { max-width: 100%; height: auto; border-radius: 8px; }
.fd-preview figcaption { font-size: 0.85rem; opacity: 0.75; margin-top: 4px; }
/* A long label beside a picture's icons (full screen, clear) ran under them at 420 px */
.block:has(.icon-button-wrapper) > label[data-testid="block-label"] { max-width: calc(100% - 84px); }
/* An empty color picker is a clear 40x20 button with no border: a label over nothing to click */
.fd-color button { border: 1px solid var(--border-color-primary) !important; min-width: 48px; min-height: 28px; }
/* A long command widened the whole page at 420 px (Stop went off screen): it wraps in its box */
.fd-shell { min-width: 0; max-width: 100%; }
.fd-shell .cm-editor, .fd-shell .cm-scroller { max-width: 100%; }
.fd-shell .cm-content { white-space: pre-wrap !important; overflow-wrap: anywhere; }
/* A narrow dropdown's value ran under its arrow ("efficientnet_li" + arrow): it stops before it */
.secondary-wrap input[role="combobox"] { padding-right: 22px; text-overflow: ellipsis; }
/* A file box's label covered its upload icon at 420 px: there the words alone say what to do */
@media (max-width: 520px) { .block > button.upload-container .icon-wrap { display: none; } }
/* ... and a label wrapped to two or three lines covered "Drop File Here": it takes its own room */
@media (max-width: 520px) {
  .block:has(.upload-container) > label[data-testid="block-label"] { position: static; margin-bottom: 6px; }
}
"""

HEADER = f"""# fastdream
DeepDream, style transfer, videos, cutouts and generative models on this machine (fastdream {fd.__version__}).
Every run shows the picture as it is made; **Stop** ends it at the next step."""


def build(page: Page, *, queue: int) -> gr.Blocks:
    """The app's page over ``page`` (the shared state), with at most ``queue`` jobs waiting."""
    with gr.Blocks(title="fastdream", analytics_enabled=False, delete_cache=(900, 3600)) as demo:
        gr.Markdown(HEADER, elem_id="fd-header")
        with gr.Tabs():
            for tab in TABS:
                with gr.Tab(tab.TITLE, id=tab.__name__.rsplit(".", 1)[-1]):
                    tab.build(page)
        widgets.bound_inputs(demo)

        def end(request: gr.Request) -> None:  # the page was closed: its files go
            page.sessions.end(getattr(request, "session_hash", None))

        demo.unload(end)
    demo.queue(max_size=queue, default_concurrency_limit=page.jobs)
    return demo
