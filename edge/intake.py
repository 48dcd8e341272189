"""Hot-folder intake: deciding when a file is a complete frame, and never missing one.

Events from watchdog are hints; the journal is the truth. A file is ready when
- it is closed after writing (inotify IN_CLOSE_WRITE), or
- it is renamed into the folder (temp file then rename), or
- it was only announced as created or modified (moved in from elsewhere on the same
  filesystem, or seen by the polling observer on a network share) and its size and
  modification time have then stayed the same for `stable_for_s` while nobody had it open.
A reconciliation scan at start-up and every `reconcile_interval_s` offers every file the
journal has not judged, so frames that arrived while the daemon was down, or whose events
were lost, still get their verdict.

The folder itself is watched too: deleted and made again (or replaced by another), it is
watched again within a tick of the housekeeping thread, not at the next scan.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from edge.health import Problem
from edge.watch_settings import WatchSettings

log = logging.getLogger(__name__)

_IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
_IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".temp")


def is_candidate(path: Path, folder: Path, settings: WatchSettings) -> bool:
    """Could this path be a frame? Temp, sidecar and capture-software files are not."""
    try:
        rel = path.relative_to(folder)
    except ValueError:
        return False
    parts = rel.parts
    if not parts:
        return False
    if len(parts) > 1:
        if not settings.recursive:
            return False
        if any(p.startswith(".") or p in settings.ignore_dirs for p in parts[:-1]):
            return False
    name = parts[-1]
    lower = name.lower()
    if name.startswith((".", "~", "._")) or lower in _IGNORED_NAMES or lower.endswith(_IGNORED_SUFFIXES):
        return False
    return os.path.splitext(lower)[1] in settings.extensions


class FrameQueue:
    """Bounded queue of paths to judge, without duplicates. When it is full, new hints are
    dropped and a rescan is requested instead: the folder and journal still know them."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._queue: queue.Queue[Path] = queue.Queue(maxsize=maxsize)
        self._queued: set[Path] = set()
        self._lock = threading.Lock()
        self.overflowed = threading.Event()

    def offer(self, path: Path) -> bool:
        with self._lock:
            if path in self._queued:
                return True
            try:
                self._queue.put_nowait(path)
            except queue.Full:
                self.overflowed.set()
                return False
            self._queued.add(path)
            return True

    def take(self, timeout: float) -> Path | None:
        try:
            path = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        with self._lock:
            self._queued.discard(path)
        return path

    def __contains__(self, path: Path) -> bool:
        with self._lock:
            return path in self._queued

    def depth(self) -> int:
        return self._queue.qsize()


# A file that inotify saw appear without anyone opening it was renamed in whole (moved in from
# elsewhere on the filesystem): it only needs to sit still for this long, not stable_for_s.
MOVED_IN_SETTLE_S = 0.15


@dataclass
class _Watching:
    size: int
    mtime_ns: int
    since: float
    open_handles: int = 0
    # appeared through inotify and nobody has opened it for writing since
    moved_in: bool = False


class StabilityTracker:
    """Files waiting until their size and mtime stop changing (and nobody has them open)."""

    def __init__(self, stable_for_s: float, on_ready: Callable[[Path], None]) -> None:
        self.stable_for_s = stable_for_s
        self._on_ready = on_ready
        self._files: dict[Path, _Watching] = {}
        self._lock = threading.Lock()

    def watch(self, path: Path, moved_in: bool = False) -> None:
        try:
            st = os.stat(path)
        except OSError:
            return
        with self._lock:
            current = self._files.get(path)
            if current is None:
                self._files[path] = _Watching(st.st_size, st.st_mtime_ns, time.monotonic(), moved_in=moved_in)
            elif (current.size, current.mtime_ns) != (st.st_size, st.st_mtime_ns):
                current.size, current.mtime_ns, current.since = st.st_size, st.st_mtime_ns, time.monotonic()
                current.moved_in = False

    def opened(self, path: Path) -> None:
        with self._lock:
            if path in self._files:
                self._files[path].open_handles += 1
                self._files[path].moved_in = False  # a writer is at work: wait for its close

    def closed_without_write(self, path: Path) -> None:
        with self._lock:
            entry = self._files.get(path)
            if entry is not None and entry.open_handles > 0:
                entry.open_handles -= 1

    def forget(self, path: Path) -> None:
        with self._lock:
            self._files.pop(path, None)

    def __contains__(self, path: Path) -> bool:
        with self._lock:
            return path in self._files

    def poll(self) -> None:
        now = time.monotonic()
        ready: list[Path] = []
        with self._lock:
            for path, entry in list(self._files.items()):
                try:
                    st = os.stat(path)
                except OSError:
                    del self._files[path]
                    continue
                if (st.st_size, st.st_mtime_ns) != (entry.size, entry.mtime_ns):
                    entry.size, entry.mtime_ns, entry.since = st.st_size, st.st_mtime_ns, now
                elif entry.open_handles == 0 and now - entry.since >= (
                        min(MOVED_IN_SETTLE_S, self.stable_for_s) if entry.moved_in else self.stable_for_s):
                    del self._files[path]
                    ready.append(path)
        for path in ready:
            self._on_ready(path)


