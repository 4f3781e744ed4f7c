"""What each step found, and the two ways of telling it: lines for a person, JSON for a pipeline."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"  # a prerequisite failed
NOT_APPLICABLE = "n/a"  # the step does not apply to this stack (e.g. no production comparison on sandbox)

_MARKS = {PASSED: "✓", FAILED: "✗", SKIPPED: "-", NOT_APPLICABLE: "·"}


@dataclass(frozen=True)
class Outcome:
    """What one step found: ``reason`` says what was seen, ``fix`` what to do about a failure."""

    status: str
    reason: str
    fix: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def passed(reason: str, /, **details: Any) -> Outcome:
    return Outcome(PASSED, reason, details=details)


def failed(reason: str, fix: str, /, **details: Any) -> Outcome:
    return Outcome(FAILED, reason, fix, details=details)


def not_applicable(reason: str) -> Outcome:
    return Outcome(NOT_APPLICABLE, reason)


@dataclass(frozen=True)
class StepResult:
    number: int
    id: str
    title: str
    outcome: Outcome
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "id": self.id,
            "title": self.title,
            "status": self.outcome.status,
            "reason": self.outcome.reason,
            "fix": self.outcome.fix,
            "details": dict(self.outcome.details),
            "seconds": round(self.seconds, 2),
        }


@dataclass(frozen=True)
class Report:
    target: Mapping[str, Any]
    steps: Sequence[StepResult]

    @property
    def ok(self) -> bool:
        """Every step passed (or does not apply): the only case the command exits 0."""
        return all(step.outcome.status in (PASSED, NOT_APPLICABLE) for step in self.steps)

    def counts(self) -> dict[str, int]:
        counts = {PASSED: 0, FAILED: 0, SKIPPED: 0, NOT_APPLICABLE: 0}
        for step in self.steps:
            counts[step.outcome.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "target": dict(self.target),
            "counts": self.counts(),
            "steps": [step.to_json() for step in self.steps],
        }

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, default=str) + "\n"

    def summary(self) -> str:
        counts = self.counts()
        parts = [f"{counts[PASSED]} passed", f"{counts[FAILED]} failed", f"{counts[SKIPPED]} skipped"]
        if counts[NOT_APPLICABLE]:
            parts.append(f"{counts[NOT_APPLICABLE]} not applicable")
        verdict = "ready for go-live" if self.ok else "NOT ready for go-live: fix the ✗ steps above"
        return f"{'OK' if self.ok else 'FAILED'}: {', '.join(parts)}; {verdict}\n"


def step_line(step: StepResult) -> str:
    """``✓  3. refresh          a refreshed token ...`` plus an indented ``fix:`` line for a failure."""
    outcome = step.outcome
    line = f" {_MARKS[outcome.status]} {step.number:>2}. {step.title:<28} {outcome.reason}  [{step.seconds:.1f} s]\n"
    if outcome.fix:
        line += f"      fix: {outcome.fix}\n"
    return line


def header_lines(target: Mapping[str, Any]) -> str:
    described = ", ".join(f"{key} {value}" for key, value in target.items() if key != "name" and value)
    return f"Pay1st go-live check: {target.get('name')} ({described})\n"
