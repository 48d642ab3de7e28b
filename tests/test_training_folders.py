"""How the trainers and folder runs list a folder's pictures."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from fastdream.training import list_images


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_linked_folders_are_followed_once_and_hidden_files_left_out(tmp_path):
    """``ln -s ~/photos/cats subjects/cat``: the linked folder's pictures were not listed (none,
    with every subfolder a link); a link to a folder above is no loop, and hidden files stay out."""
    photos, root = tmp_path / "photos", tmp_path / "root"
    (photos / "sub").mkdir(parents=True)
    root.mkdir()
    for p in (photos / "a.png", photos / "sub" / "b.jpg", photos / ".c.png", root / "d.png"):
        Image.new("RGB", (8, 8)).save(p, "PNG")
    (root / "cats").symlink_to(photos, target_is_directory=True)
    (root / "again").symlink_to(photos, target_is_directory=True)  # the same real folder: once
    (photos / "up").symlink_to(root, target_is_directory=True)  # a loop
    found = [p.relative_to(root).as_posix() for p in list_images(root)]
    assert found == ["again/a.png", "again/sub/b.jpg", "d.png"]  # (the first name in order)
    assert [p.name for p in list_images(root, recursive=False)] == ["d.png"]
