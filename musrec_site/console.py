"""What ``./musrec run`` tells a person while it runs: one status line, full logs in files.

The web server, the worker and the demo build write everything to ``var/log/``; the console gets the URL,
the demo catalogue's progress and the analysis progress, on one line that is redrawn in place on a terminal,
or as a few plain lines when the output goes to a file. Django-free: the launcher reads the song counts
with psycopg, and the demo build's progress from the end of its log.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import psycopg

# The states of catalog.models.Song.Analysis; Song.objects.analysis_counts() is the Django side of this query.
ANALYSIS_STATES = ("pending", "queued", "analysing", "done", "failed")


@dataclass(frozen=True)
class AnalysisCounts:
    pending: int = 0
    queued: int = 0
    analysing: int = 0
    done: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.queued + self.analysing + self.done + self.failed

    @property
    def busy(self) -> bool:
        """Songs are waiting for a worker or being analysed (pending ones are queued by the reconciler)."""
        return self.pending + self.queued + self.analysing > 0

    def describe(self) -> str:
        text = f"Analysis: {self.done}/{self.total} songs done"
        return text + (f", {self.failed} failed" if self.failed else "")


def analysis_counts(database_url: str) -> AnalysisCounts | None:
    """Songs per analysis state, or None while the database cannot say (not migrated yet, restarting)."""
    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            rows = conn.execute("SELECT analysis_status, count(*) FROM catalog_song GROUP BY analysis_status")
            counts = {state: n for state, n in rows if state in ANALYSIS_STATES}
    except psycopg.Error:
        return None
    return AnalysisCounts(**counts)


def demo_progress(log: Path, offset: int) -> str | None:
    """The demo build's latest step, from what it wrote to ``log`` after ``offset``; None before its first line.

    The build logs a step ("Downloading 11 Debian packages…") and then indented details of it (a package and
    its size), so the status is the last step, with its last detail when one came after it.
    """
    lines = [line.rstrip() for line in _read_from(log, offset).splitlines() if line.strip()]
    if not lines:
        return None
    step = next((line for line in reversed(lines) if not line.startswith(" ")), "")
    detail = lines[-1].strip() if lines[-1].startswith(" ") else ""
    return " ".join(part for part in (step, detail) if part)


def demo_outcome(log: Path, offset: int, returncode: int) -> list[str]:
    """The lines to keep on the console once the demo build has ended."""
    lines = [line.strip() for line in _read_from(log, offset).splitlines() if line.strip()]
    if returncode != 0:
        reason = lines[-1].removeprefix("CommandError: ") if lines else f"it exited with status {returncode}"
        return [f"The demo catalogue could not be built: {reason}", f"  (full log: {shown_path(log)})"]
    kept = [line for line in lines if line.startswith(("Imported ", "Queued ", "Demo catalogue:"))]
    if any(line.startswith("Imported ") and ", skipped 0, broken 0 " not in line for line in kept):
        kept.append(f"  (the files skipped and why: {shown_path(log)})")
    return kept


def _read_from(log: Path, offset: int, limit: int = 64 * 1024) -> str:
    try:
        with log.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(offset, size - limit))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def shown_path(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it (the launcher runs in the repository)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class StatusLine:
    """One line of progress: redrawn in place on a terminal; elsewhere printed when it changes, now and then."""

    def __init__(self, stream: TextIO = sys.stdout, *, every: float = 30.0) -> None:
        self.stream = stream
        self.on_terminal = stream.isatty()
        self.every = every
        self._shown = ""  # what the terminal shows on the current line
        self._printed = ""
        self._printed_at = -every

    def show(self, text: str) -> None:
        if self.on_terminal:
            width = shutil.get_terminal_size().columns - 1
            # A line wider than the terminal wraps, and \r would then redraw only its last part.
            text = text if len(text) <= width else text[: width - 1] + "…"
            if text != self._shown:
                self.stream.write(f"\r{text}\033[K")
                self.stream.flush()
                self._shown = text
        elif text != self._printed and time.monotonic() - self._printed_at >= self.every:
            self.say(text)

    def say(self, line: str) -> None:
        """Print ``line`` to stay, below nothing half-drawn."""
        self.clear()
        print(line, file=self.stream, flush=True)
        self._printed, self._printed_at = line, time.monotonic()

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._shown = ""
