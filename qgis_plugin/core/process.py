"""Run one engine command: stream progress, honour cancel, collect the result.

Used by the "Map roads" task, Test engine, Install engine and the Processing
algorithms. Reader threads drain stdout and stderr (so the engine never blocks on
a full pipe); every callback runs in the caller's thread. On Linux the engine gets
SIGTERM when the thread that started it dies (``PR_SET_PDEATHSIG``): killing QGIS
or ``qgis_process`` stops the engine at once instead of leaving it running.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .commands import display
from .errors import EngineFailedError, EngineNotFoundError, RunCancelledError
from .i18n import tr
from .protocol import ErrorLine, ProgressLine, last_json_object, parse_error, parse_progress

#: Seconds the engine gets to clean up after an interrupt before it is killed.
GRACE_S = 5.0
TAIL_LINES = 200
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class EngineResult:
    """What one engine run produced.

    Attributes:
        argv: The command line.
        returncode: Exit status (None if it could not start).
        result: The final ``--json`` object (None on failure).
        error: The engine's final error line, if any.
        cancelled: Whether the run was cancelled.
        seconds: Wall time.
        stdout_tail, stderr_tail: Last lines of the outputs (non-progress lines).
        timed_out: Whether the run was stopped because it took too long.

    """

    argv: tuple[str, ...]
    returncode: int | None
    result: dict[str, Any] | None
    error: ErrorLine | None
    cancelled: bool
    seconds: float
    stdout_tail: str = ""
    stderr_tail: str = ""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """Whether the run succeeded with a result object."""
        return not self.cancelled and self.returncode == 0 and self.result is not None

    def message(self) -> str:
        """One line for the message bar (the engine's own message when it gave one)."""
        if self.timed_out:
            return tr("roadseg did not answer in {seconds:.0f} s and was stopped.").format(
                seconds=self.seconds
            )
        if self.cancelled:
            return tr("The run was cancelled; nothing was added and no file was kept.")
        if self.error is not None:
            return tr("roadseg failed ({error}): {message}").format(
                error=self.error.error, message=self.error.message
            )
        last = [ln for ln in self.stderr_tail.splitlines() if ln.strip()]
        if self.returncode == 0 and self.result is None:
            return tr("roadseg finished but printed no JSON result; is the engine up to date?")
        hint = f": {last[-1].strip()}" if last else ""
        return tr("roadseg failed with exit status {code}").format(code=self.returncode) + hint

    def details(self) -> str:
        """Full text for the log panel: command, status, output tails."""
        return (
            f"Command: {display(self.argv)}\nExit status: {self.returncode}\n"
            f"Time: {self.seconds:.1f} s\n--- stderr (last lines) ---\n{self.stderr_tail}\n"
            f"--- stdout (last lines) ---\n{self.stdout_tail}"
        )

    def raise_for_status(self) -> dict[str, Any]:
        """Return the result object, or raise the matching plugin error."""
        if self.cancelled and not self.timed_out:
            raise RunCancelledError(self.message(), details=self.details())
        if not self.ok:
            raise EngineFailedError(self.message(), details=self.details())
        assert self.result is not None
        return self.result


@dataclass
class _Streams:
    events: queue.Queue[tuple[str, str]] = field(default_factory=queue.Queue)
    stdout: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))


def _reader(stream: IO[str], name: str, out: _Streams) -> None:
    try:
        for line in stream:
            out.events.put((name, line.rstrip("\r\n")))
    except (OSError, ValueError):
        pass
    finally:
        out.events.put((name, "\0EOF"))


def _signal_group(proc: subprocess.Popen[str], sig: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, sig)
        elif sig == signal.SIGINT:
            proc.terminate()
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _interrupt(proc: subprocess.Popen[str]) -> None:
    """Ask the engine to stop (it removes its temporary files), then kill it."""
    _signal_group(proc, signal.SIGINT)
    try:
        proc.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    if proc.poll() is None:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()


