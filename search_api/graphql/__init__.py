"""GraphQL at `/graphql`: search, lookups and `core_write` mutations for headless clients, a
federated subgraph (strawberry-graphql)."""
