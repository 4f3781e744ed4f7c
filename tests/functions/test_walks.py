"""How far a request travels through the bundle's own modules: the walks of a paid webhook and of a create.

A *stay* is a run of consecutive calls inside one module of the bundle (``functions.*``, ``pay1st_partner.*``);
a walk that keeps bouncing between modules (the attempt decision taking turns between the intake, reconcile
and attempts) has many stays. The ceilings are what the layout leaves (printed with ``-s``); a change that makes
a request wander again fails here, and the closing notes compare the figures.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest
from pay1st_partner import runtime

from tests.functions.inbound import create_at_sandbox
from tests.functions.outbound import create, create_body
from tests.functions.test_webhook_intake import event_body, post, signed

_OURS = ("functions.", "pay1st_partner.")
# Measured at the layout's landing (every call counted, the small vocabulary helpers too): webhook 106 stays
# through 26 modules (105/25 before the layout: the outbox's own module is the one more), create 81/25 (81/25).
# The ceilings leave room for a feature, not for a request that wanders.
WEBHOOK_STAYS, WEBHOOK_MODULES = 120, 30
CREATE_STAYS, CREATE_MODULES = 90, 28


class Walk:
    def __init__(self) -> None:
        self.stays: list[str] = []

    def visit(self, frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call":
            return
        module = frame.f_globals.get("__name__", "")
        if module.startswith(_OURS) and (not self.stays or self.stays[-1] != module):
            self.stays.append(module)

    @property
    def modules(self) -> set[str]:
        return set(self.stays)

    def __str__(self) -> str:
        return f"{len(self.stays)} stays through {len(self.modules)} modules: {' > '.join(self.stays)}"


@contextmanager
def walking() -> Iterator[Walk]:
    walk = Walk()
    previous = sys.getprofile()
    sys.setprofile(walk.visit)
    try:
        yield walk
    finally:
        sys.setprofile(previous)


def test_a_signed_successful_webhook_walks_a_short_way(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    # Given a payment paid at the sandbox, and the bundle warmed (imports and clients built)
    record = create_at_sandbox("order-walk")
    warm = event_body(create_at_sandbox("order-warm"), "FAILED")
    post(http_event, warm, signed(warm))
    sandbox.control.settle(record.reference, "pay")
    # When its signed SUCCESSFUL webhook is received, confirmed and applied
    body = event_body(record, "SUCCESSFUL")
    with walking() as walk:
        answer = post(http_event, body, signed(body))
    # Then it was applied, through few stays
    assert answer.body["outcome"] == "applied"
    print(f"\nwebhook: {walk}")
    assert len(walk.stays) <= WEBHOOK_STAYS and len(walk.modules) <= WEBHOOK_MODULES, str(walk)


def test_a_create_walks_a_short_way(aws: Any, sandbox: Any, lambda_context: Any, http_event: Any) -> None:
    # Given the bundle warmed by a first create
    assert create(http_event, lambda_context, create_body("order-warm")).status == 201
    # When a payment is created
    with walking() as walk:
        result = create(http_event, lambda_context, create_body("order-walk"))
    # Then it was created, through few stays
    assert result.status == 201 and runtime.payments().get("order-walk") is not None
    print(f"\ncreate: {walk}")
    assert len(walk.stays) <= CREATE_STAYS and len(walk.modules) <= CREATE_MODULES, str(walk)


pytestmark = pytest.mark.integration
