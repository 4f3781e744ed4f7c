"""The partner bundle's payment domain: use cases, persistence and HTTP plumbing on top of ``pay1st``.

Unlike the gateway client core (``pay1st``), this package may use boto3 and Powertools.
"""
