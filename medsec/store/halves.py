"""A list's work in two processes: the first half here, the later half in a forked one
(`medsec check`: reading every record is Python work that takes ~15 s of one CPU at a
million appointments, about half that on two)."""

import os
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

from medsec.errors import EnvironmentFailure

# From SPLIT_FROM files on (a kind's shards, its index files) a forked process reads the
# later half while this one reads the first (`in_halves`): ~300 MB between the two processes
# (proportional set size; one process alone: ~210 MB). A thousand files hold 15,000
# appointments or 100,000 patients, or the index entries of ~30,000 records; a fork costs
# a few milliseconds.
SPLIT_FROM = 1000
T = TypeVar("T")
R = TypeVar("R")


def in_halves(items: list[T], work: Callable[[list[T]], Iterator[R]]) -> Iterator[R]:
    """What `work(items)` yields. From SPLIT_FROM items on (on two CPUs), the first half's
    worked on here while a forked process works on the later half (`_Forked`), and the
    later half's yielded after the first's: the same items in the same order."""
    if len(items) < SPLIT_FROM or not _two_cpus():
        yield from work(items)
        return
    half = len(items) // 2
    with _Forked(lambda: work(items[half:])) as later:
        yield from work(items[:half])
        yield from later.items


def _two_cpus() -> bool:
    """Whether this process may run on two CPUs. Only where the scheduler says which (Linux):
    elsewhere a check is one process, as fork is not safe everywhere (macOS)."""
    return hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1


class _Forked:
    """A generator run in a forked process while this one goes on; `with` ends and waits for
    that process on the way out. `items` yields here what it yields there, then raises what
    it raised; a process that ends before it said so raises EnvironmentFailure.

    Forked, the process starts with this one's state (the lock held, the patients read):
    it only reads, and sends back what it found.
    """

    def __init__(self, work: Callable[[], Iterator[Any]]):
        import multiprocessing  # only a check of a big directory forks

        context = multiprocessing.get_context("fork")
        self._receiver, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_send_all, args=(work, sender))
        self._process.start()
        sender.close()
        self._done = False
        self.items = self._received()

    def _received(self) -> Iterator[Any]:
        while True:
            try:
                item = self._receiver.recv()
            except EOFError:
                self._process.join()
                raise EnvironmentFailure("a process of 'medsec check' ended before it said what it found "
                                         f"(exit code {self._process.exitcode})") from None
            if isinstance(item, _Sent):
                self._done = True
                if item.error is not None:
                    raise item.error
                return
            yield item

    def __enter__(self) -> "_Forked":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:  # this process failed first: the other's findings are not wanted
            self._process.terminate()
        self._process.join()
        self._receiver.close()


class _Sent(NamedTuple):
    """A forked process's last message (`_Forked`): what it raised, if anything."""

    error: BaseException | None


def _send_all(work: Callable[[], Iterator[Any]], sender: Any) -> None:
    """A forked process's body: each item `work` yields, then `_Sent`."""
    try:
        for item in work():
            sender.send(item)
        end = _Sent(None)
    except BaseException as e:  # raised again in the parent, with where it was raised here
        import traceback

        e.add_note(f"raised in a forked process of 'medsec check':\n{traceback.format_exc()}")
        end = _Sent(e)
    try:
        sender.send(end)
    except Exception:  # an error that does not pickle: its words
        sender.send(_Sent(EnvironmentFailure(f"'medsec check' failed: {end.error!r}")))
