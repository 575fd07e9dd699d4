"""A long check run in a process of its own, at a lower priority: `python -m app.worker`.

A gradient check or a cost slice near its work cap is tens of seconds of small numpy calls, so
in a thread it would hold the interpreter for most of that time, and on a machine of two
cores it would also take the CPU from the clients. In a child process at the idle priority
(SCHED_IDLE) it uses what the server and the clients leave.

stdin: pickled (fn, args) from app.session.work.in_worker. stdout: lines `progress DONE TOTAL`
at most every PROGRESS_EVERY seconds, then `result N` and N bytes: pickled ("ok", value) or
("error", exception).

`python -m app.worker serve` is a warm replica instead (app/session/replica.py): it answers
requests until stdin closes, and keeps the large arrays it is sent (a run's data) so that
each request carries only what changed. A request is a line `P N`, then P bytes of pickled
{token: array} to keep and N bytes of pickled (fn, args), whose kept arrays are persistent
ids (tokens). The answer is a line `N` and N bytes: pickled ("ok", value), ("error",
exception), or ("missing", None) when a token is no longer kept (the parent sends them all);
kept arrays in it are their tokens too.
"""

import functools
import io
import os
import pickle
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

NICE = 10
PROGRESS_EVERY = 0.1  # seconds; the parent relays and checks for `pause` at these
KEPT_BYTES = 256 * 2**20  # a replica's kept arrays; the least recently used go first


def _nice() -> None:
    """The lowest priority there is: SCHED_IDLE, which any thread that wakes preempts at once.
    At `nice` 10 the waking event loop waited out this child's time slice (EEVDF), and another
    client's step round trip doubled (docs/performance.md). Else `nice` NICE."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):  # not Linux, or not allowed here
        pass
    try:
        os.nice(NICE)
    except OSError:  # not allowed either: run at the server's priority
        pass


class _Missing(Exception):
    pass


class _Loader(pickle.Unpickler):
    def __init__(self, data: bytes, kept: "OrderedDict[int, Any]") -> None:
        super().__init__(io.BytesIO(data))
        self.kept = kept

    def persistent_load(self, token: Any) -> Any:
        if token not in self.kept:
            raise _Missing
        self.kept.move_to_end(token)
        return self.kept[token]


def serve() -> None:
    """Answer requests from the parent until it closes stdin (see the module's docstring)."""
    _nice()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    kept: OrderedDict[int, Any] = OrderedDict()
    while head := inp.readline():
        p, n = map(int, head.split())
        kept.update(pickle.loads(inp.read(p)))  # from our own parent
        while len(kept) > 1 and sum(a.nbytes for a in kept.values()) > KEPT_BYTES:
            kept.popitem(last=False)
        _reply(out, b"%d\n", functools.partial(_run, inp.read(n), kept), kept)


def _run(request: bytes, kept: "OrderedDict[int, Any]") -> Any:
    fn, args = _Loader(request, kept).load()
    return fn(*args)


def main() -> None:
    _nice()
    fn, args = pickle.loads(sys.stdin.buffer.read())  # from our own parent
    out = sys.stdout.buffer
    last = 0.0

    def tick(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY:
            last = now
            out.write(b"progress %d %d\n" % (done, total))
            out.flush()

    _reply(out, b"result %d\n", lambda: fn(*args, tick))


class _Dumper(pickle.Pickler):
    """A pickle whose kept arrays are their tokens: the parent has them (a run built here
    sends back its data as tokens, not megabytes)."""

    def __init__(self, file: io.BytesIO, kept: "OrderedDict[int, Any]") -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.tokens = {id(a): token for token, a in kept.items()}  # kept alive by `kept`

    def persistent_id(self, obj: Any) -> Any:
        return self.tokens.get(id(obj))


def _reply(out: Any, head: bytes, call: Callable[[], Any], kept: "OrderedDict[int, Any] | None" = None) -> None:
    """call()'s answer for the parent: `head` with its length, then its pickle (with the
    `kept` arrays as their tokens)."""
    try:
        answer: tuple[str, Any] = ("ok", call())
    except _Missing:
        answer = ("missing", None)
    except Exception as e:  # handed to the parent, which raises it
        answer = ("error", e)
    body = io.BytesIO()
    _Dumper(body, kept or OrderedDict()).dump(answer)
    data = body.getbuffer()
    out.write(head % len(data))
    out.write(data)
    out.flush()


if __name__ == "__main__":
    serve() if sys.argv[1:] == ["serve"] else main()
