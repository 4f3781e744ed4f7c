"""The payments store in memory, with the DynamoDB store's semantics (the store contract tests run both)."""
