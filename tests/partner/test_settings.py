"""Settings.from_env: required settings fail loudly, optional ones have the documented defaults."""

from __future__ import annotations

import pytest
from pay1st_partner.settings import ConfigurationError, Settings

BASE = {
    "PAYMENTS_TABLE": "P",
    "WEBHOOK_EVENTS_TABLE": "W",
    "LOCKS_TABLE": "L",
    "CREDENTIALS_SECRET_NAME": "s",
    "TOKEN_PARAMETER_NAME": "/t",
    "EVENT_BUS_NAME": "b",
    "FULFILMENT_QUEUE_URL": "https://sqs/q",
    "PAY1ST_API_BASE_URL": "https://api.example/",
    "PAY1ST_PAY_BASE_URL": "https://pay.example",
    "RESULT_PAGE_URL": "https://shop.example/result",
}


def test_reads_required_settings_and_defaults():
    settings = Settings.from_env(BASE)
    assert settings.payments_table == "P"
    assert settings.pay1st_api_base_url == "https://api.example"  # trailing slash dropped
    assert settings.environment == "sandbox"
    assert settings.public_base_url is None
    assert settings.webhook_signature_required
    assert (settings.webhook_tolerance_seconds, settings.status_stale_seconds) == (300.0, 30.0)
    assert settings.poll_batch_size == 25
    assert settings.payment_methods_cache_seconds == 300.0
    assert (settings.status_queries_per_second, settings.poll_concurrency) == (5.0, 8)
    assert settings.check_schedule_seconds[:2] == (60.0, 120.0) and settings.check_schedule_seconds[
        19:22
    ] == (
        1200.0,
        1280.0,
        1360.0,
    )
    assert settings.check_schedule_seconds[-2:] == (3600.0, 7200.0)
    assert settings.reconcile_give_up_seconds == 172800.0


def test_reads_optional_settings():
    env = {
        **BASE,
        "ENVIRONMENT": "production",
        "PUBLIC_BASE_URL": "https://pay.shop.example/",
        "WEBHOOK_SIGNATURE_MODE": "off",
        "POLL_BATCH_SIZE": "5",
        "STATUS_STALE_SECONDS": "2.5",
        "STATUS_QUERIES_PER_SECOND": "20",
        "CHECK_SCHEDULE_SECONDS": "30, 90,600",
    }
    settings = Settings.from_env(env)
    assert settings.environment == "production"
    assert settings.public_base_url == "https://pay.shop.example"
    assert not settings.webhook_signature_required
    assert settings.poll_batch_size == 5
    assert settings.status_stale_seconds == 2.5
    assert settings.status_queries_per_second == 20.0 and settings.check_schedule_seconds == (
        30.0,
        90.0,
        600.0,
    )


@pytest.mark.parametrize("missing", sorted(BASE))
def test_a_missing_required_setting_is_named(missing):
    env = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(ConfigurationError, match=missing):
        Settings.from_env(env)


@pytest.mark.parametrize(
    "changes",
    [
        {"ENVIRONMENT": "staging"},
        {"WEBHOOK_SIGNATURE_MODE": "maybe"},
        {"POLL_BATCH_SIZE": "many"},
        {"POLL_BATCH_SIZE": "2.5"},
        {"STATUS_STALE_SECONDS": "-1"},
        {"STATUS_QUERIES_PER_SECOND": "0"},
        {"CHECK_SCHEDULE_SECONDS": "60,30"},
        {"CHECK_SCHEDULE_SECONDS": "0,60"},
        {"CHECK_SCHEDULE_SECONDS": "soon"},
        {"CHECK_SCHEDULE_SECONDS": "60x"},
        {"CHECK_SCHEDULE_SECONDS": "60x2.5"},
        {"CHECK_SCHEDULE_SECONDS": "60x0"},
        {"RESULT_PAGE_URL": "javascript:alert(1)"},
        {"PUBLIC_BASE_URL": "ftp://x"},
    ],
)
def test_malformed_settings_are_rejected(changes):
    with pytest.raises(ConfigurationError):
        Settings.from_env({**BASE, **changes})


def test_is_frozen():
    settings = Settings.from_env(BASE)
    with pytest.raises(AttributeError):
        settings.payments_table = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("", "any"),
        ("any", "any"),
        ("signing-key", "signing-key"),
        ("required", "signing-key"),  # the old name, so existing deployments keep working
        ("BASIC-AUTH", "basic-auth"),
        ("off", "off"),
    ],
)
def test_webhook_signature_modes(value: str, mode: str) -> None:
    settings = Settings.from_env({**BASE, "WEBHOOK_SIGNATURE_MODE": value})
    assert settings.webhook_signature_mode == mode
    assert settings.webhook_signature_required == (mode != "off")


def test_partner_identity_and_status_query_interval() -> None:
    settings = Settings.from_env(BASE)
    assert (settings.partner_code, settings.partner_id) == (None, None)
    assert settings.status_query_min_interval_seconds == 15.0
    env = {
        **BASE,
        "PAY1ST_PARTNER_CODE": "GEMS",
        "PAY1ST_PARTNER_ID": "9",
        "STATUS_QUERY_MIN_INTERVAL_SECONDS": "20",
    }
    settings = Settings.from_env(env)
    assert (settings.partner_code, settings.partner_id, settings.status_query_min_interval_seconds) == (
        "GEMS",
        "9",
        20.0,
    )
    with pytest.raises(ConfigurationError):
        Settings.from_env({**BASE, "PAY1ST_PARTNER_ID": "nine"})


def test_a_check_schedule_is_written_in_steps() -> None:
    """``STEPxCOUNT``: COUNT offsets STEP apart after the previous one; the template's value is the default
    (every minute for 20 minutes, every 80 s to the hour, then every 2 hours)."""
    steps = Settings.from_env({**BASE, "CHECK_SCHEDULE_SECONDS": "30x2,600"}).check_schedule_seconds
    assert steps == (30.0, 60.0, 600.0)
    template = Settings.from_env(
        {**BASE, "CHECK_SCHEDULE_SECONDS": "60x20,80x30,7200"}
    ).check_schedule_seconds
    assert template == Settings.from_env(BASE).check_schedule_seconds and len(template) == 51
