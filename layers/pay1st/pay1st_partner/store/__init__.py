"""The payments store: its port (``port``), the item layout, and its adapters (``dynamodb``, ``memory``).

Only the runtime wiring imports the adapters; everything else talks to the port.
"""
