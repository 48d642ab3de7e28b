"""fastdream.io.atomic: outputs appear whole or not at all."""

import json
import os
import stat
from pathlib import Path

import pytest

from fastdream import io


def test_the_file_appears_whole_with_the_usual_mode(tmp_path):
    out = io.atomic_save(lambda tmp: Path(tmp).write_text("x" * 100), tmp_path / "a.txt")
    assert out.read_text() == "x" * 100 and os.listdir(tmp_path) == ["a.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_an_error_leaves_no_temporary_file_and_keeps_the_old_output(tmp_path, error):
    (tmp_path / "a.png").write_text("the finished output of a previous run")

    def save(tmp):
        Path(tmp).write_text("half")
        raise error

    with pytest.raises(type(error)):
        io.atomic_save(save, tmp_path / "a.png")
    assert os.listdir(tmp_path) == ["a.png"]
    assert (tmp_path / "a.png").read_text() == "the finished output of a previous run"


def test_the_temporary_file_keeps_the_extension_and_sits_beside_the_output(tmp_path):
    seen = []
    io.atomic_save(lambda tmp: seen.append(tmp) or Path(tmp).touch(), tmp_path / "clip.gif")
    assert seen[0].endswith(".gif") and os.path.dirname(seen[0]) == str(tmp_path)
    io.atomic_save(lambda tmp: seen.append(tmp) or Path(tmp).touch(), tmp_path / "clip.gif", suffix=".part")
    assert seen[1].endswith(".part")


def test_a_symbolic_link_is_written_through_and_stays_a_link(tmp_path):
    """--overwrite of a link to the input replaced the link by a file and left the input as it was."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "in.txt").write_text("the input")
    (tmp_path / "link.txt").symlink_to(tmp_path / "sub" / "in.txt")
    out = io.atomic_save(lambda tmp: Path(tmp).write_text("new"), tmp_path / "link.txt")
    assert out == tmp_path / "link.txt" and (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "sub" / "in.txt").read_text() == "new" and sorted(os.listdir(tmp_path / "sub")) == ["in.txt"]


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="output: the folder .* does not exist"):
        io.atomic_save(lambda tmp: None, tmp_path / "nope" / "a.txt")


def test_write_json(tmp_path):
    io.write_json({"b": 1, "a": [1, 2]}, tmp_path / "s.json")
    text = (tmp_path / "s.json").read_text()
    assert json.loads(text) == {"a": [1, 2], "b": 1} and text.index('"a"') < text.index('"b"')
