"""AWS adapters for the layer's ports (these may import boto3 and Powertools; the core never does).

- :class:`SsmTokenStore`: the shared token cache in an SSM SecureString parameter, with a lease lock in
  the DynamoDB locks table.
- :func:`load_credentials`: API key, API secret and Signing Key from one Secrets Manager secret;
  :func:`load_webhook_credentials`: the keys webhooks verify under (with rotation), from the same secret.
"""

from pay1st.aws.credentials import (
    load_callback_key_material,
    load_credentials,
    load_previous_callback_key_material,
    load_webhook_credentials,
)
from pay1st.aws.token_store import SsmTokenStore

__all__ = [
    "SsmTokenStore",
    "load_callback_key_material",
    "load_credentials",
    "load_previous_callback_key_material",
    "load_webhook_credentials",
]
