"""`make test` spreads whole groups over the workers (`--dist loadgroup`, the groups tests/conftest.py gives: a
module, or the modules sharing the healthy runs), so a module's sandbox and runs are set up on one worker only.
pytest-xdist marks a test's group by appending ``@<group>`` to its node id; when a pytest release changes how node
ids are stored and that stops working, the groups are silently ignored: this test then fails."""
from __future__ import annotations


def test_the_worker_runs_this_module_as_one_group(request):
    under_loadgroup = getattr(request.config.option, "loadgroup", False)      # set by xdist on its workers
    suffix = "@" + request.node.path.name
    if under_loadgroup:
        assert request.node.nodeid.endswith(suffix), f"{request.node.nodeid}: xdist ignored the group"
    else:
        assert not request.node.nodeid.endswith(suffix)
