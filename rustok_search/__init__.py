"""The `rustok-search` command: the operator interface wiring the three packages."""
