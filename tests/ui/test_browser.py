"""The page in a real browser (headless Chromium from Debian's ``chromium`` and
``chromium-driver``, driven by Selenium): a dream with its live preview and its result, Stop
during a long dream, a text file's one-line error (from the page, and from the server for text
named .png), and a closed page's files removed.

In CI (``CI`` set) these tests fail when the browser cannot start; elsewhere they are skipped.
``FASTDREAM_UI_SCREENSHOT=docs/gallery/ui_dream.jpg`` saves the Dream tab with its result there
(the README's picture, made from the sample photo with ``FASTDREAM_UI_SCREENSHOT_STEPS`` steps,
default 10).
"""

from __future__ import annotations

import io
import os
import shutil
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

import fastdream as fd
from tests.ui.helpers import IN_CI, needs, picture

pytestmark = pytest.mark.browser

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
# Counts the pictures the page puts in the preview while a job runs (each replaces the last: the
# test may look between two of them).
WATCH = """
window.previews = 0;
new MutationObserver(() => {
  if (document.querySelector('#dream-preview img')) window.previews += 1;
}).observe(document.querySelector('#dream-preview'), {childList: true, subtree: true, attributes: true});
"""


OPEN_CONTROLS = """
for (const b of document.querySelectorAll('button.label-wrap'))
  if (b.textContent.includes('Creative controls') && !b.classList.contains('open')) b.click();
"""
# [upload boxes on screen, the labels of those whose label runs over the box] (null: none on screen)
COVERED = """
const boxes = [...document.querySelectorAll('.block')].filter(b => b.offsetParent !== null).map(b => [
  b.querySelector(':scope > label[data-testid="block-label"]'), b.querySelector('.upload-container')
]).filter(([l, c]) => l && c && c.getBoundingClientRect().height > 0);
const covered = boxes.filter(([l, c]) => l.getBoundingClientRect().bottom > c.getBoundingClientRect().top + 1);
return boxes.length >= 2 ? [boxes.length, covered.map(([l]) => l.textContent.trim())] : null;
"""


def unavailable(why: str):
    if IN_CI:
        pytest.fail(f"the browser tests must run in CI: {why}")
    pytest.skip(why)


