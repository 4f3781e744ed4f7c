"""Pay1st Gateway client: the partner side of the Pay1st contract (../shared/pay1st-gateway.md).

Deviations from the agreed API: none. Clarifications and additions (nothing renamed or removed):

- ``TokenManager``'s issuer must accept ``deadline=`` keywords: ``generate_token(*, deadline=None)`` and
  ``refresh_token(refresh_token, *, deadline=None)`` (protocol ``pay1st.tokens.TokenIssuer``;
  ``Pay1stClient`` is one). ``TokenManager.get(*, deadline=None)`` takes an optional deadline too.
- ``PaymentStatus`` is a namespace of plain ``str`` constants (not an ``Enum``), so unknown statuses stay
  ordinary strings; ``FINAL_STATUSES``/``KNOWN_STATUSES`` exist on it and at module level.
- ``WebhookEvent.partner_id`` is ``str | None`` (the JSON number, as text).
- Responses have ``from_dict``/``from_json``; ``PaymentMethods`` has ``groups`` of ``PaymentMethodGroup``
  holding ``PaymentChannel`` entries, ``.channels`` and ``.channel(id)``.
- Extra names: ``errors.ConfigurationError`` (e.g. a credentials secret without a key),
  ``errors.UnexpectedResponseError`` (a 2xx of the wrong shape), ``pay1st.iso`` (country/currency
  checks), ``models.fulfilment_json_bytes``, ``Pay1stClient.tokens`` (its ``TokenManager``, for
  ``counters``), ``Pay1stClient(..., monotonic=, rng=)``, and ``ClientConfig.token_lock_lease`` /
  ``pool_maxsize``.
- ``errors.OutcomeUnknownError`` is a direct ``Pay1stError`` carrying ``status``/``error_code``/
  ``session_id``, not a ``Pay1stConnectionError`` (which means "not processed"): no ``except`` order can
  mistake one for the other. ``retry.decide``/``should_retry`` take ``outcome_unknown_if_lost=``
  (formerly ``create=``, still accepted).

Core modules (stdlib + urllib3 only; no boto3, no Powertools, no Lambda):

- ``pay1st.errors``     one error hierarchy and the single status → error mapping
- ``pay1st.signing``    §4 request signatures and the X-TIMESTAMP format
- ``pay1st.webhooks``   §10 webhook signature/timestamp verification over the raw body
- ``pay1st.models``     request/response/webhook types, Decimal money (``payment_methods``: the §6 ones,
  ``refund_models``: the §15 ones, both re-exported; ``_fields``: the field checks)
- ``pay1st.tokens``     tokens, the TokenStore port, the single-flight TokenManager
- ``pay1st.retry``      retry policy as pure functions, deadlines
- ``pay1st.checkout``   §8 checkout links
- ``pay1st.client``     Pay1stClient: one thin method per gateway operation, one call path
- ``pay1st.config``     ClientConfig and Credentials (re-exported by ``pay1st.client``)
- ``pay1st.operations`` the operation table: method, path, content types, auth, signing, retry safety
- ``pay1st.transport``  sends one request (urllib3), classifies transport failures as sent/not sent
- ``pay1st.sending``    the one retry loop
- ``pay1st.auth_headers`` each attempt's headers: Basic or AccessToken, the §4 signature
- ``pay1st.redaction``  secrets scrubbed from gateway error bodies
- ``pay1st.iso``        ISO 3166-1 alpha-2 and ISO 4217 codes

Adapters (may import boto3/Powertools): ``pay1st.aws`` (SsmTokenStore, load_credentials).

This package imports nothing on import: import the submodule you need.
"""

# The bundle's version (one for the template, the layer and the client; tests/ship/test_versions.py keeps them equal).
__version__ = "1.0.0"
