"""Who is using the page: each browser tab (or client) is a session with its own Stop, its own
folder of outputs and the uploads it used, all removed when the session ends."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
import time
from pathlib import Path

#: A session nobody has used for this long is ended by the next one that starts (a browser that
#: went away without closing its page never sends the end of its session).
IDLE_END_S = 6 * 3600


class Session:
    """One visitor: the Stop they pressed last, their outputs' folder, the uploads they used.

    Stop works by time: a job stops (at its next step) when its tab's Stop was pressed after the
    job was asked for (``since``: the click, or the job's start for a client that calls it
    directly). So a Stop stops what runs and what waits in the queue of its own tab (``kind``,
    the job's API name), never another tab's job nor a job asked for later."""

    def __init__(self, key: str, root: Path):
        self.key = key
        #: In the names of this session's files, so that Gradio's copies of them can be found.
        self.tag = hashlib.sha256(key.encode()).hexdigest()[:10]
        self.folder = root / self.tag
        self.uploads: set[str] = set()
        self.stopped_at: dict[str | None, float] = {}  # kind -> the last Stop; None: every kind
        self.taken: dict[str, float] = {}  # kind -> when its last job to leave the queue was asked for
        self.last_used = time.monotonic()
        self._count = 0
        self._lock = threading.Lock()

    def stop(self, kind: str | None = None) -> None:
        """Stops the jobs of ``kind`` (a tab's API name) asked for until now; None: all of them."""
        self.stopped_at[kind] = time.monotonic()

    def stopped(self, since: float, kind: str | None = None) -> bool:
        """Whether a job of ``kind`` asked for at ``since`` has been stopped since."""
        last = max(self.stopped_at.get(None, float("-inf")), self.stopped_at.get(kind, float("-inf")))
        return last >= since

    def output(self, stem: str, suffix: str) -> Path:
        """A new file name in this session's folder: ``STEM-TAG-N.SUFFIX`` (the tag finds Gradio's
        copy of it when the session ends)."""
        with self._lock:
            self._count += 1
            n = self._count
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / f"{stem}-{self.tag}-{n}{suffix}"

    def workdir(self, stem: str) -> Path:
        """A new folder in this session's folder (a video's frames)."""
        path = self.output(stem, "")
        path.mkdir()
        return path


class Sessions:
    """The sessions of the app, by Gradio's session hash; ``end`` removes a session's files:
    its folder, Gradio's copies of its outputs in ``cache`` and the uploads no other session used."""

    def __init__(self, root: Path, cache: Path):
        self.root, self.cache = root, cache
        #: Files no session's end removes: the page's own pictures (the sample photo's copy).
        self.keep: set[str] = set()
        self._by_key: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, key: str | None) -> Session:
        key = key or "anonymous"
        with self._lock:
            session = self._by_key.get(key)
            if session is None:
                session = self._by_key[key] = Session(key, self.root)
            session.last_used = time.monotonic()
            idle = [s for s in self._by_key.values() if session.last_used - s.last_used > IDLE_END_S]
        for s in idle:
            self.end(s.key)
        return session

    def uses(self, session: Session, path) -> None:
        """The session used the uploaded file ``path`` (only files in Gradio's upload folder count)."""
        p = Path(path)
        if p.is_relative_to(self.cache) and str(p) not in self.keep:
            session.uploads.add(str(p))

    def end(self, key: str | None) -> None:
        with self._lock:
            session = self._by_key.pop(key or "anonymous", None)
            if session is None:
                return
            shared = {u for s in self._by_key.values() for u in s.uploads}
        session.stop()  # a job of the session still running ends at its next step
        shutil.rmtree(session.folder, ignore_errors=True)
        # Gradio keeps its copy of a file in CACHE/<hash>/<name>: the name carries the tag.
        gone = self._copies(f"-{session.tag}-") + [Path(u) for u in session.uploads - shared] + self._leftovers()
        for path in gone:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # the hash folder, once empty (never the cache itself)
                if path.parent != self.cache:
                    path.parent.rmdir()

    def _copies(self, mark: str) -> list[Path]:
        """Gradio's copies whose names hold ``mark``. Listed folder by folder, each listing allowed
        to fail: another session that ends at the same time removes its own folders meanwhile
        (a glob over them failed, and this session's files stayed)."""
        found = []
        with contextlib.suppress(OSError):
            folders = [e.path for e in os.scandir(self.cache) if e.is_dir(follow_symlinks=False)]
            for folder in folders:
                with contextlib.suppress(OSError):
                    found += [Path(e.path) for e in os.scandir(folder) if mark in e.name]
        return found

    def _leftovers(self) -> list[Path]:
        """The empty ``tmp*`` files Gradio leaves beside its copies for each file uploaded to a
        File component (141 after an hour of use), once they are a minute old."""
        old = time.time() - 60
        with contextlib.suppress(OSError):
            return [
                Path(e.path)
                for e in os.scandir(self.cache)
                if e.name.startswith("tmp")
                and e.is_file(follow_symlinks=False)
                and e.stat().st_size == 0
                and e.stat().st_mtime < old
            ]
        return []

    def end_all(self) -> None:
        for key in list(self._by_key):
            self.end(key)

    def __len__(self) -> int:
        return len(self._by_key)
