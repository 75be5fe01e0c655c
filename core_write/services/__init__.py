"""Entity services: each function runs inside a `Unit` (one transaction), writes its rows and
emits the events of its change. They return the written row as a dict."""
