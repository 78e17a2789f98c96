"""One deadline for a whole run, and work that must finish before it.

``--timeout`` bounds the run, not each socket operation: a per-operation
timeout restarts on every byte, so a server that drips its answer one byte a
second, or twenty URLs on a silent host, would take many times ``--timeout``.
A :class:`Deadline` is fixed when the run starts; every step asks it how much
time remains.

:func:`run_before` runs tasks in daemon threads, at most ``workers`` at once,
and waits for them only until the deadline: a task stuck where no timeout
reaches (a DNS lookup) is abandoned, never waited for, and never keeps the
process alive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["Deadline", "Outcome", "run_before"]


class Deadline:
    """A moment on the monotonic clock, ``seconds`` after it was made."""

    def __init__(self, seconds: float) -> None:
        #: The budget as given (for messages: "within the 5 s --timeout").
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        """Whether the moment has passed."""
        return time.monotonic() >= self.at

    def share(self, fraction: float, cap: float) -> Deadline:
        """A deadline for one kind of work: ``fraction`` of the time left, at most ``cap``.

        What remains is kept for the steps after it (a handshake after the
        caIssuers downloads). Messages still name the run's timeout.
        """
        part = Deadline(min(cap, self.remaining() * fraction))
        part.seconds = self.seconds
        return part

    def ran_out(self) -> str:
        """Words for "this did not finish in time"."""
        return f"before the {self.seconds:g} s timeout ran out"

    def __repr__(self) -> str:
        return f"Deadline({self.seconds:g} s, {self.remaining():.2f} s left)"


@dataclass(slots=True)
class Outcome(Generic[T]):
    """What one task came to: a value, an exception, or nothing before the deadline."""

    finished: bool = False
    value: T | None = None
    error: BaseException | None = None

    def result(self) -> T:
        """The value, or the task's exception raised again."""
        if self.error is not None:
            raise self.error
        assert self.finished, "the task did not finish before the deadline"
        return self.value  # type: ignore[return-value]


def run_before(
    deadline: Deadline, tasks: Sequence[Callable[[], T]], *, workers: int = 8
) -> list[Outcome[T]]:
    """Run ``tasks`` concurrently (at most ``workers`` at a time) until ``deadline``.

    Returns one :class:`Outcome` per task, in order. A task not finished when
    the deadline passes is reported unfinished and left to die on its own (its
    thread is a daemon); a task not started by then is never started.
    """
    outcomes: list[Outcome[T]] = [Outcome() for _ in tasks]
    if not tasks:
        return outcomes
    lock = threading.Lock()
    all_done = threading.Event()
    pending = list(range(len(tasks)))
    pending.reverse()
    remaining = [len(tasks)]

    def worker() -> None:
        while True:
            with lock:
                if not pending or deadline.expired():
                    return
                index = pending.pop()
            outcome: Outcome[T] = Outcome()
            try:
                outcome.value = tasks[index]()
                outcome.finished = True
            except BaseException as exc:  # handed to the caller, who decides
                outcome.error = exc
                outcome.finished = True
            with lock:
                outcomes[index] = outcome
                remaining[0] -= 1
                if remaining[0] == 0:
                    all_done.set()

    for _ in range(min(workers, len(tasks))):
        threading.Thread(target=worker, name="mtls-doctor-fetch", daemon=True).start()
    all_done.wait(deadline.remaining())
    with lock:
        return [Outcome(o.finished, o.value, o.error) for o in outcomes]
