"""How the check ends: what only Pay1st can confirm (contract §17), as a short list to send the Implementation
Manager, with what this run measured of it.

Measured here: the scheme Pay1st's payment webhook used (the webhook step) and, with ``--refund``, which
reference a refund took (the refund step). The rest no public page answers and no test can measure: the refund
query and list APIs and the chargeback APIs, the bodies of refund and chargeback webhooks, Pay1st's webhook
retry policy, its source addresses, its rate limits and the production API base. ``--json`` carries the same
list (``pay1stConfirmations``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from go_live.report import PASSED, Report, StepResult

MEASURED = "measured"
OPEN = "open"


@dataclass(frozen=True)
class Confirmation:
    topic: str
    status: str  # MEASURED (this run saw it) or OPEN (ask Pay1st)
    text: str

    def to_json(self) -> dict[str, str]:
        return {"topic": self.topic, "status": self.status, "text": self.text}


def _step(report: Report, step_id: str) -> StepResult | None:
    return next((step for step in report.steps if step.id == step_id), None)


def _webhook_scheme(report: Report) -> Confirmation:
    step = _step(report, "webhook")
    scheme = None if step is None else step.outcome.details.get("signatureScheme")
    if step is not None and step.outcome.status == PASSED and scheme:
        text = (
            f"Pay1st's payment webhook was signed with {scheme} (measured); confirm it uses the same scheme "
            "for refund and chargeback webhooks"
        )
        return Confirmation("webhook signature scheme (§10)", MEASURED, text)
    return Confirmation(
        "webhook signature scheme (§10)",
        OPEN,
        "which scheme Pay1st signs payment, refund and chargeback webhooks with (not measured: no webhook "
        "was authenticated in this run)",
    )


def _refund_reference(report: Report) -> Confirmation:
    step = _step(report, "refund")
    accepted = None if step is None else step.outcome.details.get("acceptedReference")
    topic = "refund reference (§15)"
    if accepted:
        return Confirmation(
            topic,
            MEASURED,
            f"refunds worked naming the payment by RefundTransactionReference={accepted} (measured); confirm it "
            "stays so in production",
        )
    if step is not None and "acceptedReference" in step.outcome.details:
        return Confirmation(topic, OPEN, "Pay1st refused both references here: which one does a refund name?")
    return Confirmation(
        topic,
        OPEN,
        "which reference a refund's transactionReference takes (the payment's C-…-P or a C-…-T transaction "
        "id) and where Pay1st sends transaction ids (not measured: run with --refund on staging)",
    )


def confirmations(report: Report, parameters: Mapping[str, str]) -> list[Confirmation]:
    """The §17 list, measured items first as they came, then the questions still open."""
    budget = parameters.get("StatusQueriesPerSecond", "5")
    return [
        _webhook_scheme(report),
        _refund_reference(report),
        Confirmation(
            "refund and chargeback APIs (§15, §16)",
            OPEN,
            "the paths, bodies and statuses of the refund query, the refund list by transaction, and the "
            "chargeback list, details and evidence APIs; the bodies of refund and chargeback webhooks",
        ),
        Confirmation(
            "webhook retry policy (§10)",
            OPEN,
            "how many times and for how long Pay1st retries a webhook, and how fast it expects a 2xx",
        ),
        Confirmation(
            "source IPs",
            OPEN,
            "the addresses Pay1st's webhooks come from (for an allow-list); a status page or SLA",
        ),
        Confirmation(
            "rate limits",
            OPEN,
            f"the rate limits per partner (this stack's StatusQueriesPerSecond is {budget}: it must stay below)",
        ),
        Confirmation(
            "production API base (§14)",
            OPEN,
            "the production API base URL (some material adds an /api suffix; our paths start with /api/pay1st)",
        ),
    ]


def confirmations_text(items: Sequence[Confirmation]) -> str:
    """The closing list, as a person would paste it into an e-mail to the Implementation Manager."""
    lines = ["", "What only Pay1st can confirm (send this to your Pay1st Implementation Manager):"]
    for number, item in enumerate(items, start=1):
        mark = "measured" if item.status == MEASURED else "ask"
        lines.append(f" {number}. [{mark}] {item.topic}: {item.text}")
    return "\n".join(lines) + "\n"


def with_confirmations(document: Mapping[str, Any], items: Sequence[Confirmation]) -> dict[str, Any]:
    """The report's JSON with the list (``pay1stConfirmations``)."""
    return {**document, "pay1stConfirmations": [item.to_json() for item in items]}
