"""The web app's tests share one server (``fastdream ui`` in a subprocess, see helpers.py) and
one client of it."""

from __future__ import annotations

import tempfile

import pytest

from tests.ui.helpers import MAX_UPLOAD_MB, needs, start_server, stop_server


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    needs("gradio")
    tmp = tmp_path_factory.mktemp("ui-server")
    s = start_server(tmp, "--max-upload-mb", str(MAX_UPLOAD_MB))
    yield s
    code = stop_server(s)
    assert code == 0, (tmp / "server.log").read_text()[-2000:]
    assert s.folders() == [], "the server left its temporary folder behind"


@pytest.fixture(scope="package", autouse=True)
def _client_staging(tmp_path_factory):
    """Gradio's client stages every download in a folder of its own under the system's temporary
    folder and leaves that folder behind, empty (about 70 a run): here it stages in the test's.
    Only while the web app's tests run: tests run after them (``-p random``, ``--lf``) start
    subprocesses that look in the system's temporary folder, as the command line's locks do."""
    before = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("ui-client-staging"))
    yield
    tempfile.tempdir = before


@pytest.fixture(scope="session")
def client(server, tmp_path_factory):
    """A client of the server (one session): what it downloads goes to a folder of the test's."""
    gradio_client = needs("gradio_client")
    downloads = tmp_path_factory.mktemp("ui-downloads")
    return gradio_client.Client(server.url, verbose=False, download_files=str(downloads), analytics_enabled=False)


@pytest.fixture(scope="session")
def dreamer(tmp_path_factory):
    """A tiny dreamer of two subjects (brick and cat), trained for one epoch."""
    import skimage.data as d

    from fastdream.dreamer import make_subject_folders, train_dreamer

    root = tmp_path_factory.mktemp("dreamer")
    folders = make_subject_folders(root / "pictures", {"brick": d.brick(), "cat": d.chelsea()}, per_subject=4, size=64)
    tiny = dict(image_size=64, batch_size=8, seed=0, recipe={"exemplars": 16})
    return train_dreamer(folders, root / "dreamer.pt", epochs=1, **tiny)
