"""Pay1st's webhooks: authenticate, record durably, then hand the report to payments or refunds."""
