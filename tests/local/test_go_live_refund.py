"""The go-live check's ``--refund`` (§15, §17, issue 25): it refunds its own test payment on staging and says
which reference Pay1st accepted; the closing list carries what it measured, in text and in ``--json``."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from go_live.__main__ import check_target
from go_live.context import Options
from go_live.local_target import target_of
from go_live.open_questions import confirmations, confirmations_text
from go_live.report import Report
from go_live.runner import STEPS, steps_for
from local_stack.stack import LocalStack

from tests.local.local_kit import running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory, "go-live-refund", event_sources=True) as running:
        yield running


def checked(stack: LocalStack, sandbox_reference: str) -> dict[str, Any]:
    """The check with --refund (JSON) while the sandbox looks refunds up by ``sandbox_reference``."""
    assert stack.sandbox is not None
    stack.sandbox.control.set_faults(refund_reference=sandbox_reference)
    out, err = io.StringIO(), io.StringIO()
    options = Options(countries=("ZA",), refund=True, poll_interval=0.5)
    check_target(target_of(stack), options, as_json=True, out=out, err=err)
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def step(result: dict[str, Any], step_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in result["steps"] if s["id"] == step_id)
    return found


def test_refund_accepted_under_the_stacks_reference_is_measured(stack: LocalStack) -> None:
    """Given Pay1st (the sandbox) taking the payment's reference and the stack on the default, when the check
    runs with --refund, then the refund step passes naming payment-reference, and the JSON's closing list says
    refunds worked with it (measured)."""
    result = checked(stack, "payment")
    refund = step(result, "refund")
    assert refund["status"] == "passed", refund
    assert "Pay1st accepted the refund naming the payment's reference (C-…-P)" in refund["reason"]
    assert refund["details"]["acceptedReference"] == "payment-reference"
    ids = [s["id"] for s in result["steps"]]
    assert ids[ids.index("fulfilment") + 1] == "refund"  # after fulfilment, before the configuration checks
    listed = {item["topic"]: item for item in result["pay1stConfirmations"]}
    assert listed["refund reference (§15)"]["status"] == "measured"
    assert (
        "RefundTransactionReference=payment-reference (measured)" in listed["refund reference (§15)"]["text"]
    )
    assert listed["webhook signature scheme (§10)"]["status"] == "measured"
    assert listed["webhook retry policy (§10)"]["status"] == "open"
    assert result["ok"] is True


def test_a_refused_reference_names_the_one_pay1st_accepted(stack: LocalStack) -> None:
    """Given Pay1st wanting the transaction id and the stack on the default, when the check runs with --refund,
    then the refund step fails: the stack's reference was refused, the transaction id (tried at Pay1st
    directly) was accepted, and the fix is the parameter value to deploy."""
    result = checked(stack, "transaction")
    refund = step(result, "refund")
    assert refund["status"] == "failed", refund
    assert (
        refund["reason"].startswith("POST /payments/golive-")
        and "-> 422 refund_reference_refused: Pay1st refused the payment's reference (C-…-P)"
        in refund["reason"]
    )
    assert "it accepted the transaction id (C-…-T) C-" in refund["reason"]
    assert refund["fix"].startswith("deploy with RefundTransactionReference=transaction-id")
    assert refund["details"]["acceptedReference"] == "transaction-id"
    listed = {item["topic"]: item for item in result["pay1stConfirmations"]}
    assert "RefundTransactionReference=transaction-id (measured)" in listed["refund reference (§15)"]["text"]


def test_refunds_are_never_checked_on_production() -> None:
    """--refund on a production stack: the step does not apply (a refund there moves real money back)."""
    from go_live.context import Check
    from go_live.refund_check import refund_reference
    from go_live.target import Target

    target = Target(
        name="prod",
        local=False,
        parameters={"Environment": "production"},
        outputs={},
        read_secret=lambda: "{}",
        dynamodb=None,
        partner_api=None,
    )
    check = Check(target, Options(refund=True), progress=io.StringIO())
    outcome = refund_reference(check)
    assert outcome.status == "n/a" and "staging only" in outcome.reason
    assert [s.id for s in steps_for(check)].count("refund") == 1
    check.options.refund = False
    assert steps_for(check) == STEPS


def test_with_nothing_measured_every_item_is_a_question() -> None:
    items = confirmations(Report({"name": "x"}, []), {"StatusQueriesPerSecond": "3"})
    assert {item.status for item in items} == {"open"}
    text = confirmations_text(items)
    assert " 1. [ask] webhook signature scheme (§10): " in text
    assert "StatusQueriesPerSecond is 3" in text


class _Partner:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def refund(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


class _Gateway:
    def __init__(self, transaction_id: str | None, refuses: bool) -> None:
        self.transaction_id, self.refuses = transaction_id, refuses

    def get_payment(self, reference: str) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(reference=reference, transaction_id=self.transaction_id)

    def create_refund(self, request: Any) -> Any:
        from pay1st.errors import InvalidRequestError

        raise InvalidRequestError(
            400, "UNKNOWN_REFERENCE", "No transaction with this transactionReference.", None
        )


@pytest.mark.parametrize(
    ("error_code", "transaction_id", "reason", "accepted"),
    [
        (
            "refund_reference_refused",
            "C-9-T",
            "the transaction id (C-…-T) refused too (InvalidRequestError)",
            None,
        ),
        ("refund_reference_refused", None, "Pay1st's status answer carries no transaction id", None),
        ("payment_not_refundable", None, "-> 409 payment_not_refundable: nope", "absent"),
    ],
)
def test_what_the_refund_step_says_when_pay1st_takes_neither(
    error_code: str, transaction_id: str | None, reason: str, accepted: str | None
) -> None:
    from go_live.context import Check
    from go_live.refund_check import refund_reference
    from go_live.target import Target
    from pay1st_partner_client import error_for

    error = error_for(
        409 if error_code == "payment_not_refundable" else 422, {"code": error_code, "message": "nope"}, ""
    )
    target = Target("staging", False, {"Environment": "sandbox"}, {}, lambda: "{}", None, _Partner(error))  # type: ignore[arg-type]
    check = Check(target, Options(refund=True), progress=io.StringIO())
    check.client = _Gateway(transaction_id, refuses=True)  # type: ignore[assignment]
    check.payment = {"partnerReference": "golive-1", "reference": "C-9-P"}
    outcome = refund_reference(check)
    assert outcome.status == "failed" and reason in outcome.reason, outcome.reason
    if accepted == "absent":
        assert "acceptedReference" not in outcome.details
    else:
        assert outcome.details["acceptedReference"] is None
        assert "ask the Pay1st Implementation Manager" in (outcome.fix or "")
