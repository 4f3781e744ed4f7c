"""The checklist as data: the steps in order, each with its prerequisites; run them, skipping what cannot run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from go_live import partner_steps, placeholder_steps, refund_check, steps
from go_live.compare import production_configuration
from go_live.context import Check
from go_live.report import FAILED, PASSED, SKIPPED, Outcome, Report, StepResult, failed
from go_live.webhook import webhook_arrives

log = logging.getLogger("go_live")


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    run: Callable[[Check], Outcome]
    needs: tuple[str, ...] = ()


STEPS: tuple[Step, ...] = (
    Step("secret", "credentials secret", steps.credentials_secret),
    Step("token", "gateway token (§2)", steps.gateway_token, needs=("secret",)),
    Step("refresh", "token refresh (§3)", steps.gateway_refresh, needs=("token",)),
    Step("payment-methods", "payment methods (§6)", steps.payment_methods, needs=("token",)),
    Step("partner-api", "partner API reachable", partner_steps.partner_api),
    Step("create", "test payment created (§7)", partner_steps.create_payment, needs=("token", "partner-api")),
    Step("webhook", "webhook arrives (§10)", webhook_arrives, needs=("create",)),
    Step("callback", "callback reached (§11)", partner_steps.callback, needs=("create",)),
    Step("status", "status confirmed (§9)", partner_steps.status_confirmed, needs=("webhook",)),
    Step("fulfilment", "fulfilment delivered (§12)", partner_steps.fulfilment, needs=("status",)),
    Step("production-config", "production = staging config", production_configuration),
    Step("result-page", "result page is yours", placeholder_steps.result_page),
    Step("alarms", "alarms reach someone", placeholder_steps.alarm_subscription),
)


# --refund only (staging): after fulfilment, so the refund never meets the fulfilment of a refunded payment.
REFUND_STEP = Step("refund", "refund reference (§15)", refund_check.refund_reference, needs=("fulfilment",))


def steps_for(check: Check) -> tuple[Step, ...]:
    """The checklist for this run: with ``--refund``, the refund step after fulfilment."""
    if not check.options.refund:
        return STEPS
    at = next(n for n, step in enumerate(STEPS) if step.id == "fulfilment") + 1
    return (*STEPS[:at], REFUND_STEP, *STEPS[at:])


def run(
    check: Check, *, on_step: Callable[[StepResult], None] | None = None, only: Sequence[Step] | None = None
) -> Report:
    """Every step in order (``only``, else :func:`steps_for`); one whose prerequisite did not pass is skipped,
    saying which and why."""
    results: dict[str, StepResult] = {}
    for number, step in enumerate(steps_for(check) if only is None else only, start=1):
        started = time.monotonic()
        blocking = [need for need in step.needs if need in results and results[need].outcome.status != PASSED]
        if blocking:
            first = results[blocking[0]]
            outcome = Outcome(
                SKIPPED, f"skipped: needs step {first.number} ({first.title}), which {_verb(first)}"
            )
        else:
            outcome = _guarded(step, check)
        result = StepResult(number, step.id, step.title, outcome, time.monotonic() - started)
        results[step.id] = result
        if on_step is not None:
            on_step(result)
    return Report(check.target.describe(), list(results.values()))


def _verb(result: StepResult) -> str:
    return "failed" if result.outcome.status == FAILED else "was skipped"


def _guarded(step: Step, check: Check) -> Outcome:
    """A step that raises is a failure naming the error's type (never its text: it might carry a secret)."""
    try:
        return step.run(check)
    except Exception as exc:  # one broken step must not hide the others' results
        log.debug("step %s raised", step.id, exc_info=True)
        return failed(
            f"the step raised {type(exc).__name__}",
            "run again with --debug for the traceback; report it if it persists",
        )
