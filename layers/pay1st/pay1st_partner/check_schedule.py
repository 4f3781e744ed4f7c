"""When the poller next asks the gateway about an open payment (``nextCheckAt``), and when it gives up.

Dense while a customer is likely still at checkout, backing off after: by default 1, 2, 5, 15 and 60 minutes
after the payment was created, then every hour (``CHECK_SCHEDULE_SECONDS``: the offsets; after the last one,
every last-offset). A webhook normally settles a payment within seconds, so these checks are for lost
webhooks: the early ones catch the usual case (paid within minutes) quickly, the hourly ones a slow offline
payment, at little cost. A payment still open ``RECONCILE_GIVE_UP_SECONDS`` after it was created (48 h by
default: longer than the gateway keeps a checkout open before it reports ABANDONED) is no longer checked:
it is reported to operators (log + ``ReconcileGaveUp`` metric, ``pay1st_ops report``), because something
is wrong that asking again will not fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from pay1st_partner.clock import isoformat, parse_iso

DEFAULT_OFFSETS_SECONDS = (60.0, 120.0, 300.0, 900.0, 3600.0)
DEFAULT_GIVE_UP_AFTER = timedelta(hours=48)


@dataclass(frozen=True)
class CheckSchedule:
    offsets_seconds: tuple[float, ...] = DEFAULT_OFFSETS_SECONDS

    def __post_init__(self) -> None:
        offsets = self.offsets_seconds
        if not offsets or offsets[0] <= 0 or any(b <= a for a, b in pairwise(offsets)):
            raise ValueError("check schedule offsets must be positive and increasing")

    def next_check(self, created_at: datetime, now: datetime) -> datetime:
        """The first point of the schedule after ``now`` (never ``now`` itself: a check just happened)."""
        age = (now - created_at).total_seconds()
        for offset in self.offsets_seconds:
            if offset > age:
                return created_at + timedelta(seconds=offset)
        last = self.offsets_seconds[-1]
        periods = (age - last) // last + 1
        return created_at + timedelta(seconds=last + periods * last)

    def next_check_text(self, created_at: str, now: datetime) -> str:
        """:meth:`next_check` from stored text (the item's ``createdAt``), as stored text."""
        return isoformat(self.next_check(parse_iso(created_at), now))


DEFAULT_SCHEDULE = CheckSchedule()
