"""One module per TensorBoard plugin: its name, its metadata and pure summary builders.

Each module states its on-disk contract in its docstring and has the same shape:
``PLUGIN_NAME``, ``create_summary_metadata()`` and ``<kind>_pb(...)`` functions that turn
already-converted values into a ``Summary`` proto, without touching files or clocks.
"""
