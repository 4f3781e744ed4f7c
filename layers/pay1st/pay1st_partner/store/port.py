"""The payments store port: the few conditional reads and writes the domain needs, and nothing else.

Two implementations keep the same contract (one test suite runs against both, see
``tests/partner/test_store_contract.py``): :class:`pay1st_partner.store.dynamodb.store.DynamoDBPaymentStore`
in Lambda, :class:`pay1st_partner.store.memory.store.InMemoryPaymentStore` for fast domain tests.

Every write is conditional and reports a lost condition as ``None``/``False`` (never as an exception),
so the domain (:mod:`pay1st_partner.payments.repository`) decides what a lost race means. Times are passed in
as stored text (:func:`pay1st_partner.clock.isoformat`): the domain owns the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.records import PaymentRecord
from pay1st_partner.state import CREATING
from pay1st_partner.state import FINAL_STATUSES as _FINAL


@dataclass(frozen=True)
class WebhookReceipt:
    """What processing made of a recorded webhook (``outcome`` and its ``details``), to be written WITH the
    status change the webhook causes: one write instead of two (DynamoDB: a TransactWriteItems over both
    tables). ``table`` is the webhook events table the event is recorded in.
    """

    table: str
    event_id: str
    outcome: str
    at: str
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class QueryWanted:
    """The payments a status query is wanted for: in one of ``statuses``, with no Pay1st reference yet or
    ``reference``, in ``currency_code``, for ``amount`` (as stored: the text the partner sent)."""

    statuses: frozenset[str]
    reference: str
    currency_code: str
    amount: str


@dataclass(frozen=True)
class StatusChange:
    """One status write: ``record`` (as read) → ``status``, with its outbox event, in one conditional write.

    The write holds only while the stored status is still ``record.status`` (and, when ``adopt_reference``
    is set, while the item still has no Pay1st reference).
    """

    record: PaymentRecord
    status: str
    source: str
    at: str
    adopt_reference: str | None = None
    event: OutboxEvent | None = None
    query: StatusQueryNote | None = None  # the status query that reported ``status``
    receipt: WebhookReceipt | None = None  # committed with the change, or not at all
    # When the poller should check the payment next, if it stays open (``nextCheckAt``).
    next_check_at: str | None = None


@dataclass(frozen=True)
class StatusQueryNote:
    """A status query's history entry, set in ``statusQueries`` under ``entry["at"]`` in a write that happens
    anyway; ``drop``: older keys past the bound (as last read) removed in it; ``create``: the item has no
    ``statusQueries`` yet, so the map is written whole."""

    entry: Mapping[str, Any]
    drop: tuple[str, ...] = ()
    create: bool = False

    @property
    def key(self) -> str:
        return str(self.entry["at"])


@dataclass(frozen=True)
class StepChange:
    """Record an in-progress step (``pay1st_partner.payments.steps``) on an open payment, never its status.

    Holds only while the stored status is still ``record.status``; with ``event`` (the step is told) also
    while ``stepToldAt`` is still ``record``'s, so two writers never both tell within the interval.
    """

    record: PaymentRecord
    step: str
    source: str
    at: str
    event: OutboxEvent | None = None
    told_at: str | None = None  # ``record``'s ``stepToldAt`` as read (None: never told)


@dataclass(frozen=True)
class RefundChange:
    """One refund status write, holding only while the refund's stored status is still ``current``.

    In the same write: the payment's totals (``refundReserved`` down by ``amount`` when the refund ends
    FAILED/REJECTED, ``refundedAmount`` up when SUCCESSFUL; ``refundsOpen`` down when it ends) and its events.
    """

    partner_reference: str
    refund_reference: str
    current: str
    status: str
    amount: Decimal
    source: str
    at: str
    pay1st_refund_reference: str | None = None
    handling_type: str | None = None
    events: tuple[OutboxEvent, ...] = ()


@dataclass(frozen=True)
class ReversalChange:
    """Record a reversal (REFUND or CHARGEBACK) once, on a SUCCESSFUL payment, with its event."""

    partner_reference: str
    kind: str
    source: str
    at: str
    event: OutboxEvent | None = None


@dataclass(frozen=True)
class AttemptChange:
    """Rewrite a payment's attempts (``pay1st_partner.payments.attempts``) in one conditional write.

    Holds only while the stored status, ``attemptReference`` and ``reference`` are still ``record``'s.
    Sets ``attempts`` and ``attemptReference``; with ``status`` also the status and its history (only ever
    CREATING, before any Pay1st reference, or a final status, which drops the open marker); with
    ``reference`` the Pay1st reference; with ``double_paid`` the ``doublePaid`` flag; with ``exhausted``
    ``attemptsExhaustedAt`` = ``at``; adds ``event`` to the outbox.
    """

    def __post_init__(self) -> None:
        # The open-payments index is written by status transitions only: an attempt change never opens one.
        if self.status is not None and self.status != CREATING and self.status not in _FINAL:
            raise ValueError("an attempt change sets CREATING or a final status")

    record: PaymentRecord
    attempts: tuple[Mapping[str, Any], ...]
    attempt_reference: str
    source: str
    at: str
    status: str | None = None
    reference: str | None = None
    double_paid: bool = False
    exhausted: bool = False
    event: OutboxEvent | None = None
    # A new attempt's claim (its entry in ``attempts`` carries it as ``claimId``): a retry of this very
    # write, applied before, finds it there and succeeds.
    claim_id: str | None = None


@dataclass(frozen=True)
class OwedChange:
    """Owe a confirmation (``pay1st_partner.payments.owed``): ``owed[reference] = entry`` and the payment on
    the due schedule at ``due_at`` under ``marker`` (``OPEN`` or ``OWED``, sharded), in one write holding
    while the stored status is still ``record.status`` and its Pay1st reference still ``record.reference``."""

    record: PaymentRecord
    reference: str
    entry: Mapping[str, Any]
    due_at: str
    marker: str


class StatusIndex(Protocol):
    """The operators' read by status and age (a scan): ``pay1st_ops`` find and report."""

    def by_status(
        self,
        status: str,
        *,
        created_after: str = "0",
        created_before: str = "~",
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[Mapping[str, Any]]:
        """Items in ``status`` created in (``created_after``, ``created_before``), oldest first (newest first
        with ``newest_first``), with at least ``partnerReference``, ``status``, ``createdAt``, ``reference`` and ``fulfilment``."""


class PaymentStore(StatusIndex, Protocol):
    def get(self, partner_reference: str) -> PaymentRecord | None:
        """The payment as last written (a strongly consistent read)."""

    def find_by_reference(self, reference: str) -> PaymentRecord | None:
        """The payment that holds this Pay1st reference."""

    def open_payments(self, *, older_than: str, limit: int) -> list[PaymentRecord]:
        """Open payments with a Pay1st reference not written since ``older_than``, oldest first."""

    def due_payments(self, *, due_before: str, limit: int, due_from: str = "") -> list[PaymentRecord]:
        """Payments on the watch list (open ones, and SUCCESSFUL ones until their fulfilment is delivered) whose
        ``nextCheckAt`` is before ``due_before`` and not before ``due_from``, the most overdue first, read from
        every shard."""

    def outbox_events(self, partner_reference: str) -> list[OutboxEvent]:
        """The events waiting in the payment's outbox (none when there is no such payment)."""

    def watch_until(self, partner_reference: str, next_check_at: str) -> bool:
        """Move a watched SUCCESSFUL payment whose fulfilment is not delivered to ``next_check_at``; False
        when it is not one (any more)."""

    def unwatch(self, partner_reference: str, *, amount: Decimal) -> bool:
        """Take a final payment off the watch list once nothing waits (nothing owed, no outbox event, and a
        SUCCESSFUL one's fulfilment delivered, or no longer possible: a reversal, or refunds reserving
        ``amount``, the payment's, as :meth:`put_fulfilment` refuses); False otherwise."""

    def gave_up_payments(self, *, limit: int) -> list[PaymentRecord]:
        """Open payments the poller gave up on (see :meth:`give_up`), the earliest given up first."""

    def pending_events(self, *, older_than: str, limit: int) -> list[OutboxEvent]:
        """Outbox events of payments whose outbox has held something since before ``older_than``."""

    def put_claim(self, item: Mapping[str, Any]) -> bool:
        """Store a new payment item; False when its partnerReference is already taken."""

    def delete_claim(self, partner_reference: str) -> None:
        """Delete the payment only while it is still CREATING (otherwise nothing happens)."""

    def write_transition(self, change: StatusChange) -> PaymentRecord | None:
        """Apply ``change`` (and record its ``receipt``, in the same write); None when its condition no
        longer holds (then the receipt is not recorded either)."""

    def note_unknown(self, partner_reference: str, status: str, at: str) -> PaymentRecord:
        """Remember the last status we could not interpret (never a transition)."""

    def write_step(self, change: StepChange) -> PaymentRecord | None:
        """Record ``change.step`` as the payment's latest step (with its event, when told); None when the
        condition no longer holds."""

    def note_transaction_id(self, partner_reference: str, transaction_id: str) -> PaymentRecord | None:
        """Set ``transactionId`` unless it already holds that value; None when it did (or no payment)."""

    def add_conflict(self, partner_reference: str, conflict: Mapping[str, Any]) -> PaymentRecord:
        """Append a conflicting-final-status entry to the payment's ``conflicts``."""

    def claim_status_query(self, partner_reference: str, *, at: str, cutoff: str, priority: bool) -> bool:
        """Take the payment's status-query slot: set ``lastQueryAt`` = ``at`` (and ``lastQueryPriority``)
        only while the last query was at or before ``cutoff``; False when the slot is taken (or no payment).

        A ``priority`` claim (an authenticated webhook's confirmation) also wins when the last query inside
        the interval was not a priority one, so background freshness never delays a settlement.
        """

    def get_claiming_query(
        self, partner_reference: str, *, at: str, cutoff: str, priority: bool, when: QueryWanted
    ) -> tuple[PaymentRecord | None, bool]:
        """Read the payment and, in the same write, take its status-query slot (as
        :meth:`claim_status_query`) if the payment is as ``when`` describes. Returns the payment (after the
        write when the slot was taken, as stored otherwise; None when there is none) and whether it was."""

    def touch_checked(
        self, partner_reference: str, at: str, *, query: StatusQueryNote | None = None
    ) -> PaymentRecord | None:
        """Note a status check (``lastCheckedAt`` and ``updatedAt``), with ``query`` when given; None when
        there is no such payment."""

    def schedule_check(
        self, partner_reference: str, at: str, next_check_at: str, *, query: StatusQueryNote | None = None
    ) -> PaymentRecord | None:
        """Note a status check as :meth:`touch_checked` does (with ``query`` when given), and set
        ``nextCheckAt`` (the marker as a shard) only while the payment is still in the open index; None when it
        is not (final, or no payment)."""

    def give_up(self, partner_reference: str, at: str) -> PaymentRecord | None:
        """Move an open payment from the due shards to the given-up ones (``gaveUpAt``); None if not open."""

    def clear_event(self, partner_reference: str, event_id: str) -> None:
        """Drop a published event from the outbox (and the outbox markers once it is empty)."""

    def put_fulfilment(
        self, partner_reference: str, fulfilment: Mapping[str, Any], *, amount: Decimal
    ) -> PaymentRecord | None:
        """Record the fulfilment while the payment is SUCCESSFUL, has none, is not reversed and its refunds
        (``refundReserved``) are below ``amount`` (the payment's); None otherwise."""

    def mark_fulfilment_delivered(
        self, partner_reference: str, at: str, *, attempt: Mapping[str, Any] | None = None
    ) -> bool:
        """Set ``fulfilment.deliveredAt`` once, and append ``attempt`` to ``fulfilment.attempts`` when given, and
        take the payment off the watch list when its outbox is empty; False when no fulfilment is recorded."""

    # ------------------------------------------------------------ refunds and reversals (§15, §16)

    def claim_refund_reference(self, refund_reference: str, partner_reference: str) -> str:
        """Point ``refund_reference`` at a payment unless it points elsewhere; the payment it points at."""

    def release_refund_reference(self, refund_reference: str, partner_reference: str) -> None:
        """Forget the pointer, only while it points at ``partner_reference``."""

    def refund_owner(self, refund_reference: str) -> str | None:
        """The partnerReference of the payment that holds this refundReference."""

    def add_refund(
        self, partner_reference: str, entry: Mapping[str, Any], *, reserve_up_to: Decimal, at: str
    ) -> PaymentRecord | None:
        """Add a CREATING refund and reserve its amount, only while the payment is SUCCESSFUL and not
        reversed, the refundReference is new on it, it has fewer than ``MAX_REFUNDS_PER_PAYMENT`` refunds,
        and ``refundReserved <= reserve_up_to`` (= amount minus this refund); None otherwise."""

    def remove_refund(self, partner_reference: str, refund_reference: str, amount: Decimal, at: str) -> bool:
        """Remove a refund still CREATING and give its amount back; False when it is not CREATING."""

    def write_refund_transition(self, change: RefundChange) -> PaymentRecord | None:
        """Apply ``change``; None when its condition no longer holds."""

    def open_refund_payments(self, *, older_than: str, limit: int) -> list[PaymentRecord]:
        """Payments that have had an open refund since before ``older_than``, oldest first."""

    def record_reversal(self, change: ReversalChange) -> PaymentRecord | None:
        """Record ``change.kind`` while the payment is SUCCESSFUL and has no such reversal; None otherwise."""

    # ------------------------------------------------------------------- attempts

    def claim_attempt_reference(self, attempt_reference: str, partner_reference: str) -> str:
        """Point the derived ``attempt_reference`` at a payment unless it points elsewhere; the owner."""

    def attempt_owner(self, attempt_reference: str) -> str | None:
        """The partnerReference of the payment that holds this derived attempt reference."""

    def write_attempts(self, change: AttemptChange) -> PaymentRecord | None:
        """Apply ``change``; None when its condition no longer holds."""

    # ------------------------------------------------------------------- owed confirmations (DESIGN §9)

    def owe_confirmation(self, change: OwedChange) -> PaymentRecord | None:
        """Apply ``change``; None when its condition no longer holds (or no payment)."""

    def settle_owed(self, partner_reference: str, reference: str, since: str) -> PaymentRecord | None:
        """Remove ``owed[reference]`` while its ``since`` is still ``since`` (a newer report of the same
        reference stays owed); None when it is not."""

    def end_owed_schedule(self, partner_reference: str, *, next_check_at: str | None) -> None:
        """With nothing owed any more: a payment under the ``OWED`` marker leaves the due schedule
        (``next_check_at`` None), one under ``OPEN`` is next due at ``next_check_at``; otherwise nothing."""

    # ------------------------------------------------------------------- operators (pay1st_ops)

    def item(self, partner_reference: str) -> Mapping[str, Any] | None:
        """The stored item as it is (history, outbox, audit): what an operator reads; None when absent."""

    def add_audit(self, partner_reference: str, entry: Mapping[str, Any], *, keep: int) -> bool:
        """Append ``entry`` to the payment's ``audit``, keeping the newest ``keep``; False: no payment."""
