"""``python -m pay1st_ops``: the operator's command line for a deployed stack or a running local stack.

Find a payment, read its whole story, and fix it with audited commands (reconcile, replay a stored webhook,
republish events, redrive fulfilments), through the layer's own domain and adapters: the same rules the
functions apply. Reads use keys and indexes only, never a table scan.
"""

import os

# Before any layer module is imported: a command line flushes no metrics (Powertools would print them to
# stdout), and the domain's JSON logs go to stderr at WARNING (``wiring.quiet_logs``), apart from the output.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
