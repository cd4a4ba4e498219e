"""`make bench`: algorithm timings, then the service over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import platform

from bench import algorithms, http


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    print(f"# {platform.node()}: Python {platform.python_version()}, {platform.machine()}\n")
    print("| algorithm | median ms |\n|---|---|")
    for name, seconds in algorithms.run():
        print(f"| {name} | {seconds * 1000:,.1f} |")
    if args.skip_http:
        return
    print("\n| scenario | database | req/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|")
    for result in http.run(args.backends.split(","), concurrency=args.concurrency,
                           seconds=args.seconds):  # fmt: skip
        print(result.line(), flush=True)


if __name__ == "__main__":
    main()
