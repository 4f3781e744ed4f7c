"""A real browser (Debian's headless Chromium via Playwright) pays on the sandbox's hosted page."""

from __future__ import annotations

import json
import os
import uuid

import pytest
import urllib3
from local_stack.stack import LocalStack

from tests.local.local_kit import partner_request

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


def create_payment(api_url: str) -> dict[str, str]:
    order = {
        "partnerReference": f"browser-{uuid.uuid4().hex[:10]}",
        "amount": 99.99,
        "currencyCode": "NGN",
        "countryCode": "NG",
        "products": [
            {"title": "Battle Pass", "sku": "PASS-1", "price": 99.99, "quantity": 1, "currencyCode": "NGN"}
        ],
        "metadata": [],
    }
    response = partner_request(urllib3.PoolManager(retries=False), "POST", f"{api_url}/payments", order)
    assert response.status == 201, response.data
    created: dict[str, str] = json.loads(response.data)
    return created


def test_customer_pays_in_a_browser_and_lands_on_the_result_page(local_stack: LocalStack) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: set CHROMIUM_PATH to a Chromium, or `make browser-deps` (Debian)"
        )
    created = create_payment(local_stack.api_url)
    # Pay1st's webhook never arrives: the customer's return alone must tell the truth.
    assert local_stack.sandbox is not None
    local_stack.sandbox.control.set_faults(webhook_drop_rate=1.0)
    try:  # the stack is the module's: its next tests get their webhooks whatever happens here
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page()
                page.set_default_timeout(30_000)  # a ceiling for a loaded CI machine, not a timing assertion
                page.goto(created["checkoutUrl"])
                sync_api.expect(page.locator("#pay")).to_be_visible()
                page.click("#pay")
                page.wait_for_url(f"{local_stack.result_page_url}*")
                # The callback asked Pay1st and sent the customer on with the real status, at once
                assert page.locator("#callback-said").inner_text().startswith("SUCCESSFUL /")
                sync_api.expect(page.locator("#status")).to_have_text("SUCCESSFUL")
                assert page.locator("#payment").inner_text() == created["partnerReference"]
            finally:
                browser.close()
    finally:
        local_stack.sandbox.control.clear_faults()

    status = partner_request(
        urllib3.PoolManager(retries=False),
        "GET",
        f"{local_stack.api_url}/payments/{created['partnerReference']}",
    )
    assert json.loads(status.data)["status"] == "SUCCESSFUL"


def test_customer_pays_by_card_with_an_otp_step_by_step(local_stack: LocalStack) -> None:
    """Given a Nigerian payment's checkout page in a real browser, when the customer chooses the card step by
    step, types the Visa test card and then its OTP, then the page asks each in turn (the payment is
    SEND_OTP in between, and the partner's status route shows NEW with step SEND_OTP), the browser lands on the result page with SUCCESSFUL, and the sandbox announced
    SEND_OTP then SUCCESSFUL."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make browser-deps` installs Debian's chromium")
    assert local_stack.sandbox is not None
    created = create_payment(local_stack.api_url)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)  # a ceiling for a loaded CI machine, not a timing assertion
            page.goto(created["checkoutUrl"])
            page.click("#steps-101")
            page.fill("#card-number", "4084 0840 8408 4081")
            page.click("#submit-step")
            sync_api.expect(page.locator("#step")).to_have_attribute("data-status", "SEND_OTP")
            reference = local_stack.sandbox.control.payment(created["partnerReference"])["reference"]
            assert local_stack.sandbox.control.payment(reference)["status"] == "SEND_OTP"
            # The partner's status route shows the step on the way (§9): open, not paid, mid-payment
            local_stack.sandbox.control.flush_webhooks(15)
            assert payment_shown(local_stack, created["partnerReference"])[:2] == ("NEW", "SEND_OTP")
            page.fill("#otp", "123456")
            page.click("#submit-step")
            page.wait_for_url(f"{local_stack.result_page_url}*")
            sync_api.expect(page.locator("#status")).to_have_text("SUCCESSFUL")
            assert page.locator("#payment").inner_text() == created["partnerReference"]
        finally:
            browser.close()
    local_stack.sandbox.control.flush_webhooks(15)
    sent = [
        d["status"] for d in local_stack.sandbox.control.webhook_deliveries() if d["reference"] == reference
    ]
    assert sent == ["SEND_OTP", "SUCCESSFUL"]
    assert payment_shown(local_stack, created["partnerReference"]) == ("SUCCESSFUL", None, None)


def payment_shown(stack: LocalStack, partner_reference: str) -> tuple[str, str | None, str | None]:
    """What GET /payments/<ref> shows: its status, step and stepAt."""
    response = partner_request(
        urllib3.PoolManager(retries=False), "GET", f"{stack.api_url}/payments/{partner_reference}"
    )
    assert response.status == 200, response.data
    shown = json.loads(response.data)
    return shown["status"], shown.get("step"), shown.get("stepAt")
