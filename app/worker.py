"""A long check run in a process of its own, at a lower priority: `python -m app.worker`.

A gradient check or a cost slice near its work cap is tens of seconds of small numpy calls, so
in a thread it would hold the interpreter for most of that time, and on a machine of two
cores it would also take the CPU from the clients. In a child process at `nice` 10 it uses
what the server and the clients leave.

stdin: pickled (fn, args) from app.session.work.in_worker. stdout: lines `progress DONE TOTAL`
at most every PROGRESS_EVERY seconds, then `result N` and N bytes: pickled ("ok", value) or
("error", exception).
"""

import os
import pickle
import sys
import time
from typing import Any

NICE = 10
PROGRESS_EVERY = 0.1  # seconds; the parent relays and checks for `pause` at these


def main() -> None:
    try:
        os.nice(NICE)
    except OSError:  # not allowed here: run at the server's priority
        pass
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

    try:
        answer: tuple[str, Any] = ("ok", fn(*args, tick))
    except Exception as e:  # handed to the parent, which raises it
        answer = ("error", e)
    data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(b"result %d\n" % len(data))
    out.write(data)
    out.flush()


if __name__ == "__main__":
    main()
