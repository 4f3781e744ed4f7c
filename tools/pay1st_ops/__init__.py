"""``python -m pay1st_ops``: the operator's command line for a deployed stack or a running local stack.

Find a payment, read its whole story, and fix it with audited commands (reconcile, replay a stored webhook,
republish events, redrive fulfilments), through the layer's own domain and adapters: the same rules the
functions apply. Reads use keys and indexes only, never a table scan.
"""