def _parent_death_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the kernel send SIGTERM to the engine when we die (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.restype = ctypes.c_int
    parent = os.getpid()

    def hook() -> None:  # runs in the child between fork and exec: no imports, no locks
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the hook ran
            os._exit(1)

    return hook


def _popen_options() -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if os.name == "posix":
        kwargs["start_new_session"] = True  # own process group: cancel reaches workers too
        hook = _parent_death_hook()
        if hook is not None:
            kwargs["preexec_fn"] = hook
    elif hasattr(subprocess, "CREATE_NEW_PROCESS_GROUP"):
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    return kwargs


def run_engine(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    on_progress: Callable[[ProgressLine], None] | None = None,
    on_log: Callable[[str], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    poll_s: float = 0.1,
    timeout_s: float | None = None,
    log_stdout: bool = False,
) -> EngineResult:
    """Run ``argv`` to completion (or cancellation) and parse its JSON output.

    Args:
        argv: Engine command line.
        env: Environment (see :func:`core.engine.engine_env`).
        cwd: Working folder.
        on_progress: Called with each progress line.
        on_log: Called with each stderr line that is not a progress object (and each
            stdout line with ``log_stdout``).
        is_cancelled: Polled every ``poll_s``; True interrupts and kills the engine.
        poll_s: Poll interval in seconds.
        timeout_s: Stop the program after this many seconds (None: no limit).
        log_stdout: Also pass stdout lines to ``on_log`` (for programs such as pip).

    Raises:
        EngineNotFoundError: when the program cannot be started.

    """
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            **_popen_options(),
        )
    except OSError as exc:
        raise EngineNotFoundError(
            tr(
                "Cannot start the roadseg engine {program}: {reason}. "
                "Check Plugins ▸ roadseg ▸ Settings ▸ Test engine."
            ).format(program=repr(argv[0]), reason=exc.strerror or exc),
            details=display(argv),
        ) from None
    streams = _Streams()
    threads = [
        threading.Thread(target=_reader, args=(proc.stdout, "out", streams), daemon=True),
        threading.Thread(target=_reader, args=(proc.stderr, "err", streams), daemon=True),
    ]
    for t in threads:
        t.start()
    open_streams = 2
    cancelled = timed_out = False
    exited_at: float | None = None
    while open_streams:
        if not cancelled and (
            (is_cancelled is not None and is_cancelled())
            or (timeout_s is not None and time.monotonic() - start > timeout_s)
        ):
            timed_out = not (is_cancelled is not None and is_cancelled())
            cancelled = True
            _interrupt(proc)
        try:
            name, line = streams.events.get(timeout=poll_s)
        except queue.Empty:
            if exited_at is None and proc.poll() is not None:
                exited_at = time.monotonic()
            if exited_at is not None and time.monotonic() - exited_at > GRACE_S:
                break  # a stray grandchild holds the pipes open: stop waiting for it
            continue
        if line == "\0EOF":
            open_streams -= 1
            continue
        if name == "out":
            streams.stdout.append(line)
            if log_stdout and on_log is not None:
                on_log(line)
            continue
        progress = parse_progress(line)
        if progress is not None:
            if on_progress is not None and not cancelled:
                on_progress(progress)
        else:
            streams.stderr.append(line)
            if on_log is not None:
                on_log(line)
    proc.wait()
    for t, stream in zip(threads, (proc.stdout, proc.stderr), strict=True):
        t.join(timeout=1.0)
        if stream is not None and not t.is_alive():  # never close under a blocked reader
            stream.close()
    stdout_text = "\n".join(streams.stdout)
    obj = last_json_object(stdout_text)
    error = parse_error(obj) if obj is not None else None
    result = obj if (obj is not None and error is None and proc.returncode == 0) else None
    return EngineResult(
        argv=tuple(argv),
        returncode=proc.returncode,
        result=result,
        error=error,
        cancelled=cancelled,
        seconds=time.monotonic() - start,
        stdout_tail="\n".join(list(streams.stdout)[-40:]),
        stderr_tail="\n".join(list(streams.stderr)[-60:]),
        timed_out=timed_out,
    )
