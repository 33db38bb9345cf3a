"""The runbook's sections, one module or package per section of the operations runbook.

Each is what a notebook of ``notebooks/`` calls; they build on the infrastructure beside this package
(``opslib.config``, ``connection``, ``findings``, ``charts``, ``notify``, ``aws``, ``actions``, ``runner``) and
never the other way round.
"""
