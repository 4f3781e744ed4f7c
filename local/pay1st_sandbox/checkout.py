"""The hosted payment page (§8) and its buttons, which settle the payment and redirect (§11).

Opening the page checks the reference and the access token once and starts a checkout session, as a
real hosted page would; the buttons post that session back, so a person may take their time.
"""

from __future__ import annotations

from collections.abc import Collection
from html import escape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response

from . import catalogue
from .catalogue import ChannelEntry
from .errors import ControlError, GatewayError
from .instruments import IN_PROGRESS_STATUSES
from .payments import FINAL_STATUSES, OFFLINE_STATUSES, Payment
from .sessions import CheckoutSession
from .state import SandboxState

PAGE_PATH = "/checkout"
COMPLETE_PATH = "/checkout/complete"
RESULT_PATH = "/checkout/result"
STEPS_PATH = "/checkout/steps"  # a method walked step by step with a test instrument (checkout_steps)

# Button id (and form value) -> lifecycle outcome.
ACTIONS = {
    "pay": "pay",
    "pay-offline": "offline",
    "fail": "fail",
    "cancel": "cancel",
    "abandon": "abandon",
}
_BUTTON_LABELS = {
    "pay": "Pay now",
    "pay-offline": "Pay offline (cash / voucher)",
    "fail": "Simulate a failed payment",
    "cancel": "Cancel",
    "abandon": "Abandon (let the session expire)",
}

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;color:#1d2330}
main{max-width:40rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.3rem}.amount{font-size:2rem;font-weight:700;margin:.3rem 0 1rem}
table{width:100%;border-collapse:collapse;margin-bottom:1rem}td,th{text-align:left;padding:.3rem;
border-bottom:1px solid #e3e5ea}fieldset{border:1px solid #e3e5ea;border-radius:6px;margin:.5rem 0}
label{display:block;padding:.2rem 0}.suspended{color:#999}.actions{display:flex;flex-wrap:wrap;gap:.5rem;
margin-top:1rem}button{padding:.6rem 1rem;border:0;border-radius:6px;cursor:pointer;background:#e3e5ea}
#pay{background:#1f7a3d;color:#fff}.note{color:#666;font-size:.85rem}.error{color:#a11}
"""


class CheckoutError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )


def html_response(status: int, title: str, body: str) -> Response:
    return Response(_document(title, body), status=status, content_type="text/html; charset=utf-8")


def error_page(status: int, code: str, message: str) -> Response:
    body = (
        f'<h1 id="error" class="error" data-error-code="{escape(code)}">Payment page unavailable</h1>'
        f'<p id="error-message">{escape(message)}</p><p class="note">Error code {escape(code)} (HTTP {status}).</p>'
    )
    return html_response(status, "Pay1st Sandbox: error", body)


def with_query(url: str, **params: str) -> str:
    """`url` with params added (existing ones kept: our own callback URLs carry partnerReference)."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


class CheckoutPages:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def page(self, request: Request) -> Response:
        self.state.counters.incr("checkout_views")
        reference = request.args.get("reference", "")
        access_token = request.args.get("accessToken", "")
        if not reference:
            raise CheckoutError(400, "MISSING_REFERENCE", "The checkout link has no payment reference.")
        payment = self.state.payment(reference)
        if payment is None:
            raise CheckoutError(400, "UNKNOWN_REFERENCE", "There is no payment with this reference.")
        if not access_token:
            raise CheckoutError(401, "MISSING_TOKEN", "The checkout link has no access token.")
        try:
            self.state.tokens.check_access_token(access_token)
        except GatewayError as exc:
            raise CheckoutError(exc.status, exc.code, exc.message) from None
        chosen = channel_of(payment, request.args.get("channelId"))
        if payment.status in OFFLINE_STATUSES:
            return html_response(200, "Pay1st Sandbox: pending", _pending_body(payment))
        if payment.status in FINAL_STATUSES:
            raise CheckoutError(409, "PAYMENT_FINAL", f"This payment is already {payment.status}.")
        session = self.state.sessions.open(payment.reference, chosen.entry_id if chosen else None)
        if payment.status in IN_PROGRESS_STATUSES:  # reopened part-way through a method's steps: resume
            return Response(status=303, headers={"Location": with_query(STEPS_PATH, session=session.id)})
        return html_response(200, "Pay1st Sandbox: checkout", _checkout_body(payment, session.id, chosen))

    def complete(self, request: Request) -> Response:
        action, session = posted_action(self.state, request, ACTIONS, "The checkout form")
        payment = self.state.payment(session.reference)
        if payment is None:  # the sandbox was reset while the page was open
            raise CheckoutError(400, "UNKNOWN_REFERENCE", "There is no payment with this reference.")
        chosen = channel_of(payment, request.form.get("channelId") or None)
        if chosen is None and session.channel_id is not None:
            chosen = catalogue.find_entry(payment.country_code, session.channel_id)
        offline = action == "pay-offline"
        if chosen is None or (offline and not chosen.offline):
            # "Pay offline" with a card still selected: the customer meant the country's cash/voucher method.
            chosen = _default_channel(payment.country_code, offline=offline) or chosen
        try:
            updated = self.state.apply_outcome(
                payment.reference, ACTIONS[action], source="checkout", channel=chosen
            )
        except ControlError as exc:
            raise CheckoutError(exc.status, exc.code, exc.message) from None
        self.state.counters.incr("checkout_actions")
        target = self.state.callback_url(updated) or RESULT_PATH
        location = with_query(target, reference=updated.reference, status=updated.status)
        return Response(status=303, headers={"Location": location})

    def result(self, request: Request) -> Response:
        """Where the browser lands when neither the payment nor the Console has a callback URL."""
        reference = request.args.get("reference", "")
        payment = self.state.payment(reference)
        if payment is None:
            raise CheckoutError(400, "UNKNOWN_REFERENCE", "There is no payment with this reference.")
        body = (
            f'<h1 id="result" data-status="{escape(payment.status)}">Payment {escape(payment.status)}</h1>'
            f"<p>Reference {escape(payment.reference)} ({escape(payment.partner_reference)}).</p>"
        )
        return html_response(200, "Pay1st Sandbox: result", body)


def channel_of(payment: Payment, raw_id: str | None) -> ChannelEntry | None:
    """The active method of the payment's country a form or link names (None: none named), else 400."""
    if raw_id is None:
        return None
    entry = catalogue.find_entry(payment.country_code, int(raw_id)) if raw_id.isdigit() else None
    if entry is None or entry.status != catalogue.ACTIVE:
        raise CheckoutError(400, "UNKNOWN_CHANNEL", "This payment method is not available for this payment.")
    return entry


def _default_channel(country: str, *, offline: bool) -> ChannelEntry | None:
    active = [entry for entry in catalogue.entries_for(country) if entry.status == catalogue.ACTIVE]
    preferred = [entry for entry in active if entry.offline == offline]
    candidates = preferred or active
    return candidates[0] if candidates else None


def _summary(payment: Payment) -> str:
    rows = "".join(
        f'<tr class="product" data-sku="{escape(str(product["sku"]))}"><td>{escape(str(product["title"]))}</td>'
        f"<td>{escape(str(product['sku']))}</td><td>{escape(str(product['quantity']))}</td>"
        f"<td>{escape(str(product['currencyCode']))} {escape(str(product['price']))}</td></tr>"
        for product in payment.products
    )
    return (
        f'<section id="summary" data-reference="{escape(payment.reference)}" '
        f'data-partner-reference="{escape(payment.partner_reference)}" data-status="{escape(payment.status)}">'
        f'<p class="note">Payment {escape(payment.reference)}</p>'
        f'<p id="amount" class="amount" data-amount="{escape(str(payment.amount))}" '
        f'data-currency="{escape(payment.currency_code)}">'
        f'<span id="currency">{escape(payment.currency_code)}</span> {escape(str(payment.amount))}</p>'
        '<table id="products"><thead><tr><th>Product</th><th>SKU</th><th>Qty</th><th>Price</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )


def _methods(payment: Payment, chosen: ChannelEntry | None, session_id: str) -> str:
    groups = catalogue.grouped(payment.country_code)
    if chosen is not None:
        groups = [(chosen.group, [chosen])]
    if not groups:
        return '<section id="methods"><p class="note">No payment methods for this country.</p></section>'
    first_active = chosen or next((e for _, es in groups for e in es if e.status == catalogue.ACTIVE), None)
    parts = []
    for group, entries in groups:
        labels = []
        for entry in entries:
            active = entry.status == catalogue.ACTIVE
            attributes = " checked" if entry is first_active else ""
            attributes += "" if active else " disabled"
            # The buttons below settle at once; this link walks the method's own steps (§14) instead.
            steps = with_query(STEPS_PATH, session=session_id, channelId=str(entry.entry_id))
            link = (
                f' <a class="steps-link" id="steps-{entry.entry_id}" href="{escape(steps)}">step by step</a>'
            )
            labels.append(
                f'<label class="{"channel" if active else "channel suspended"}">'
                f'<input type="radio" name="channelId" value="{entry.entry_id}" '
                f'data-channel-code="{escape(entry.code)}" data-status="{escape(entry.status)}"{attributes}> '
                f"{escape(entry.name)}{link if active else ' (unavailable)'}</label>"
            )
        parts.append(
            f'<fieldset class="group" data-group-id="{group.id}"><legend>{escape(group.name)}</legend>'
            f"{''.join(labels)}</fieldset>"
        )
    return f'<section id="methods">{"".join(parts)}</section>'


def _checkout_body(payment: Payment, session_id: str, chosen: ChannelEntry | None) -> str:
    buttons = "".join(
        f'<button type="submit" id="{action}" name="action" value="{action}" data-action="{action}">'
        f"{escape(label)}</button>"
        for action, label in _BUTTON_LABELS.items()
    )
    return (
        "<h1>Pay1st Sandbox checkout</h1>"
        f"{_summary(payment)}"
        f'<form id="checkout-form" method="post" action="{COMPLETE_PATH}">'
        f'<input type="hidden" name="session" value="{escape(session_id)}">'
        f"{_methods(payment, chosen, session_id)}"
        f'<div class="actions">{buttons}</div></form>'
        '<p class="note">This is a local sandbox: no money moves.</p>'
    )


def _pending_body(payment: Payment) -> str:
    return (
        '<h1 id="pending">Waiting for your offline payment</h1>'
        f"{_summary(payment)}"
        '<p class="note">The payment settles once the cash or voucher payment is confirmed.</p>'
    )


def posted_action(
    state: SandboxState, request: Request, actions: Collection[str], form: str
) -> tuple[str, CheckoutSession]:
    """The action a checkout form posted and the session it spends (each session answers one post)."""
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise CheckoutError(400, "INVALID_FORM", f"{form} was not posted as a form.")
    action = request.form.get("action", "")
    if action not in actions:
        raise CheckoutError(400, "UNKNOWN_ACTION", f"action must be one of {', '.join(actions)}.")
    try:
        return action, state.sessions.take(request.form.get("session", ""))
    except GatewayError as exc:
        raise CheckoutError(exc.status, exc.code, exc.message) from None
