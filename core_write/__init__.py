"""Write side of RusToK Search: ids, errors, settings, the event catalog, the outbox and the
entity services that perform normalized CRUD in PostgreSQL (the manifest's rustok-core)."""
