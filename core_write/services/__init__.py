"""Entity services: each one runs inside a `Unit` (one transaction) behind
`unit.write_service` (input checks, the tenant and its module), runs the named SQL of
`core_write/sql/<service>.sql` and the row gateway (`rows`), and emits the events of its
change. A write returns the written row as a dict; rows a service itself reads field by field
become frozen dataclasses (e.g. `orders.OrderLine`)."""