@pytest.fixture
def browser(tmp_path):
    needs("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (binary and driver_path):
        unavailable("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1400"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except Exception as exc:
        unavailable(f"Chromium did not start: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def until(check, timeout=60.0, what="the page"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


def css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def open_page(driver, url):
    driver.get(url)
    until(lambda: css(driver, "#dream-run"), what="the page loading")


def upload(driver, path):
    css(driver, "#dream-input input[type=file]")[0].send_keys(str(path))
    until(lambda: any(path.name in (i.get_attribute("src") or "") for i in css(driver, "#dream-input img")), 30)


def set_number(driver, selector, value):
    from selenium.webdriver.common.keys import Keys

    box = css(driver, f"{selector} input[type=number]")[0]
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(value), Keys.TAB)
    until(lambda: box.get_attribute("value") == str(value), 10)


def status(driver) -> str:
    return " ".join(e.text for e in css(driver, "#dream-status"))


def click(driver, selector):
    driver.execute_script("arguments[0].click();", css(driver, selector)[0])


def dream(driver, server, path, steps):
    open_page(driver, server.url)
    upload(driver, path)
    set_number(driver, "#dream-steps", steps)
    driver.execute_script(WATCH)
    click(driver, "#dream-run")


def test_a_dream_shows_previews_then_the_result(server, browser, tmp_path):
    shot = os.environ.get("FASTDREAM_UI_SCREENSHOT")
    src = picture(tmp_path / "photo.png", (96, 80))
    if shot:
        src = shutil.copy(fd.io.SAMPLE_IMAGE, tmp_path / "astronaut.jpg")
    dream(browser, server, src, int(os.environ.get("FASTDREAM_UI_SCREENSHOT_STEPS", 10)) if shot else 2)
    until(lambda: status(browser).startswith("Done"), 300, "the dream")
    assert browser.execute_script("return window.previews") >= 1  # the step hook's pictures
    url = until(lambda: [i.get_attribute("src") for i in css(browser, "#dream-result img")], 10)[0]
    with urllib.request.urlopen(url, timeout=10) as r:
        out = Image.open(io.BytesIO(r.read()))
    before = Image.open(src).convert("RGB")
    assert out.format == "PNG" and out.size == before.size
    assert np.abs(np.asarray(out.convert("RGB"), float) - np.asarray(before, float)).mean() > 0.5
    assert "fastdream dream" in " ".join(e.text for e in css(browser, ".cm-content"))
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(tmp_path / "dream.png"))
    if shot:  # the README's picture: the tab from the header to the command (JPEG for .jpg)
        browser.set_window_size(1280, 1500)
        png = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
        png.save(shot, **({"quality": 88, "optimize": True} if shot.lower().endswith((".jpg", ".jpeg")) else {}))


def test_a_phones_page_keeps_its_width_after_a_run(server, browser, tmp_path):
    """At 420 px the run's command line widened the whole page: it scrolled sideways and Stop went
    off screen. The command now scrolls in its own box."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 420, "height": 1400, "deviceScaleFactor": 1, "mobile": True}
    )
    try:
        dream(browser, server, picture(tmp_path / "a_long_file_name_of_a_photo.png", (64, 48)), 1)
        until(lambda: status(browser).startswith("Done"), 300, "the dream")
        widths = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        scroll, client = browser.execute_script(widths)
        assert scroll <= client, (scroll, client, " ".join(e.text for e in css(browser, ".cm-content")))
        # A label wrapped to two lines covered its upload box's "Drop Image Here" (the guide's, the styles')
        browser.execute_script(OPEN_CONTROLS)
        checked, covered = until(lambda: browser.execute_script(COVERED) or None, 10, "the controls opening")
        assert checked >= 2 and not covered, covered
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_stop_ends_a_long_dream_and_the_server_goes_on(server, browser, tmp_path):
    dream(browser, server, picture(tmp_path / "big.png", (384, 384)), 100)
    until(lambda: browser.execute_script("return window.previews") >= 1, 120, "a preview")
    asked = time.monotonic()
    click(browser, "#dream-stop")
    until(lambda: "Stopped" in status(browser), 15, "the stop")
    assert time.monotonic() - asked < 10, status(browser)
    assert css(browser, "#dream-preview img")  # the last picture stays
    assert server.answers()
    assert css(browser, "#dream-run")[0].is_enabled()


def test_a_text_file_is_one_clear_message(server, browser, tmp_path):
    # A .txt file: the page itself refuses it (the upload accepts image types), in one line.
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    open_page(browser, server.url)
    css(browser, "#dream-input input[type=file]")[0].send_keys(str(notes))
    until(lambda: "Invalid file type: notes.txt" in css(browser, "body")[0].text, 30, "the refusal")
    # Text named .png passes the page's check: the server's guarded loader refuses it, in one line.
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture either")
    upload(browser, fake)
    click(browser, "#dream-run")
    until(lambda: "Error" in status(browser), 60, "the error")
    assert "fake.png is not an image Pillow can read" in status(browser)
    assert css(browser, "#dream-status .fd-error") and "Traceback" not in browser.page_source
    assert server.answers()
    # Another upload clears the error: it stayed, beside a picture that was fine.
    upload(browser, picture(tmp_path / "fine.png"))
    until(lambda: status(browser).strip() == "Ready.", 30, "the error cleared")


def test_closing_the_page_removes_its_files(server, browser, tmp_path):
    (root,) = server.folders()
    sessions = root / "sessions"
    before = set(sessions.glob("*")) if sessions.exists() else set()
    dream(browser, server, picture(tmp_path / "photo.png", (48, 40)), 1)
    until(lambda: status(browser).startswith("Done"), 120, "the dream")
    (mine,) = set(sessions.glob("*")) - before
    tag = mine.name
    assert list(mine.iterdir()) and list((root / "gradio").glob(f"*/*-{tag}-*"))
    browser.get("about:blank")  # the page closes: Gradio ends the session
    until(lambda: not mine.exists() and not list((root / "gradio").glob(f"*/*-{tag}-*")), 60, "the clean-up")


def test_a_dream_of_the_subjects_of_an_uploaded_dreamer(server, browser, tmp_path, dreamer):
    """The Subjects tab: the checkpoint's subjects fill the list when it arrives, the dream runs."""
    open_page(browser, server.url)
    tab = [b for b in css(browser, "button[role=tab]") if b.text.strip() == "Your subjects"]
    assert tab, [b.text for b in css(browser, "button[role=tab]")]
    tab[0].click()
    src = picture(tmp_path / "photo.png", (96, 80))
    css(browser, "#subjects-input input[type=file]")[0].send_keys(str(src))
    css(browser, "#subjects-model input[type=file]")[0].send_keys(str(dreamer))
    words = lambda: " ".join(e.text for e in css(browser, "#subjects-status"))
    until(lambda: "2 subjects: brick, cat" in words(), 60, "the dreamer's subjects")
    assert "brick" in css(browser, "#subjects-subject")[0].text  # the first subject, chosen
    set_number(browser, "#subjects-steps", 2)
    click(browser, "#subjects-run")
    until(lambda: words().startswith("Done"), 300, "the dream")
    url = until(lambda: [i.get_attribute("src") for i in css(browser, "#subjects-result img")], 10)[0]
    with urllib.request.urlopen(url, timeout=10) as r:
        assert Image.open(io.BytesIO(r.read())).size == (96, 80)
    assert "--subject brick" in " ".join(e.text for e in css(browser, ".cm-content"))
    if os.environ.get("FASTDREAM_UI_SUBJECTS_SCREENSHOT"):
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(os.environ["FASTDREAM_UI_SUBJECTS_SCREENSHOT"])


def test_stop_in_another_tab_ends_its_queued_job_not_the_running_one(server, browser, tmp_path):
    """The GAN / VAE and Cutout tabs' jobs take seconds, but wait behind a long one: their Stop
    ends the waiting job (before its inputs are even read), and the running dream goes on."""
    dream(browser, server, picture(tmp_path / "big.png", (384, 384)), 100)
    until(lambda: browser.execute_script("return window.previews") >= 1, 120, "a preview")
    tab = [b for b in css(browser, "button[role=tab]") if b.text.strip() == "GAN / VAE"]
    tab[0].click()
    until(lambda: css(browser, "#gen-stop") and css(browser, "#gen-stop")[0].is_displayed(), 10, "the Stop")
    click(browser, "#gen-run")  # no checkpoint: it would fail, but it waits behind the dream
    gen = lambda: " ".join(e.text for e in css(browser, "#gen-status"))
    until(lambda: "Waiting" in gen(), 10, "the job queued")
    click(browser, "#gen-stop")
    # Said at once (the queue holds the job until the dream ends: the page said nothing until then).
    until(lambda: "will not start" in gen(), 5, "the queued job's stop said")
    # (A hidden tab's text is empty to Selenium: the dream's status is read as the page holds it.)
    dreaming = lambda: " ".join(e.get_attribute("textContent") for e in css(browser, "#dream-status"))
    assert "Working" in dreaming()  # the dream runs on
    click(browser, "#dream-stop")
    until(lambda: "Stopped" in dreaming(), 30, "the dream's stop")
    until(lambda: "Stopped before it started" in gen(), 30, "the queued job's stop")
    assert "Error" not in gen()
