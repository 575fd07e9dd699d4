"""A Chromium trace of the page's main thread, summed by event: where the light page's busy time
goes (python -m benchmarks.page --trace). Self time is an event's duration less its children's,
on the renderer's main thread (`CrRendererMain`); each top-level task is also charged to the
first events inside it (a frame, a message, a timer, a canvas flush), so these add up to busy."""

from typing import Any

CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "disabled-by-default-devtools.timeline.frame",
    "toplevel",
    "blink",
    "cc",
]
COUNTED = ("ProxyMain::BeginMainFrame", "HandlePostMessage", "Paint", "Commit")
TOP = {"RunTask", "ThreadControllerImpl::RunTask", "ThreadPool_RunTask"}


def main_thread(events: list[dict[str, Any]]) -> tuple[int, int] | None:
    """(pid, tid) of the renderer's main thread that ran the most; None when the trace has none."""
    names = [
        (e["pid"], e["tid"]) for e in events if e.get("ph") == "M" and e.get("args", {}).get("name") == "CrRendererMain"
    ]
    if not names:
        return None
    busy = {k: 0.0 for k in names}
    for e in events:
        k = (e.get("pid"), e.get("tid"))
        if k in busy and e.get("ph") == "X" and e.get("name") in TOP:
            busy[k] += e.get("dur", 0)
    return max(busy, key=lambda k: busy[k])


def summarize(events: list[dict[str, Any]], wall_ms: float, n: int = 14) -> dict[str, Any]:
    """{"self": [(event, ms per second)], "tasks": [(the first event inside a task, ms per second)],
    "busy": share of wall time in top-level tasks}, largest first."""
    who = main_thread(events)
    if who is None:
        return {"self": [], "tasks": [], "busy": None}
    # complete events only (ph X), which is what the timeline categories record on this thread
    xs = sorted(
        (e for e in events if (e.get("pid"), e.get("tid")) == who and e.get("ph") == "X" and "dur" in e),
        key=lambda e: (e["ts"], -e["dur"]),
    )
    selfs: dict[str, float] = {}
    tasks: dict[str, float] = {}
    busy = 0.0
    stack: list[list[Any]] = []  # [event, children's time, time per child name]

    def close(item: list[Any]) -> None:
        e, kids, _ = item
        selfs[e["name"]] = selfs.get(e["name"], 0.0) + e["dur"] - kids
        if stack:
            parent = stack[-1]
            parent[1] += e["dur"]
        if e["name"] in TOP and not stack:
            nonlocal busy
            busy += e["dur"]
            tasks["(the task itself)"] = tasks.get("(the task itself)", 0.0) + e["dur"] - item[2].get("kids", 0.0)

    # each top-level task, charged to the first events inside it that are not task wrappers
    # (a frame, a message, a timer, a canvas flush, a GC); what is left is the task's own
    for e in xs:
        while stack and e["ts"] >= stack[-1][0]["ts"] + stack[-1][0]["dur"]:
            close(stack.pop())
        if stack and all(item[0]["name"] in TOP for item in stack) and e["name"] not in TOP:
            tasks[e["name"]] = tasks.get(e["name"], 0.0) + e["dur"]
            stack[0][2]["kids"] = stack[0][2].get("kids", 0.0) + e["dur"]
        stack.append([e, 0.0, {}])
        if len(stack) == 1 and e["name"] in TOP:
            stack[0][2]["top"] = True
    while stack:
        close(stack.pop())
    per_s = 1000.0 / wall_ms / 1000.0  # µs over the window -> ms per second
    return {
        "self": sorted(((k, v * per_s) for k, v in selfs.items()), key=lambda kv: -kv[1])[:n],
        "tasks": sorted(((k, v * per_s) for k, v in tasks.items()), key=lambda kv: -kv[1])[:n],
        "busy": busy / 1000.0 / wall_ms,
        "count": {k: sum(1 for e in xs if e["name"] == k) for k in COUNTED},
    }
