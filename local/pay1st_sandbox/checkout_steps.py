"""The hosted page's step-by-step flow (§14): a method walked with a test instrument, one input per page.

The checkout page's buttons settle a payment at once (the simple flow, unchanged); each method's "step by
step" link leads here instead. ``GET /checkout/steps?session=…[&channelId=…]`` shows the field the current
step asks for (card number, OTP, PIN, phone, birthday, validation token, a QR code to approve), and
``POST /checkout/steps`` takes it: the payment moves on (:meth:`SandboxState.take_step`, which sends each
status's webhook), and the browser is redirected to the next step's page (a fresh session: every page is
posted once) or, once the payment is final or waiting offline, to the callback URL (§11). An input that is
not a test instrument leaves the payment as it was and shows the page again with the reason.
"""

from __future__ import annotations

from html import escape

from werkzeug.wrappers import Request, Response

from . import catalogue, instruments
from .catalogue import ChannelEntry
from .checkout import (
    RESULT_PATH,
    STEPS_PATH,
    CheckoutError,
    channel_of,
    html_response,
    posted_action,
    with_query,
)
from .errors import ControlError, GatewayError
from .instruments import (
    IN_PROGRESS_STATUSES,
    PAY_OFFLINE,
    READY,
    SEND_BIRTHDAY,
    SEND_OTP,
    SEND_PHONE,
    SEND_PIN,
    SEND_VALIDATION_TOKEN,
)
from .payments import NEW, Payment
from .state import SandboxState

# Status -> (input id, label) of the field the step page shows.
FIELDS = {
    SEND_OTP: ("otp", "One-time password (OTP)"),
    SEND_PIN: ("pin", "PIN or password"),
    SEND_PHONE: ("phone", "Mobile number"),
    SEND_BIRTHDAY: ("birthday", "Date of birth (YYYY-MM-DD)"),
    SEND_VALIDATION_TOKEN: ("validation-token", "Validation token (from your banking app)"),
}
_ACTIONS = ("step", "cancel")


class CheckoutSteps:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def page(self, request: Request) -> Response:
        try:
            session = self.state.sessions.peek(request.args.get("session", ""))
        except GatewayError as exc:
            raise CheckoutError(exc.status, exc.code, exc.message) from None
        payment = self._payment(session.reference)
        if not _at_a_step(payment.status):
            raise CheckoutError(
                409, "NO_STEP", f"This payment is {payment.status}: there is no step to take."
            )
        channel = (
            payment.channel
            if payment.flow is not None
            else channel_of(payment, request.args.get("channelId"))
        )
        if channel is None:
            raise CheckoutError(400, "UNKNOWN_CHANNEL", "Choose a payment method on the checkout page first.")
        error = request.args.get("error", "")
        body = _step_body(payment, channel, session.id, error)
        return html_response(200, "Pay1st Sandbox: payment step", body)

    def take(self, request: Request) -> Response:
        action, session = posted_action(self.state, request, _ACTIONS, "The step form")
        payment = self._payment(session.reference)
        channel = channel_of(payment, request.form.get("channelId") or None)
        try:
            if action == "cancel":
                updated = self.state.apply_outcome(payment.reference, "cancel", source="checkout")
            else:
                updated = self.state.take_step(
                    payment.reference, channel, request.form.get("value"), source="checkout"
                )
        except ControlError as exc:
            if exc.status != 400:
                raise CheckoutError(exc.status, exc.code, exc.message) from None
            # Not a test instrument (a typo): the payment is unchanged, the same step is asked again.
            return self._to_step(payment.reference, channel, error=exc.code)
        self.state.counters.incr("checkout_actions")
        if _at_a_step(updated.status):
            return self._to_step(updated.reference, None)
        target = self.state.callback_url(updated) or RESULT_PATH
        location = with_query(target, reference=updated.reference, status=updated.status)
        return Response(status=303, headers={"Location": location})

    def _to_step(self, reference: str, channel: ChannelEntry | None, *, error: str = "") -> Response:
        session = self.state.sessions.open(reference, channel.entry_id if channel else None)
        params = {"session": session.id}
        if channel is not None:
            params["channelId"] = str(channel.entry_id)
        if error:
            params["error"] = error
        return Response(status=303, headers={"Location": with_query(STEPS_PATH, **params)})

    def _payment(self, reference: str) -> Payment:
        payment = self.state.payment(reference)
        if payment is None:  # the sandbox was reset while the page was open
            raise CheckoutError(400, "UNKNOWN_REFERENCE", "There is no payment with this reference.")
        return payment


def _at_a_step(status: str) -> bool:
    """Whether the page has an input to ask for: the method is still to choose, or a step waits for one."""
    return status == NEW or (status in IN_PROGRESS_STATUSES and status != PAY_OFFLINE)


def _field(payment: Payment, channel: ChannelEntry) -> tuple[str, str]:
    """What this page asks for, and the label of its submit button."""
    if payment.status in FIELDS:
        input_id, label = FIELDS[payment.status]
        return _input(input_id, label), "Continue"
    if payment.status == READY:
        code = f"pay1st-sandbox://qr/{payment.reference}"
        return f'<p id="qr-code" data-qr="{escape(code)}">Scan this code in the app: {escape(code)}</p>', (
            "Approve in the app (simulated)"
        )
    if channel.family == catalogue.CARD_FAMILY:  # a card is chosen by typing its number
        return _input("card-number", "Card number"), "Pay"
    return "", f"Continue with {channel.name}"


def _input(input_id: str, label: str) -> str:
    return (
        f'<label for="{input_id}">{escape(label)}</label>'
        f'<input id="{input_id}" name="value" autocomplete="off" required>'
    )


def _step_body(payment: Payment, channel: ChannelEntry, session_id: str, error: str) -> str:
    field, submit = _field(payment, channel)
    message = f'<p id="step-error" class="error" data-error-code="{escape(error)}">{escape(error)}</p>'
    return (
        "<h1>Pay1st Sandbox checkout</h1>"
        f'<section id="step" data-status="{escape(payment.status)}" data-channel-id="{channel.entry_id}" '
        f'data-family="{escape(channel.family)}">'
        f"<p>{escape(channel.name)}: {escape(payment.currency_code)} {escape(str(payment.amount))}</p>"
        f"{message if error else ''}"
        f'<form id="step-form" method="post" action="{STEPS_PATH}">'
        f'<input type="hidden" name="session" value="{escape(session_id)}">'
        f'<input type="hidden" name="channelId" value="{channel.entry_id}">{field}'
        '<div class="actions">'
        f'<button type="submit" id="submit-step" name="action" value="step">{escape(submit)}</button>'
        '<button type="submit" id="cancel-step" name="action" value="cancel" formnovalidate>Cancel</button>'
        "</div></form></section>"
        f"{_instruments_table(channel)}"
    )


def _instruments_table(channel: ChannelEntry) -> str:
    """The method's test instruments, as Pay1st's test-details page lists them (what to type, what happens)."""
    rows = "".join(
        f'<tr class="instrument"><td>{escape(i.label)}</td><td>{escape(i.key or "")}</td>'
        f"<td>{escape(', '.join(f'{s}: {a}' if a else s for s, a in i.answers))}</td>"
        f"<td>{escape(i.outcome)}</td><td>{escape(i.note)}</td></tr>"
        for i in instruments.of_channel(channel.entry_id)
    )
    return (
        '<table id="instruments"><thead><tr><th>Test instrument</th><th>Number</th><th>Steps</th>'
        f"<th>Outcome</th><th>Note</th></tr></thead><tbody>{rows}</tbody></table>"
    )
