"""The tamper-evident audit log: the hash chain over the event log, node keys,
verification and the portable export (``docs/design/audit.md``)."""
