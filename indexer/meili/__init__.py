"""The Meilisearch engine: one index per tenant and document type (`indexes`, with the
settings of `documents`), fed from the index tables through `engine_queue` by one follower
(`follower`; run by the daemon and read by verify through `engine`) and rebuilt behind an
index swap; the client and task waits (`client`), settings and index names (`config`). Its
documents are built in `indexer.model.engines`."""
