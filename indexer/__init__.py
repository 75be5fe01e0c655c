"""Read side of RusToK Search: the outbox relay onto Redis Streams (`relay`; stream ids and
trim points in `streams`), the stream consumer (`consumer`) that plans which documents an
event changes (`fanout`) and rebuilds them set-based into the index tables (`documents`;
named SQL in `sql/`, loaded by `queries`), the document model every engine and the API
share (`model`), the engine change queue (`engine_queue`) drained by one follower skeleton
(`follower`, reading `index_rows`) into the engines (`tantivy/`, `meili/`, `engines`),
reindex and generation rebuilds (`reindex`, `rebuild`), `verify`/repair, and the daemon that
runs them (`daemon`, `metrics`). Imports `core_write`, never `search_api`."""
