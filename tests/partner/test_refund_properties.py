"""Property: after SUCCESSFUL, whatever mix of refunds, refund webhooks and reversals arrives, state and events
stay exactly-once (the refund and chargeback half of ``test_intake_properties``).

Hypothesis draws what the gateway's status query answers from now on (still SUCCESSFUL, or a REFUND or
CHARGEBACK), each refund's true path (PENDING → maybe PROCESSING → one final), and an interleaving of refund
requests, refund webhooks (duplicated, reordered, conflicting finals) and payment webhooks (a late SUCCESSFUL
or PENDING, REFUND, CHARGEBACK). After every step:

- the payment stays SUCCESSFUL, a reversal is recorded only when the gateway's status query bears it out;
- a refund's status only moves forward (by an order written here, not the code's own graph);
- the refunds never together exceed the payment, and a reversed payment has nothing refundable;

and at the end exactly one event was published per thing that happened (none twice), the outbox is empty,
and a reversed payment can be neither refunded nor fulfilled (one that is not can still be fulfilled).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pay1st.models import FulfilmentItem
from pay1st_partner import refund_state, state
from pay1st_partner.errors import DomainError, PaymentConflict
from pay1st_partner.events import EventPublisher
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.payments.reconcile import Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.refunds.repository import RefundRepository
from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore
from pay1st_partner.webhooks.auth import WebhookAuthenticator
from pay1st_partner.webhooks.event_store import WebhookEventStore
from pay1st_partner.webhooks.intake import WebhookIntake
from pay1st_partner.webhooks.refund_intake import RefundWebhookIntake

from tests.partner.helpers import (
    SIGNING_KEY,
    Clock,
    FakeGateway,
    created_payment,
    payment_request,
    signed_headers,
    webhook_body,
)

_references = itertools.count()
REFUND_AMOUNTS = (Decimal("50.00"), Decimal("100.00"), Decimal("150.50"))
FINALS = ("SUCCESSFUL", "FAILED", "REJECTED")
REFUND_RANK = {"CREATING": 0, "CREATE_UNKNOWN": 1, "PENDING": 2, "PROCESSING": 3} | dict.fromkeys(FINALS, 4)
# Each step: ("payment", status) a payment webhook; ("claim", i) refund i requested (and accepted by the
# gateway, PENDING); ("refund", i, status) a refund webhook for refund i.
Step = tuple[Any, ...]


# The interleavings that matter most, always tried: a late PENDING after PROCESSING, a duplicated final and a
# conflicting one; a chargeback the gateway confirms while a refund is open, then that refund succeeding.
LATE_DUPLICATE_AND_CONFLICTING: list[Step] = [
    ("claim", 0),
    ("refund", 0, "PROCESSING"),
    ("refund", 0, "PENDING"),
    ("refund", 0, "SUCCESSFUL"),
    ("refund", 0, "SUCCESSFUL"),
    ("refund", 0, "FAILED"),
    ("claim", 1),
    ("refund", 1, "REJECTED"),
]
CHARGEBACK_WHILE_A_REFUND_IS_OPEN: list[Step] = [
    ("claim", 2),
    ("payment", state.CHARGEBACK),
    ("payment", state.CHARGEBACK),
    ("refund", 2, "SUCCESSFUL"),
    ("claim", 0),
    ("payment", "SUCCESSFUL"),
    ("payment", state.REFUND),
]


@st.composite
def refund_scenarios(draw: st.DrawFn) -> tuple[str, list[list[str]], list[Step]]:
    truth = draw(st.sampled_from(["SUCCESSFUL", "SUCCESSFUL", state.REFUND, state.CHARGEBACK]))
    paths = []
    for _ in REFUND_AMOUNTS:
        final = draw(st.sampled_from(sorted(refund_state.FINAL_STATUSES)))
        paths.append(["PENDING", "PROCESSING", final] if draw(st.booleans()) else ["PENDING", final])
    index = st.integers(0, len(REFUND_AMOUNTS) - 1)
    refund_webhook = index.flatmap(
        lambda i: st.tuples(
            st.just("refund"),
            st.just(i),
            st.sampled_from(paths[i] + paths[i] + sorted(refund_state.FINAL_STATUSES)),
        )
    )
    step = st.one_of(
        st.tuples(st.just("claim"), index),
        refund_webhook,
        refund_webhook,
        st.tuples(
            st.just("payment"), st.sampled_from(["SUCCESSFUL", "PENDING", state.REFUND, state.CHARGEBACK])
        ),
    )
    claimed_first = draw(st.lists(index, min_size=1, max_size=2, unique=True))
    return truth, paths, [("claim", i) for i in claimed_first] + draw(st.lists(step, min_size=1, max_size=8))


def refund_webhook_body(partner_reference: str, reference: str, refund_reference: str, status: str) -> bytes:
    amount = REFUND_AMOUNTS[int(refund_reference.rsplit("-", 1)[1])]
    fields = {
        "partnerRefundReference": refund_reference,
        "transactionReference": reference,
        "refundReference": f"R-{refund_reference}",
        "amount": f"@@{amount}@@",
        "currencyCode": "ZAR",
        "status": status,
        "handlingType": "PSP_API",
    }
    return json.dumps(fields).replace(f'"@@{amount}@@"', str(amount)).encode()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=refund_scenarios())
@example(scenario=("SUCCESSFUL", [], LATE_DUPLICATE_AND_CONFLICTING))
@example(scenario=(state.CHARGEBACK, [], CHARGEBACK_WHILE_A_REFUND_IS_OPEN))
def test_refunds_and_reversals_never_regress_never_double_emit_and_end_refunds(
    aws: Any, scenario: tuple[str, list[list[str]], list[Step]]
) -> None:
    truth, _paths, steps = scenario
    partner_reference = f"prop-refund-{next(_references)}"
    reference = f"C-{partner_reference}-P"
    refund_references = [f"{partner_reference}-rf-{i}" for i in range(len(REFUND_AMOUNTS))]

    # Given a SUCCESSFUL payment of 250.50, and a gateway whose status query answers `truth` from now on
    clock = Clock()
    store = DynamoDBPaymentStore("PaymentsTable", client=aws.dynamodb)
    repo, refunds = PaymentRepository(store, clock=clock), RefundRepository(store, clock=clock)
    request = payment_request(partner_reference)
    repo.claim(request, fingerprint(request), None)
    repo.mark_created(partner_reference, created_payment(request, reference))
    gateway = FakeGateway()
    publisher = EventPublisher("pay1st-events", client=aws.events)
    reconciler = Reconciler(repo, gateway, publisher, reversals=refunds)
    paid = repo.get(partner_reference)
    assert paid is not None and reconciler.apply(paid, state.SUCCESSFUL, source="webhook").applied
    gateway.set(reference, truth, partner_reference=partner_reference)
    webhook_store = WebhookEventStore("WebhookEventsTable", client=aws.dynamodb, clock=clock)
    intake = WebhookIntake(
        store=webhook_store,
        payments=repo,
        reconciler=reconciler,
        signing_key=lambda: SIGNING_KEY,
        clock=clock,
    )
    refund_intake = RefundWebhookIntake(
        store=webhook_store,
        refunds=refunds,
        publisher=publisher,
        authenticator=WebhookAuthenticator(lambda: SIGNING_KEY, signature_required=True, clock=clock),
    )
    observed: dict[str, list[str]] = {}

    def check() -> None:
        record = refunds.get(partner_reference)
        assert record is not None and record.status == state.SUCCESSFUL  # paid stays paid
        # Only what the gateway bears out, or REFUND once our own refunds cover the amount (fully refunded by
        # our books, before Pay1st's reversal arrives: issue 21's guard).
        allowed = {truth} & state.REVERSAL_STATUSES
        if record.refunded_amount >= record.amount:
            allowed |= {state.REFUND}
        assert set(record.reversals) <= allowed
        assert record.refunded_amount <= record.amount and 0 <= record.refundable_amount <= record.amount
        counted = sum(
            (r.amount for r in record.refunds if refund_state.counts_against_payment(r.status)), Decimal(0)
        )
        assert counted <= record.amount
        if record.reversals:
            assert record.refundable_amount == 0
        for refund in record.refunds:
            seen = observed.setdefault(refund.refund_reference, [refund.status])
            if refund.status != seen[-1]:  # forward only, by an order written here (not the code's graph)
                assert REFUND_RANK[seen[-1]] < REFUND_RANK[refund.status], (seen, refund.status)
                seen.append(refund.status)

    # When the steps happen in the drawn order
    for step in steps:
        if step[0] == "claim":
            before = refunds.get(partner_reference)
            assert before is not None
            try:
                claim = refunds.claim(
                    partner_reference, refund_references[step[1]], REFUND_AMOUNTS[step[1]], None
                )
            except DomainError:
                # refused only for a reason: reversed, or more than is left (never for a first request otherwise)
                assert before.reversals or REFUND_AMOUNTS[step[1]] > before.refundable_amount
            else:
                assert not before.reversals or not claim.created  # a reversed payment takes no new refund
                if claim.created:  # the gateway accepted it: PENDING, as create_refund records it
                    transition = refunds.apply_status(
                        partner_reference,
                        claim.refund.refund_reference,
                        "PENDING",
                        source="create",
                        pay1st_refund_reference=f"R-{claim.refund.refund_reference}",
                        handling_type="PSP_API",
                    )
                    publisher.publish(list(transition.events), refunds)
        elif step[0] == "refund":
            body = refund_webhook_body(partner_reference, reference, refund_references[step[1]], step[2])
            refund_intake.handle(body, signed_headers(body, at=clock()))
        else:
            body = webhook_body(step[1], partner_reference=partner_reference, reference=reference)
            intake.handle(body, signed_headers(body, at=clock()))
        check()
        clock.advance(1)

    # Then every event was published once, exactly for what was reached
    published = Counter(
        event["detail"]["eventId"]
        for event in aws.published_events()
        if event["detail"]["partnerReference"] == partner_reference
    )
    assert set(published.values()) == {1}, published
    record = refunds.get(partner_reference)
    assert record is not None
    assert set(published) == _expected_event_ids(record)
    assert record.pending_event_ids == ()
    # And a reversed payment can be neither refunded nor fulfilled, nor can one our refunds cover (refunded
    # in full: reversed too); any other still can be fulfilled
    fulfilment = [FulfilmentItem("GEM-500", 1, clock())]
    if record.refunded_amount >= record.amount:
        assert "REFUND" in record.reversals
    if record.reversals:
        with pytest.raises(PaymentConflict) as refused:
            refunds.claim(partner_reference, f"{partner_reference}-late", None, None)
        assert refused.value.code == "payment_not_refundable"
    if record.reversals or record.refund_reserved >= record.amount:
        with pytest.raises(PaymentConflict) as refused:
            repo.record_fulfilment(partner_reference, fulfilment)
        assert refused.value.code in ("payment_refunded", "payment_charged_back")
    else:
        assert repo.record_fulfilment(partner_reference, fulfilment).fulfilment is not None


def _expected_event_ids(record: Any) -> set[str]:
    """The ids of every event ``record``'s history must have published: paid, its reversals, each refund's."""
    partner_reference = record.partner_reference
    expected = {f"{partner_reference}:SUCCESSFUL"} | {
        f"{partner_reference}:{kind}" for kind in record.reversals
    }
    for refund in record.refunds:
        prefix = f"{partner_reference}:refund:{refund.refund_reference}"
        expected.add(f"{prefix}:requested")
        if refund.status == refund_state.SUCCESSFUL:
            expected.add(f"{prefix}:succeeded")
        elif refund.status in refund_state.RELEASED_STATUSES:
            expected.add(f"{prefix}:failed")
    return expected
