"""Writes of the sales app, by concern: `checkout` (order and reservation),
`payments` (confirm, fail, expire, reconcile), `events` (provider webhooks),
`delivery` (the email outbox), `stock` (sold-out and low-stock alerts) and
`refunds`. Provider calls and email happen outside transactions; tasks are
queued after commit (`distribly.tasks`)."""
