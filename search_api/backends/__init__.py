"""Search backends, one module per engine, each implementing `search_api.model.SearchBackend`:
`postgres.PostgresBackend(pool)` (the reference) and `tantivy.TantivyBackend(reader)`."""
