"""Claims that recognise themselves (issue 21): a conditional claim applied, then sent again (an SDK retry
after a lost answer, an emulator's internal error inside ``update_item``), finds its own ``claimId`` and
succeeds, where it used to read as someone else's claim (409 refund_in_progress, a CREATING refund left
reserved). Each write is applied twice at the store port, on DynamoDB (moto) and in memory; a different claim
for the same thing is still refused."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from pay1st_partner import state
from pay1st_partner.clock import isoformat
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.store.items import claim_item, fulfilment_item, new_claim_id, refund_entry
from pay1st_partner.store.port import AttemptChange, PaymentStore

from tests.partner.helpers import Clock, payment_request
from tests.partner.test_fulfilment_guard import ITEMS
from tests.partner.test_payment_store_contract import paid, refunds, repo, store

__all__ = ["paid", "refunds", "repo", "store"]


def test_a_payment_claim_applied_twice_is_one_claim(store: PaymentStore, clock: Clock) -> None:
    request = payment_request("order-1001")
    item = claim_item(request, fingerprint(request), None, isoformat(clock()))
    assert store.put_claim(item) and store.put_claim(item)  # the retry finds its own claim
    assert not store.put_claim({**item, "claimId": new_claim_id()})  # another request's is refused


def test_a_refund_claim_applied_twice_is_one_reservation(
    store: PaymentStore, paid: Any, clock: Clock
) -> None:
    paid()
    entry = refund_entry("r-1", Decimal("100.00"), Decimal("100.00"), "ZAR", None, isoformat(clock()))
    first = store.add_refund("order-1001", entry, reserve_up_to=Decimal("150.50"), at=isoformat(clock()))
    again = store.add_refund("order-1001", entry, reserve_up_to=Decimal("150.50"), at=isoformat(clock()))
    assert first is not None and again is not None
    assert again.refund_reserved == Decimal("100") and [r.refund_reference for r in again.refunds] == ["r-1"]
    other = {**entry, "claimId": new_claim_id()}
    assert (
        store.add_refund("order-1001", other, reserve_up_to=Decimal("150.50"), at=isoformat(clock())) is None
    )


def test_a_fulfilment_claim_applied_twice_is_one_fulfilment(
    store: PaymentStore, paid: Any, clock: Clock
) -> None:
    paid()
    fulfilment = fulfilment_item(ITEMS, "digest", isoformat(clock()))
    assert store.put_fulfilment("order-1001", fulfilment, amount=Decimal("250.50")) is not None
    assert store.put_fulfilment("order-1001", fulfilment, amount=Decimal("250.50")) is not None
    other = {**fulfilment, "claimId": new_claim_id()}
    assert store.put_fulfilment("order-1001", other, amount=Decimal("250.50")) is None


def test_a_new_attempt_applied_twice_is_one_attempt(store: PaymentStore, repo: PaymentRepository) -> None:
    request = payment_request("order-1001")
    repo.claim(request, fingerprint(request), None)
    repo.mark_outcome_unknown("order-1001")
    record = repo.get("order-1001")
    assert record is not None
    claim = new_claim_id()
    entry = {"partnerReference": "order-1001", "supersededAt": "2026-01-15T10:30:00.000Z", "reason": "test"}
    change = AttemptChange(
        record,
        ({**entry, "claimId": claim},),
        "order-1001..2",
        source="attempt",
        at="2026-01-15T10:30:00.000Z",
        status=state.CREATING,
        claim_id=claim,
    )
    first = store.write_attempts(change)
    again = store.write_attempts(change)
    assert first is not None and again is not None and len(again.attempts) == 1
    assert store.write_attempts(replace(change, claim_id=new_claim_id())) is None
