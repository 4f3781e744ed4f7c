"""The gateway's operations as data: one row per operation of the contract (§2, §3, §6, §7, §9, §12, §15).

Everything that differs between operations and is not the body or the response model lives here, so
the client has one generic call path (:meth:`pay1st.client.Pay1stClient._call`) instead of a
hand-written request per operation. Adding an operation (e.g. the §15 refund) is one row here, one
model in :mod:`pay1st.models` and one thin method on the client; the row is where its retry safety is
decided, in plain sight:

* ``auth``: ``BASIC`` (API key + secret, only the token endpoints §2/§3) or ``ACCESS_TOKEN`` (§5: the
  ``AccessToken`` header, with one re-authentication on a 401).
* ``signed``: the body is signed (§4: ``X-TIMESTAMP`` + ``X-SIGNATURE``); every non-authentication
  request that carries a body.
* ``outcome_unknown_if_lost``: once the request may have reached the gateway, a lost or ambiguous answer
  (read timeout, dropped connection, a 5xx other than 503, an unreadable 2xx) means the operation may or
  may not have happened, and repeating it could do it twice. Such an operation is retried only when
  the attempt was certainly not processed, and otherwise raises
  :class:`~pay1st.errors.OutcomeUnknownError` (policy: :mod:`pay1st.retry`). True for create payment;
  a refund row must set it too. False means safe to repeat: every 429/5xx/transport failure is retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

__all__ = [
    "AUTH_CONTENT_TYPE",
    "CHANNEL_CONTENT_TYPE",
    "CREATE_PAYMENT",
    "CREATE_REFUND",
    "GENERATE_TOKEN",
    "GET_PAYMENT",
    "LIST_PAYMENT_METHODS",
    "NOTIFY_FULFILMENT",
    "OPERATIONS",
    "PAYMENT_CONTENT_TYPE",
    "REFRESH_TOKEN",
    "REFUND_CONTENT_TYPE",
    "Auth",
    "Operation",
]

AUTH_CONTENT_TYPE = "application/vnd.carry1st.payments.partnerauthentication+json"
CHANNEL_CONTENT_TYPE = "application/vnd.carry1st.payments.paymentchannel+json"
PAYMENT_CONTENT_TYPE = "application/vnd.carry1st.payments.payment+json"
REFUND_CONTENT_TYPE = "application/vnd.carry1st.payments.refund+json"


class Auth(Enum):
    BASIC = "basic"
    ACCESS_TOKEN = "access_token"  # noqa: S105 - the name of an auth scheme, not a secret


@dataclass(frozen=True)
class Operation:
    """One gateway operation. ``name`` is what logs and error messages call it."""

    name: str
    method: Literal["GET", "POST"]
    path: str
    content_type: str
    accept: str | None = None
    auth: Auth = Auth.ACCESS_TOKEN
    signed: bool = False
    outcome_unknown_if_lost: bool = False

    def __post_init__(self) -> None:
        if self.signed and (self.method == "GET" or self.auth is Auth.BASIC):
            raise ValueError(f"{self.name}: only access-token requests with a body are signed (§4)")


GENERATE_TOKEN = Operation(
    "generate_token", "POST", "/api/pay1st/auth/token", AUTH_CONTENT_TYPE, auth=Auth.BASIC
)
# Basic auth is sent on refresh too: the contract lists only the content types, and the gateway ignores
# an Authorization it does not need, whereas a missing one would make every refresh fail over to a new token.
REFRESH_TOKEN = Operation(
    "refresh_token",
    "POST",
    "/api/pay1st/auth/refresh",
    AUTH_CONTENT_TYPE,
    accept=AUTH_CONTENT_TYPE,
    auth=Auth.BASIC,
)
LIST_PAYMENT_METHODS = Operation(
    "list_payment_methods", "GET", "/api/pay1st/payments/methods", CHANNEL_CONTENT_TYPE
)
CREATE_PAYMENT = Operation(
    "create_payment",
    "POST",
    "/api/pay1st/payments/create",
    PAYMENT_CONTENT_TYPE,
    signed=True,
    outcome_unknown_if_lost=True,  # a repeat could create a second payment
)
GET_PAYMENT = Operation("get_payment", "GET", "/api/pay1st/payments", PAYMENT_CONTENT_TYPE)
# Safe to repeat (a queue consumer retries it anyway), so every transport failure is retried.
NOTIFY_FULFILMENT = Operation(
    "notify_fulfilment", "POST", "/api/pay1st/payments/fulfilments", PAYMENT_CONTENT_TYPE, signed=True
)
# §15 (beta). A repeat could refund twice, unless the gateway refuses the same partnerRefundReference.
CREATE_REFUND = Operation(
    "create_refund",
    "POST",
    "/api/pay1st/transactions/refunds/create",
    REFUND_CONTENT_TYPE,
    signed=True,
    outcome_unknown_if_lost=True,
)

OPERATIONS: tuple[Operation, ...] = (
    GENERATE_TOKEN,
    REFRESH_TOKEN,
    LIST_PAYMENT_METHODS,
    CREATE_PAYMENT,
    GET_PAYMENT,
    NOTIFY_FULFILMENT,
    CREATE_REFUND,
)
