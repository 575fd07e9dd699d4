"""The long fuzz run: `python -m tests.fuzz.run --messages 100000` prints the figures that
docs/reliability.md records, and exits 1 if any check failed."""

import argparse
import sys
import time

from tests.fuzz.harness import Figures, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fuzz the websocket protocol and print the figures.")
    parser.add_argument("--messages", type=int, default=100_000, help="about how many messages to send")
    parser.add_argument("--steps", type=int, default=50, help="messages per session at most")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    def progress(f: Figures, rss: float) -> None:
        print(f"  {f.messages:>7} messages, {time.perf_counter() - start:6.0f} s, RSS {rss:6.1f} MiB", file=sys.stderr)

    f, rss = run(args.messages, strict=False, steps=args.steps, progress=progress)
    warm = next((r for n, r in rss if n >= args.messages // 10), rss[-1][1])  # after a tenth of the run
    rows = [
        ("messages", f.messages),
        ("  valid commands", f.kinds["valid"]),
        ("  mutated commands", f.kinds["mutated"]),
        ("  garbage", f.kinds["garbage"]),
        ("rejected (answered by error)", f.rejected),
        ("  of them refused under any parsing rules", f.must_reject),
        ("  of those answered by error", f.errors_answered),
        ("  closed for size (1009), session kept", f.closed),
        ("accepted messages that changed the state", f.state_changes),
        ("rejected messages that changed the state", sum("state changed" in v for v in f.violations)),
        ("internal errors", f.internal),
        ("server errors (drops, exceptions, error logs)", f.server_errors),
        ("RSS before (MiB)", f"{rss[0][1]:.1f}"),
        ("RSS after a tenth of the run (MiB)", f"{warm:.1f}"),
        ("RSS after (MiB)", f"{rss[-1][1]:.1f}"),
        ("seconds", f"{time.perf_counter() - start:.0f}"),
    ]
    for name, value in rows:
        print(f"{name:<48} {value}")
    for v in f.violations[:20]:
        print("VIOLATION", v)
    return 1 if f.violations or f.internal or f.server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
