"""``make go-live-check`` with no STACK: the same steps against a local stack started here, as ``make demo`` does.

The stack runs template.yaml on moto with the Pay1st sandbox as the gateway, its event sources on (the
fulfilment queue is consumed as Lambda would). Where a person would pay in a browser, the sandbox pays
through its control API; the callback step then follows the URL the hosted page would redirect to.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

from local_stack.partner import partner_client
from local_stack.stack import LocalStack, StackOptions
from pay1st_sandbox.checkout import with_query

from go_live.target import PARTNER_ATTEMPTS, Target


def target_of(stack: LocalStack) -> Target:
    """A :class:`Target` for a running local stack (its sandbox pays; its outputs as the template names them)."""
    sandbox = stack.sandbox
    if sandbox is None:
        raise RuntimeError("the go-live check needs the local stack's Pay1st sandbox")
    control = sandbox.control
    refs = stack.provisioned.refs
    secrets = stack.client("secretsmanager")
    api = stack.api_url
    outputs = {
        "ApiUrl": api,
        "WebhookUrl": f"{api}/webhooks/pay1st",
        "CredentialsSecretName": refs["Pay1stCredentialsSecret"],
        "WebhookEventsTableName": refs["WebhookEventsTable"],
        "PaymentsTableName": refs["PaymentsTable"],
    }

    def read_secret() -> str:
        value: str = secrets.get_secret_value(SecretId=outputs["CredentialsSecretName"])["SecretString"]
        return value

    def pay(reference: str) -> str:
        control.settle(reference, "pay")
        control.flush_webhooks(timeout=20)
        scheme = control.webhook_signing().get("scheme")
        return f"the sandbox paid {reference} (control API) and sent its webhook, signed {scheme}"

    def callback_url(reference: str) -> str | None:
        payment = control.payment(reference)
        url = (payment.get("callbackUrls") or {}).get("success")
        return with_query(url, reference=reference, status=str(payment.get("status"))) if url else None

    return Target(
        name="local stack",
        local=True,
        # The parameters the local stack resolved the template with (defaults, local URLs, overrides).
        parameters=stack._parameters(),
        outputs=outputs,
        read_secret=read_secret,
        dynamodb=stack.client("dynamodb"),
        # The partner's backend as the local stack plays it: SigV4 with the local credentials (or its JWT).
        partner_api=partner_client(stack, max_attempts=PARTNER_ATTEMPTS),
        pay=pay,
        callback_url=callback_url,
    )


@contextmanager
def local_target(
    function_log: IO[str] | None,
    *,
    parameter_overrides: Mapping[str, str] | None = None,
    webhook_scheme: str | None = None,
) -> Iterator[Target]:
    """Start a local stack on free ports (sandbox signing webhooks with ``webhook_scheme``), yield its target."""
    options = StackOptions(
        api_port=0,
        moto_port=0,
        sandbox_port=0,
        function_log=function_log,
        prewarm=True,
        parameter_overrides=dict(parameter_overrides or {}),
    )
    with LocalStack(options) as stack:
        if webhook_scheme is not None:
            assert stack.sandbox is not None
            stack.sandbox.control.set_webhook_signing(webhook_scheme)
        yield target_of(stack)
