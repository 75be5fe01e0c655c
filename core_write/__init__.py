"""Write side of RusToK Search and the kernel every package shares (the manifest's
rustok-core): ids (`ids`), the error hierarchy of every package (`errors`), settings composed
of one part per process and engine (`settings`, `process_settings`), input checks and limits
(`validate`), the event catalog (`events`), connections and the translation of asyncpg
errors (`db`, `resources`), named SQL (`queries`, `sql/`), the unit of work that commits a
service call's rows with the outbox rows of its events (`unit`), the row gateway (`rows`) and
the entity services (`services/`), migrations and order partitions (`migrations`,
`partitions`), and the stop-aware pause and backoff of every daemon loop (`backoff`).
Imports none of the other packages."""
