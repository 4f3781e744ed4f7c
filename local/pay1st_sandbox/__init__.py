"""The Pay1st sandbox: a local HTTP stand-in for the Pay1st Gateway, written from the gateway's side of
`pay1st-gateway.md`. It deliberately imports nothing from the layer (`pay1st`): two implementations
that shared a bug would agree with each other.
"""

from .client import SandboxControl, SandboxControlError
from .config import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_PORT,
    DEFAULT_SIGNING_KEY,
    SandboxConfig,
)
from .server import SandboxServer
from .state import SandboxState

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "DEFAULT_PORT",
    "DEFAULT_SIGNING_KEY",
    "SandboxConfig",
    "SandboxControl",
    "SandboxControlError",
    "SandboxServer",
    "SandboxState",
]
