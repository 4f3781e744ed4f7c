"""A payment's status checks: the one-query-per-interval slot, the check's history entry, the next due check.

Part of :class:`pay1st_partner.payments.repository.PaymentRepository` (its base class): the rules that
ration the gateway's status queries and keep the poller's schedule, apart from the status changes themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pay1st_partner import state
from pay1st_partner.check_schedule import CheckSchedule
from pay1st_partner.clock import isoformat
from pay1st_partner.records import PaymentRecord, amount_text
from pay1st_partner.store.items import MAX_STATUS_QUERIES
from pay1st_partner.store.port import PaymentStore, QueryWanted, StatusQueryNote


class StatusChecks:
    _store: PaymentStore
    _clock: Callable[[], datetime]
    _schedule: CheckSchedule

    def _now(self) -> str:
        return isoformat(self._clock())

    def claim_status_query(
        self, partner_reference: str, *, min_interval: float, priority: bool = False
    ) -> bool:
        """True when this caller may query the gateway for the payment now (one query per ``min_interval``
        seconds; a ``priority`` caller - an authenticated webhook - may also take a background caller's slot).
        """
        now = self._clock()
        return self._store.claim_status_query(
            partner_reference,
            at=isoformat(now),
            cutoff=isoformat(now - timedelta(seconds=min_interval)),
            priority=priority,
        )

    def touch_checked(
        self,
        partner_reference: str,
        *,
        query: Mapping[str, Any] | None = None,
        current: PaymentRecord | None = None,
    ) -> PaymentRecord | None:
        """Note a status check (it moves ``updatedAt`` too, see ``payment_items``); the updated record.

        ``query`` (with ``current``, the payment as read): the status query's history entry, kept in the same
        write.
        """
        now = self._now()
        note = None if query is None or current is None else query_note(current, query, now)
        return self._store.touch_checked(partner_reference, now, query=note)

    def note_check(
        self, record: PaymentRecord, *, query: Mapping[str, Any] | None = None
    ) -> PaymentRecord | None:
        """Note a status check of a payment that stayed open (with ``query``'s history entry, see
        :meth:`touch_checked`), and when the next one is due (the schedule runs from its creation:
        :mod:`pay1st_partner.check_schedule`); falls back to :meth:`touch_checked` when it is no longer in the
        open index (settled meanwhile, or given up: a given-up payment stays off the schedule). The record after it."""
        now = self._clock()
        at = isoformat(now)
        next_check = self._schedule.next_check_text(record.created_at, now)
        note = None if query is None else query_note(record, query, at)
        # Something owed: its nextCheckAt (when the slot frees) stands; schedule_check would refuse anyway.
        scheduled = (
            None
            if record.owed
            else self._store.schedule_check(record.partner_reference, at, next_check, query=note)
        )
        if scheduled is not None:
            return scheduled
        return self.touch_checked(record.partner_reference, query=query, current=record)

    def give_up(self, partner_reference: str) -> PaymentRecord | None:
        """Stop checking an open payment past the give-up age (operators see it); None if not open."""
        return self._store.give_up(partner_reference, self._now())

    def get_claiming_query(
        self,
        partner_reference: str,
        *,
        report: str,
        reference: str,
        currency_code: str,
        amount: Decimal,
        min_interval: float,
        priority: bool = False,
    ) -> tuple[PaymentRecord | None, bool]:
        """Read the payment and take its status-query slot in the same write, when a report of ``report``
        with this ``reference``, currency and amount would be confirmed with the gateway (it would apply,
        and it describes the payment). Returns the payment and whether the slot was taken; a payment for
        which it was not is decided on as usual (a different amount text of the same value, for example,
        simply takes the slot afterwards with :meth:`claim_status_query`).
        """
        now = self._clock()
        wanted = QueryWanted(
            statuses=frozenset(s for s in state.ALL_STATUSES if state.decide(s, report).applies),
            reference=reference,
            currency_code=currency_code,
            amount=amount_text(amount),
        )
        return self._store.get_claiming_query(
            partner_reference,
            at=isoformat(now),
            cutoff=isoformat(now - timedelta(seconds=min_interval)),
            priority=priority,
            when=wanted,
        )


def query_note(record: PaymentRecord, query: Mapping[str, Any], now: str) -> StatusQueryNote:
    """``query``'s history entry at ``now``, and the keys to drop so the newest ``MAX_STATUS_QUERIES`` stay."""
    if record.status_queries is None:
        return StatusQueryNote({"at": now, **query}, create=True)
    older = sorted(str(q["at"]) for q in record.status_queries if q["at"] != now)
    return StatusQueryNote(
        {"at": now, **query}, drop=tuple(older[: max(0, len(older) - MAX_STATUS_QUERIES + 1)])
    )