class _EventHandler(FileSystemEventHandler):
    def __init__(self, intake: Intake) -> None:
        self._intake = intake

    def on_any_event(self, event: FileSystemEvent) -> None:
        # An exception here would silently kill the observer thread: never let one out.
        try:
            self._intake.handle_event(event)
        except Exception:
            log.exception("error while handling file event %s", event)


class Intake:
    def __init__(self, folder: Path, settings: WatchSettings, frames: FrameQueue,
                 is_judged: Callable[[Path, os.stat_result], bool]) -> None:
        self.folder = folder
        self.settings = settings
        self.frames = frames
        self._is_judged = is_judged
        self._stability = StabilityTracker(settings.stable_for_s, self._ready)
        self._observer: BaseObserver | None = None
        self._stop = threading.Event()
        self._rescan = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_scan_at = 0.0
        # frames being judged: reading one raises events of its own, which must not queue it again
        self._in_hand: set[Path] = set()
        self._folder_id: tuple[int, int] | None = None  # (device, inode) of the folder being watched
        self.folder_missing = False

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def observer(self) -> BaseObserver | None:
        return self._observer

    def _watch_folder(self) -> None:
        """(Re)start the file watcher on the folder as it is now."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self.settings.polling:
            observer: BaseObserver = PollingObserver(timeout=self.settings.poll_interval_s)
        else:
            observer = Observer()
        observer.schedule(_EventHandler(self), str(self.folder), recursive=self.settings.recursive)
        observer.start()
        self._observer = observer

    def _folder_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.folder)
        except OSError:
            return None
        return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None

    def start(self) -> None:
        self._folder_id = self._folder_identity()
        self._watch_folder()
        self.reconcile()
        self._thread = threading.Thread(target=self._housekeeping, name="intake", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)  # first: it may be starting a new watcher
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)

    def problems(self) -> list[Problem]:
        """Why frames landing now would not be seen; empty while intake works."""
        found = []
        if self._thread is None or not self._thread.is_alive():
            found.append(Problem("intake: the housekeeping thread has stopped", fatal=True))
        if self.folder_missing:
            # waited out: watched again as soon as it is back
            found.append(Problem(f"intake: the hot folder {self.folder} is missing", fatal=False))
        else:
            observer = self._observer
            # the observer thread outlives its emitters (an emitter ends when its folder goes)
            if observer is None or not observer.is_alive() or not all(e.is_alive() for e in observer.emitters):
                found.append(Problem("intake: the file watcher has stopped", fatal=True))
        return found

    def alive(self) -> bool:
        return not self.problems()

    def request_rescan(self) -> None:
        self._rescan.set()

    # -- frames being judged -----------------------------------------------------------------
    @contextmanager
    def holding(self, path: Path) -> Iterator[None]:
        """While `path` is being judged."""
        self._in_hand.add(path)
        try:
            yield
        finally:
            self._in_hand.discard(path)

    def watch_again(self, path: Path) -> None:
        """Queue `path` again once it has held still (it changed while it was read, or may still be written)."""
        self._stability.watch(path)

    # -- events ----------------------------------------------------------------------------
    def handle_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        kind = event.event_type
        if kind == "moved":
            self._stability.forget(Path(os.fsdecode(event.src_path)))
            path = Path(os.fsdecode(event.dest_path))
            if is_candidate(path, self.folder, self.settings):
                self._stability.forget(path)
                self._ready(path)
            return
        path = Path(os.fsdecode(event.src_path))
        if not is_candidate(path, self.folder, self.settings):
            return
        if kind == "closed":
            self._stability.forget(path)
            self._ready(path)
        elif kind == "created" and os.path.islink(path):
            self._ready(path)  # a link is made whole at once; a loop or a link out is reported by the worker
        elif kind in ("created", "modified", "attrib"):
            # attrib: a file judged "cannot be opened" is judged again once chmod lets us read it
            if path not in self._in_hand:
                # inotify reports a file renamed in from outside the folder as 'created' with no
                # 'opened' after it; polling cannot tell, so it always waits the full period
                self._stability.watch(path, moved_in=kind == "created" and not self.settings.polling)
        elif kind == "opened":
            self._stability.opened(path)
        elif kind == "closed_no_write":
            self._stability.closed_without_write(path)
        elif kind == "deleted":
            self._stability.forget(path)

    def _ready(self, path: Path) -> None:
        if not self.frames.offer(path):
            log.debug("frame queue full; %s will be picked up by the next scan", path.name)

    # -- reconciliation ---------------------------------------------------------------------
    def _iter_files(self) -> list[Path]:
        found: list[Path] = []
        stack = [self.folder]
        while stack:
            current = stack.pop()
            try:
                with os.scandir(current) as entries:
                    for entry in entries:
                        path = Path(entry.path)
                        if entry.is_dir(follow_symlinks=False):
                            if self.settings.recursive and not entry.name.startswith(".") \
                                    and entry.name not in self.settings.ignore_dirs:
                                stack.append(path)
                        elif is_candidate(path, self.folder, self.settings):
                            found.append(path)
            except OSError as exc:
                log.warning("cannot scan %s: %s", current, exc)
        return sorted(found)

    def reconcile(self) -> int:
        """Offer every file in the folder that has no verdict yet. Returns how many were offered."""
        offered = 0
        now = time.time()
        for path in self._iter_files():
            if path in self.frames or path in self._stability or path in self._in_hand:
                continue
            try:
                st = os.stat(path)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    continue  # a dangling symlink or a file just removed: the worker reports real frames
                try:
                    st = os.lstat(path)  # a link loop: the link itself gets an error verdict
                except OSError:
                    continue
            if self._is_judged(path, st):
                continue
            if now - st.st_mtime >= self.settings.stable_for_s or stat.S_ISLNK(st.st_mode):
                if self.frames.offer(path):
                    offered += 1
                else:
                    break
            else:
                self._stability.watch(path)
        self.last_scan_at = time.monotonic()
        if offered:
            log.info("reconciliation scan: %d frame(s) without a verdict queued", offered)
        return offered

    def _housekeeping(self) -> None:
        next_scan = time.monotonic() + self.settings.reconcile_interval_s
        tick = 0.05 if not self.settings.polling else max(0.05, min(0.25, self.settings.stable_for_s / 4 or 0.25))
        while not self._stop.wait(tick):
            try:
                if self._folder_came_back():
                    next_scan = 0.0  # what arrived while it was not watched is found now
                self._stability.poll()
                overflow = self.frames.overflowed.is_set() and self.frames.depth() <= self.frames.maxsize // 4
                if overflow or self._rescan.is_set() or time.monotonic() >= next_scan:
                    self._rescan.clear()
                    if overflow:
                        self.frames.overflowed.clear()
                    self.reconcile()
                    next_scan = time.monotonic() + self.settings.reconcile_interval_s
            except Exception:
                log.exception("intake housekeeping failed; retrying")

    def _folder_came_back(self) -> bool:
        """Notice the folder gone, or made again under the same name; watch the new one."""
        identity = self._folder_identity()
        if identity is None:
            if not self.folder_missing:
                log.error("the hot folder %s has gone; waiting for it to come back", self.folder)
                self.folder_missing = True
            return False
        if identity == self._folder_id and not self.folder_missing:
            return False
        self._folder_id, self.folder_missing = identity, False
        self._watch_folder()
        log.warning("the hot folder %s is there again; watching it again", self.folder)
        return True
