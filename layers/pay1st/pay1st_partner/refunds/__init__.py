"""Refunds of a payment: the partner's request, the refunded totals and their guard."""
