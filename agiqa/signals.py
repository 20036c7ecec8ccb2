"""SIGINT and SIGTERM stop a job the same way: committed shards are kept, one line says so, exit 130 / 143.

Why SIGTERM needs this: it is what Kubernetes, Slurm and `ray job stop` send. Python's default
ends the process at once without a word, and `ray.init` installs a handler of its own that calls
`sys.exit` from whatever the main thread was doing, which tears the interpreter down under Ray's
live C++ threads (SIGABRT and a native crash dump on the driver). Here SIGTERM raises
`Terminated` (a `KeyboardInterrupt`), so it unwinds exactly like Ctrl-C: the runners stop their
actors and engines, count what is committed and raise `JobInterrupted`, which the CLI prints.

A second signal while the first one is being handled ends the process at once (same exit code):
the user asked twice.

Only the CLI installs the handlers (`handled`); a library user's own signal handling is left alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

#: The exit code for a signal, as a shell reports it (128 + number).
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}

_installed = False
_received: int | None = None
#: The signals `handled()` routes: those the parent did not set to SIG_IGN (`nohup`, a shell's `cmd &`).
_routed: tuple[int, ...] = ()


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so it unwinds like Ctrl-C."""

    signum = signal.SIGTERM


class JobInterrupted(KeyboardInterrupt):
    """A shard job stopped by a signal; what it had committed is kept. Raised by the runners."""

    def __init__(self, signum: int, committed: int, total: int, output: str, stage: str | None = None):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum, self.committed, self.total, self.output, self.stage = signum, committed, total, output, stage

    def line(self) -> str:
        """What the CLI prints: what is kept, and how to finish."""
        left = self.total - self.committed
        during = f" during the {self.stage} pass" if self.stage else ""
        rest = (f"run the same command again to do the other {left} (committed shards are skipped)" if left
                else "nothing is left to do: run the same command again to write the job summary")
        return (f"interrupted by {signal.Signals(self.signum).name}{during}: {self.committed} of {self.total} "
                f"shard(s) committed and kept in {self.output}; {rest}")


def signum_of(e: BaseException) -> int:
    """The signal behind an interrupt: SIGTERM for `Terminated`, a `JobInterrupted`'s own, else the one
    `_handle` received (Ray's C++ calls re-raise a signal's exception as a plain KeyboardInterrupt), else SIGINT."""
    return getattr(e, "signum", None) or _received or signal.SIGINT


def exit_code(e: BaseException) -> int:
    return EXIT_CODES.get(signum_of(e), 128 + int(signum_of(e)))


def _handle(signum, frame) -> None:
    global _received
    if _received is not None:  # asked twice: stop now
        os._exit(EXIT_CODES.get(signum, 128 + signum))
    _received = signum
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextlib.contextmanager
def handled():
    """SIGINT and SIGTERM routed to `_handle` inside the block (main thread only; elsewhere nothing
    changes), the previous handlers restored after it (a program or test calling `agiqa.cli.main`).
    A signal the parent process ignores stays ignored: a job started in the background or under `nohup`
    must not stop on the Ctrl-C meant for the shell's foreground job."""
    global _installed, _received, _routed
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.getsignal(s) for s in EXIT_CODES}
    _routed = tuple(s for s, h in before.items() if h is not signal.SIG_IGN)
    for s in _routed:
        signal.signal(s, _handle)
    _installed, _received = True, None
    try:
        yield
    finally:
        for s, h in before.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        _installed, _routed = False, ()


def reinstall() -> None:
    """Put the handlers back after a library replaced them (`ray.init` sets its own SIGTERM handler);
    nothing outside `handled()`."""
    if _installed and threading.current_thread() is threading.main_thread():
        for s in EXIT_CODES:  # an ignored one stays ignored, whatever the library set
            signal.signal(s, _handle if s in _routed else signal.SIG_IGN)
