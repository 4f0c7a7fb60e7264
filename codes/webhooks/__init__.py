"""Outgoing webhooks to a seller's URL: `signing` (signature, URL guard) and
`delivery` (the outbox: emit, send, retry, sweep)."""
