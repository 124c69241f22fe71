"""The one progress display of `hermes4 run`: every stage's state and time, and the current stage's live counters.

On a terminal it is a rich live table redrawn a few times a second; in logs and pipes it is one line when a stage
starts or ends and a status line every `log_every_s` seconds. A stage says where it is through `activity`, a
callable returning `(done, total, status)` (the `progress()` of the layers' counters fits as is).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

Activity = Callable[[], "tuple[int, int, str]"]

_STYLE = {"pending": "dim", "running": "bold yellow", "done": "green", "skipped": "cyan", "failed": "bold red"}


@dataclass
class StageState:
    name: str
    status: str = "pending"  # pending | running | done | skipped | failed
    started: float | None = None
    seconds: float | None = None
    note: str = ""


@dataclass
class RunDisplay:
    stages: list[str]
    console: Console = field(default_factory=lambda: Console(stderr=True))
    title: str = "hermes4 run"
    log_every_s: float = 15.0

    def __post_init__(self) -> None:
        self.states = {name: StageState(name) for name in self.stages}
        self.current: str | None = None
        self.activity: Activity | None = None
        self.step = ""  # what the current stage is doing now, e.g. "sample reasoning"
        self._live: Live | None = None
        self._stop = threading.Event()
        self._logger: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> RunDisplay:
        if self.console.is_terminal:
            self._live = Live(self, console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        else:
            self._logger = threading.Thread(target=self._log_loop, name="hermes4-run-log", daemon=True)
            self._logger.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None
        if self._logger is not None:
            self._logger.join(timeout=1)

    # -- what stages report ------------------------------------------------------------------------------

    def start(self, name: str) -> None:
        state = self.states[name]
        state.status, state.started, state.note = "running", time.monotonic(), ""
        self.current, self.activity, self.step = name, None, ""
        self._line(f"stage {name}: started")

    def finish(self, name: str, status: str = "done", note: str = "") -> None:
        state = self.states[name]
        if state.started is not None:
            state.seconds = time.monotonic() - state.started
        state.status, state.note = status, note
        if self.current == name:
            self.current, self.activity, self.step = None, None, ""
        took = f" in {state.seconds:.1f}s" if state.seconds is not None else ""
        self._line(f"stage {name}: {status}{took}{f' ({note})' if note else ''}")

    def track(self, step: str, activity: Activity | None = None) -> None:
        """The current stage moved on to `step`, whose progress `activity` reports (None: no counters)."""
        self.step, self.activity = step, activity
        if self._live is None and step:
            self._line(f"  {self.current}: {step}")

    def print(self, message: str) -> None:
        self.console.print(message, highlight=False)

    # -- rendering -----------------------------------------------------------------------------------------

    def _line(self, message: str) -> None:
        if self._live is None:
            self.console.print(message, highlight=False)

    def _now_line(self) -> str:
        if self.current is None:
            return ""
        text = f"{self.current}: {self.step}" if self.step else self.current
        if self.activity is not None:
            try:
                done, total, status = self.activity()
            except Exception:  # noqa: BLE001 (counters being rebuilt; the next refresh shows them)
                return text
            count = f" · {done}/{total}" if total else ""
            text += f"{count} · {status}" if status else count
        return text

    def _log_loop(self) -> None:
        while not self._stop.wait(self.log_every_s):
            if self.step:  # a bare stage name (between its start and its first step) says nothing new
                self.console.print(self._now_line(), highlight=False)

    def __rich__(self) -> Group:
        table = Table(title=self.title, title_justify="left", expand=False)
        table.add_column("stage")
        table.add_column("state")
        table.add_column("time", justify="right")
        table.add_column("")
        now = time.monotonic()
        for state in self.states.values():
            if state.status == "running" and state.started is not None:
                took = f"{now - state.started:.0f}s"
            else:
                took = f"{state.seconds:.1f}s" if state.seconds is not None else ""
            table.add_row(state.name, Text(state.status, style=_STYLE.get(state.status, "")), took, state.note)
        parts: list = [table]
        if self.current is not None:
            parts.append(Text(self._now_line(), overflow="ellipsis", no_wrap=True))
            if self.activity is not None:
                try:
                    done, total, _ = self.activity()
                    if total:
                        parts.append(ProgressBar(total=total, completed=min(done, total), width=60))
                except Exception:  # noqa: BLE001
                    pass
        return Group(*parts)
