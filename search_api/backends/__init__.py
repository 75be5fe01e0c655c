"""Search backends, one module per engine, each implementing `search_api.model.SearchBackend`:
`postgres.PostgresBackend(pool)` (the reference), `tantivy.TantivyBackend(reader)` and
`meilisearch.MeilisearchBackend(config)`; hits carry `indexer.model` documents, matches are
marked by `highlight`."""
