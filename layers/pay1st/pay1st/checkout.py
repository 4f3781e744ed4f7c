"""Checkout links (contract §8). The link carries an access token: build it, hand it over, never log it."""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["build_checkout_url"]


def build_checkout_url(
    pay_url: str, reference: str, access_token: str, channel_id: str | int | None = None
) -> str:
    """``<pay>/checkout?channelId=…&reference=…&accessToken=…`` with every value URL-escaped.

    Without ``channel_id`` the customer chooses among all payment methods.
    """
    if not reference:
        raise ValueError("reference is required")
    if not access_token:
        raise ValueError("access token is required")
    params = []
    if channel_id is not None and str(channel_id) != "":
        params.append(f"channelId={quote(str(channel_id), safe='')}")
    params.append(f"reference={quote(reference, safe='')}")
    params.append(f"accessToken={quote(access_token, safe='')}")
    return f"{pay_url.rstrip('/')}/checkout?{'&'.join(params)}"
