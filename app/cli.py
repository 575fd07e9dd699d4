"""`deltaflow serve` runs the app; `deltaflow trace` writes a run's events as JSON Lines."""

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from app import scenario as sc
from app.nn import guard
from app.protocol import encode

TRACE_TYPES = ["batch", "forward", "output_error", "backward", "update", "epoch"]
MAX_TRACE_STEPS = 10_000_000
MAX_WORKERS = 64


def load_document(ref: str) -> dict[str, Any]:
    """A scenario file's document, or a preset's when `ref` names one and no such file exists."""
    path = Path(ref)
    if path.is_file():
        try:
            doc = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise sc.ScenarioError(f"{ref}: not valid JSON: {e}") from None
        if not isinstance(doc, dict):
            raise sc.ScenarioError(f"{ref}: a scenario must be a JSON object")
        return doc
    if ref in sc.preset_names():
        return sc.preset(ref)
    raise sc.ScenarioError(f"{ref}: no such file, and no preset of that name ({', '.join(sc.preset_names())})")


def trace(doc: dict[str, Any], steps: int | None = None, epochs: int | None = None) -> Iterator[dict[str, Any]]:
    """The events of a run from step 0, as the live server streams them.

    Every step passes the divergence guard (app/nn/guard.py): the first step that leaves the
    finite numbers is not written, and guard.Diverged names it and what went non-finite.
    """
    t = sc.build(sc.parse(doc)).trainer
    yield t.epoch_event()
    bad = guard.fault(t)
    if bad is not None:
        raise guard.Diverged(0, *bad, already=True)
    while (steps is not None and t.step_count < steps) or (epochs is not None and t.epochs_done < epochs):
        yield from guard.step(t, trace=True)


def compare(
    doc_a: dict[str, Any], doc_b: dict[str, Any], steps: int | None = None, epochs: int | None = None
) -> Iterator[dict[str, Any]]:
    """The paired curves of two runs in lockstep: one row per step from step 0.

    Run b takes its network, initial weights, optimizer, batch size and regularization from
    `doc_b`, and from run a the data and the batch order, so both see the same examples in the
    same order. Each row has both runs' training and test losses and accuracies and `distance`,
    the norm of the difference of their parameters (null when their shapes differ). Raises
    ScenarioError when b does not fit a's data, RunDiverged when one run diverges.
    """
    a = sc.build(sc.parse(doc_a)).trainer
    b = sc.build(sc.parse(doc_b)).trainer
    if b.net.layers[0] != a.net.layers[0] or b.net.layers[-1] != a.net.layers[-1]:
        raise sc.ScenarioError(
            f"--compare: run b's layers {b.net.layers} need {a.net.layers[0]} inputs and "
            f"{a.net.layers[-1]} outputs to train on run a's data"
        )
    b.x, b.y, b.x_test, b.y_test = a.x, a.y, a.x_test, a.y_test
    b.shuffle, b.seed, b.task, b.threshold = a.shuffle, a.seed, a.task, a.threshold
    same = [p.shape for p in a.net.params] == [p.shape for p in b.net.params]
    for t, name in ((a, "a"), (b, "b")):
        bad = guard.fault(t)
        if bad is not None:
            raise RunDiverged(name, guard.Diverged(0, *bad, already=True))
    while True:
        ea, eb = a.epoch_event(), b.epoch_event()
        distance = None
        if same:
            distance = float(np.sqrt(sum(((p - q) ** 2).sum() for p, q in zip(a.net.params, b.net.params))))
        row: dict[str, Any] = {"step": a.step_count, "epoch_a": a.epochs_done, "epoch_b": b.epochs_done}
        for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
            row[f"{key}_a"], row[f"{key}_b"] = ea[key], eb[key]
        yield {**row, "distance": distance}
        if not ((steps is not None and a.step_count < steps) or (epochs is not None and a.epochs_done < epochs)):
            return
        for t, name in ((a, "a"), (b, "b")):
            try:
                guard.step(t, trace=False)
            except guard.Diverged as e:
                raise RunDiverged(name, e) from None


class RunDiverged(Exception):
    """One of two compared runs diverged: which (`run`), and how (`diverged`)."""

    def __init__(self, run: str, diverged: guard.Diverged) -> None:
        super().__init__(f"run {run}: {diverged_text(diverged)}")
        self.run, self.diverged = run, diverged


def diverged_text(e: guard.Diverged) -> str:
    """The CLI's one line for a divergence: the first bad step, what went non-finite, where it stopped."""
    if e.already:
        return f"training cannot start: at step {e.step} {e.what} is already {e.kind}"
    return f"training diverged at step {e.step}: it makes {e.what} {e.kind}; stopped after step {e.step - 1}"


