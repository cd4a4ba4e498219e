"""Render workflow definitions as Markdown (docs/workflows.md is generated from this)."""

from __future__ import annotations

from workflows.definition import Workflow


def _timer_text(days: int | None, days_from: str | None, working: bool) -> str:
    unit = "working days" if working else "days"
    return f"{days} {unit}" if days is not None else f"`{days_from}` {unit}"


def markdown(workflows: list[Workflow]) -> str:
    out = [
        "# Workflows",
        "",
        "Generated from the definitions in `workflows/` by `facility workflows describe`; "
        "a test fails when this file is out of date.",
        "",
    ]
    for wf in workflows:
        out += [f"## {wf.name}", "", wf.description, "", f"Initial state: `{wf.initial}`.", ""]
        out += ["| state | meaning | content editable | timers |", "|---|---|---|---|"]
        for s in wf.states:
            timers = "; ".join(
                f"after {_timer_text(t.days, t.days_from, t.working_days)}: `{t.trigger}`"
                for t in s.timers
            )
            name = f"`{s.name}`" + (" (terminal)" if s.terminal else "")
            out.append(f"| {name} | {s.description} | {'yes' if s.editable else ''} | {timers} |")
        out += ["", "| trigger | from | to | roles | guards | effects | event |"]
        out += ["|---|---|---|---|---|---|---|"]
        for t in wf.transitions:
            out.append(
                f"| `{t.trigger}` | {', '.join(t.sources)} | {t.dest} | "
                f"{', '.join(sorted(t.roles))} | {', '.join(t.guards)} | "
                f"{', '.join(t.effects)} | `{t.event}` |"
            )
        out.append("")
    return "\n".join(out)
