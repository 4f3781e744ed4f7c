"""When the poller next asks the gateway about an open payment (``nextCheckAt``), and when it gives up.

Dense while the customer is likely to pay, sparse after: by default every minute for the first 20 minutes
after the payment was created, every 80 s to the hour, then every 2 hours (``CHECK_SCHEDULE_SECONDS``: the
offsets, ``60x20,80x30,7200``; after the last one, every last-offset). A webhook normally settles a payment
within seconds, so these checks are for lost webhooks. Why this shape (``bench/recon_scale.py``,
``recon.py``): with 10,000 open payments, every webhook lost and 5 queries/s, a payment paid in its first hour
is found within 2 minutes only if it is asked about about once a minute in that hour, and what is left of the
budget for the ~98% of open payments older than an hour is one check each every 2 hours (hourly, the old tail,
needs more queries a minute than a run can make). With 20 queries/s and 20 new payments a minute none of which
settles, checks every minute for a whole hour would leave a new payment's first check waiting past 2 minutes;
80 s after the first 20 minutes does not. A payment paid after its first hour waits up to 2 hours for its
check (1 before); a never-paid payment costs about 74 checks over its 48 hours (52 before). A payment still
open ``RECONCILE_GIVE_UP_SECONDS`` after it was created (48 h by default: longer than the gateway keeps a
checkout open before it reports ABANDONED) is no longer checked: it is reported to operators (log +
``ReconcileGaveUp`` metric, ``pay1st_ops report``), because something is wrong that asking again will not fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from pay1st_partner.clock import isoformat, parse_iso

DEFAULT_OFFSETS_SECONDS = (
    *(60.0 * n for n in range(1, 21)),
    *(1200.0 + 80.0 * n for n in range(1, 31)),
    7200.0,
)


def parse_offsets(text: str) -> tuple[float, ...]:
    """``CHECK_SCHEDULE_SECONDS``: comma-separated seconds; ``STEPxCOUNT`` is COUNT offsets STEP apart after
    the previous one (``60x20,80x30,7200``: 60, 120, ... 1200, 1280, ... 3600, then 7200). Raises ValueError."""
    offsets: list[float] = []
    for part in text.split(","):
        step, times, count = part.strip().partition("x")
        if not times:
            offsets.append(float(step))
            continue
        base = offsets[-1] if offsets else 0.0
        offsets += [base + float(step) * n for n in range(1, int(count) + 1)]
    return tuple(offsets)


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
