"""Writes to the code inventory, by concern: `batches` (create, review, withdraw),
`imports` (run an import), `allocation` (reserve, sell, release, cancel), `reveal`
(show and export values, audited), `validation` (verify, redeem, revoke) and
`rotation` (re-encrypt). `codes/` owns every write to Code rows (STYLE 9.1)."""
