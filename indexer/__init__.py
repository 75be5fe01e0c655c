"""Read side of RusToK Search: the outbox relay onto Redis Streams, and (later) the consumer,
document builders, engine followers and reindex."""
