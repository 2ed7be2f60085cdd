"""Run a set of child processes in the foreground and stop them all cleanly on Ctrl-C."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    restarts: int = field(default=0)
    started_at: float = 0.0  # UNIX time of its (re)start
    restart_requested: float | None = None  # monotonic time a restart was asked for


class Control(Protocol):
    """Something the supervisor consults every loop (e.g. restart requests from Redis)."""

    def sync(self, supervisor: Supervisor) -> None: ...

    def close(self) -> None: ...


class Supervisor:
    """Starts children in their own sessions; SIGINT/SIGTERM stop them with SIGTERM.

    Celery workers treat SIGTERM as a warm shutdown: they finish the tasks they are
    running and leave the rest in the queue, so stopping loses nothing.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        log_dir: Path,
        grace: float = 60.0,
        control: Control | None = None,
        restart_grace: float = 20.0,
    ) -> None:
        self.env = dict(env)
        self.log_dir = log_dir
        self.grace = grace
        self.control = control
        self.restart_grace = restart_grace  # a child asked to restart is killed after this
        self.children: list[Child] = []
        self._stopping = False

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Child:
        """Start ``argv`` (environment ``env``, else the supervisor's) logging to ``<name>.log``.

        Secrets go in ``env``, never in ``argv``: any user can read a command line.
        """
        self.log_dir.mkdir(parents=True, exist_ok=True)
        child = Child(
            name=name,
            argv=list(argv),
            env=dict(self.env if env is None else env),
            log_path=self.log_dir / f"{name}.log",
        )
        self._spawn(child)
        self.children.append(child)
        return child

    def _spawn(self, child: Child) -> None:
        assert child.log_path is not None
        with child.log_path.open("ab") as out:
            child.process = subprocess.Popen(
                child.argv,
                env=child.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        child.started_at = time.time()
        child.restart_requested = None

    def describe(self) -> dict[str, dict[str, Any]]:
        """Child name → pid, start time and restarts (what the control publishes)."""
        return {
            c.name: {
                "pid": c.process.pid if c.process else None,
                "started_at": c.started_at,
                "restarts": c.restarts,
                "running": bool(c.process and c.process.poll() is None),
            }
            for c in self.children
        }

    def restart(self, name: str) -> bool:
        """Restart child ``name``: SIGTERM (and SIGCONT, should it be stopped), a new process
        once it exits, SIGKILL after ``restart_grace``. False if there is no such child."""
        child = next((c for c in self.children if c.name == name), None)
        if child is None or child.process is None:
            return False
        if child.restart_requested is None:
            child.restart_requested = time.monotonic()
            child.started_at = time.time()  # starting again from now: healing leaves it be
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
                _signal_group(child.process, signal.SIGCONT)
        return True

    def run(self, restart_limit: int = 5) -> int:
        """Wait until a signal asks to stop; restart children that die (up to a limit)."""
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, self._on_signal)
        try:
            while not self._stopping:
                self._reap(restart_limit)
                if self.control is not None:
                    self.control.sync(self)
                time.sleep(0.5)
        finally:
            if self.control is not None:
                self.control.close()
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _reap(self, restart_limit: int) -> None:
        for child in self.children:
            if child.process is None:
                continue
            if child.restart_requested is not None:
                self._restart_if_stopped(child)
                continue
            if child.process.poll() is None:
                continue
            code = child.process.returncode
            if child.restarts >= restart_limit:
                print(
                    f"hauler: {child.name} exited ({code}) too often; see {child.log_path}",
                    file=sys.stderr,
                )
                self._stopping = True
                return
            child.restarts += 1
            print(f"hauler: {child.name} exited ({code}); restarting", file=sys.stderr)
            self._spawn(child)

    #: The signal that asked the supervisor to stop, if one did (else a child failed).
    signalled: int | None = None

    def _restart_if_stopped(self, child: Child) -> None:
        assert child.process is not None and child.restart_requested is not None
        if child.process.poll() is None:
            if time.monotonic() - child.restart_requested < self.restart_grace:
                return
            print(f"hauler: {child.name} ignored SIGTERM; killing it", file=sys.stderr)
            _signal_group(child.process, signal.SIGKILL)
            child.process.wait()
        print(f"hauler: {child.name} restarted on request", file=sys.stderr)
        self._spawn(child)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signalled = signum
        self._stopping = True

    #: Called once when stopping begins, before any child is signalled (e.g. to announce
    #: maintenance); its failure never keeps the children from stopping.
    on_stop: Callable[[], object] | None = None

    def stop(self) -> None:
        """SIGTERM every child, wait up to ``grace`` seconds, then SIGKILL what is left."""
        hook, self.on_stop = self.on_stop, None
        if hook is not None:
            try:
                hook()
            except Exception as exc:
                print(f"hauler: announcing the stop failed: {exc}", file=sys.stderr)
        running = [c for c in self.children if c.process and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)  # the main process only: a warm shutdown
        deadline = time.monotonic() + self.grace
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(
                    f"hauler: {child.name} did not stop in {self.grace:g}s; killing it",
                    file=sys.stderr,
                )
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