def _types(arg: str) -> set[str]:
    kinds = {k.strip() for k in arg.split(",") if k.strip()}
    unknown = kinds - set(TRACE_TYPES)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown event type(s) {', '.join(sorted(unknown))}; choose from {', '.join(TRACE_TYPES)}"
        )
    return kinds


def _count(arg: str) -> int:
    n = int(arg)
    if not 1 <= n <= MAX_TRACE_STEPS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_TRACE_STEPS}")
    return n


def _root_path(arg: str) -> str:
    from app.web.security import normalize_root_path

    try:
        return normalize_root_path(arg)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def write_worksheet(ref: str, step: int, output: str) -> int:
    from app.web import worksheet

    try:
        doc = load_document(ref)
        html = worksheet.render(doc, step, Path(ref).stem)
    except (sc.ScenarioError, worksheet.WorksheetError) as e:
        print(f"deltaflow: cannot make the worksheet: {e}", file=sys.stderr)
        return 2
    Path(output).write_text(html, encoding="utf-8")
    return 0


def _workers(arg: str) -> int:
    n = int(arg)
    if not 1 <= n <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_WORKERS}")
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deltaflow", description="An interactive visualizer of backpropagation.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the app (default http://127.0.0.1:8000)")
    serve.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.add_argument(
        "--root-path", type=_root_path, default=None, help="URL prefix behind a reverse proxy, e.g. /deltaflow"
    )
    serve.add_argument("--lessons", default=None, help="a folder of extra lessons (*.toml), checked at start")
    ws = sub.add_parser("worksheet", help="write a printable worksheet of one step, with its answer key")
    ws.add_argument("scenario", help="a scenario JSON file, or a preset name")
    ws.add_argument("--step", type=_count, default=1, help="the step to work by hand, as trace numbers it (default 1)")
    ws.add_argument("-o", "--output", required=True, help="the HTML file to write")
    serve.add_argument(
        "--workers", type=_workers, default=1, help="worker processes sharing rooms through Redis (needs --redis)"
    )
    serve.add_argument("--redis", default=None, help="Redis URL for rooms across workers and hosts (redis://HOST:PORT)")
    tr = sub.add_parser("trace", help="run a scenario headless and write its events as JSON Lines")
    tr.add_argument("scenario", help="a scenario JSON file, or a preset name")
    how = tr.add_mutually_exclusive_group(required=True)
    how.add_argument("--steps", type=_count, help="run this many steps")
    how.add_argument("--epochs", type=_count, help="run this many epochs")
    tr.add_argument("--events", type=_types, default=None, help="keep only these types, e.g. forward,backward")
    tr.add_argument(
        "--compare",
        metavar="B",
        default=None,
        help="a second scenario (file or preset) trained in lockstep on the first one's batches: "
        "write the paired curves, one row per step",
    )
    args = parser.parse_args(argv)

    if args.command == "serve":
        from app.lessons import LessonError
        from app.web.main import run

        extra = {"lessons_dir": args.lessons} if args.lessons else {}
        try:
            run(
                host=args.host,
                port=args.port,
                root_path=args.root_path,
                workers=args.workers,
                redis_url=args.redis,
                **extra,
            )
        except LessonError as e:
            print(f"deltaflow: invalid lesson: {e}", file=sys.stderr)
            return 2
        except ValueError as e:  # --workers without Redis
            print(f"deltaflow: {e}", file=sys.stderr)
            return 2
        return 0
    if args.command == "worksheet":
        return write_worksheet(args.scenario, args.step, args.output)
    try:
        doc = load_document(args.scenario)
        out = sys.stdout.buffer
        if args.compare is not None:
            if args.events is not None:
                parser.error("--events does not apply to --compare, which writes curve rows")
            for row in compare(doc, load_document(args.compare), args.steps, args.epochs):
                out.write(encode(row) + b"\n")
            out.flush()
            return 0
        for event in trace(doc, args.steps, args.epochs):
            if args.events is None or event["type"] in args.events:
                out.write(encode(event) + b"\n")
        out.flush()
    except sc.ScenarioError as e:
        print(f"deltaflow: invalid scenario: {e}", file=sys.stderr)
        return 2
    except RunDiverged as e:
        sys.stdout.flush()
        print(f"deltaflow: {e}", file=sys.stderr)
        return 3
    except guard.Diverged as e:
        sys.stdout.flush()
        print(f"deltaflow: {diverged_text(e)}", file=sys.stderr)
        return 3
    except BrokenPipeError:  # e.g. piped into head
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
