"""Payments: create one at Pay1st, its attempts, confirming what Pay1st reports, callbacks, fulfilment."""
