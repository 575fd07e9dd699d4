"""`deltaflow serve` runs the app; `deltaflow trace` writes a run's events as JSON Lines."""

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    args = parser.parse_args(argv)

    if args.command == "serve":
        from app.web.main import run

        try:
            run(host=args.host, port=args.port, root_path=args.root_path, workers=args.workers, redis_url=args.redis)
        except ValueError as e:
            print(f"deltaflow: {e}", file=sys.stderr)
            return 2
        return 0
    try:
        doc = load_document(args.scenario)
        out = sys.stdout.buffer
        for event in trace(doc, args.steps, args.epochs):
            if args.events is None or event["type"] in args.events:
                out.write(encode(event) + b"\n")
        out.flush()
    except sc.ScenarioError as e:
        print(f"deltaflow: invalid scenario: {e}", file=sys.stderr)
        return 2
    except guard.Diverged as e:
        sys.stdout.flush()
        print(f"deltaflow: {diverged_text(e)}", file=sys.stderr)
        return 3
    except BrokenPipeError:  # e.g. piped into head
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
