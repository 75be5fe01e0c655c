"""The HTTP search API (aiohttp): app and wiring, routes (search, suggest, admin reindex, jobs
and dead letters, tenants and keys for operators in `accounts`, health, metrics, the preview
page in `static/`), GraphQL (`graphql/`), API keys, parameter parsing into one query model
(`model`, `params`), read-your-writes and the `stale` flag (`freshness`), problem+json errors
(`errors`, `protocol`), OpenAPI; one backend per engine (`backends/`) over pure query
compilers (`compile_pg` with its `pg_*` parts, `compile_tantivy`, `compile_meili` with its
`meili_*` parts). Reads the indexer's document model and engine readers; nothing below it
imports this package."""
