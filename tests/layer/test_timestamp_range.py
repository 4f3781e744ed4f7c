"""Timestamps that are valid ISO-8601 but have no UTC equivalent are malformed, not a crash."""

import pytest
from pay1st.errors import SignatureVerificationError
from pay1st.signing import parse_timestamp
from pay1st.webhooks import verify_webhook


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59.999-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_timestamp_beyond_the_utc_range_is_a_value_error(value):
    with pytest.raises(ValueError, match="out of range"):
        parse_timestamp(value)


def test_a_webhook_with_such_a_timestamp_is_rejected_as_malformed():
    headers = {"X-TIMESTAMP": "9999-12-31T23:59:59.999-05:00", "X-SIGNATURE": "00" * 32}

    with pytest.raises(SignatureVerificationError) as caught:
        verify_webhook(b"{}", headers, "sk_test")

    assert caught.value.reason == "malformed_timestamp"
