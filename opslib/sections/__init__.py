"""The runbook's sections, one module or package per section of the operations runbook.

Each is what a notebook of ``notebooks/`` calls; they build on the infrastructure beside this package
(``opslib.config``, ``connection``, ``findings``, ``charts``, ``notify``, ``aws``, ``actions``, ``events_table``,
``records``, ``pg_connections``, ``retention``, and ``runner``'s archive) and never the other way round; a
section never imports another (what two sections share lives below them). ``tests/test_layers.py`` holds both.
"""
