"""The `rustok-search` command, the entry layer wiring the three packages: its subcommands
(`cli`), `serve` as one supervised process group (`supervisor`), the demo (`demo`; its data
plans in `demo_data`, written through the services by `demo_writer`), JSON logs (`logs`),
progress bars (`progress`) and the stop signal of every daemon (`signals`). The only package
that may import all three."""
