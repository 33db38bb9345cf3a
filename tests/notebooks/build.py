"""Writes the toy notebooks of this folder (run: ``python tests/notebooks/build.py``).

They exercise the runner without the sandbox: one per outcome (ok, warn, fail, raise, kernel death,
timeout), a plotly chart, and a leaky one that prints credentials for the scrubbing test."""
from __future__ import annotations

from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).resolve().parent

PARAMS = '''profile = "sandbox"
run_id = None
incident_id = None
threshold: int = 10  # checks fail above this
ratio = 0.5
label = "toy"
flag = False
hours = [1, 2]'''

SETUP = "import opslib.notebook\nfrom opslib.findings import Check, record_findings\nprofile = opslib.notebook.setup(profile)"


def notebook(name: str, purpose: str, cells: list[str], *, read_only: bool = True, params: str = PARAMS,
             setup: bool = True) -> None:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["opslib"] = {"read_only": read_only, "purpose": purpose}
    nb.cells.append(nbf.v4.new_markdown_cell(f"# Toy: {name}\n\n{purpose}"))
    p = nbf.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells.append(p)
    if setup:
        nb.cells.append(nbf.v4.new_code_cell(SETUP))
    nb.cells.extend(nbf.v4.new_code_cell(c) for c in cells)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name}-{i}"
    nbf.write(nb, HERE / f"{name}.ipynb")


def main() -> None:
    notebook("ok", "Every check passes.", [
        'record_findings([Check.ok("threshold", f"threshold is {threshold}", threshold=threshold, ratio=ratio),\n'
        '                 Check.ok("identity", "run and incident ids as injected", run_id=run_id, incident_id=incident_id,'
        ' label=label)])'])
    notebook("warn", "One check warns.", [
        'record_findings([Check.ok("a", "fine"), Check.warn("b", "getting close", used_pct=79.5)])'])
    notebook("fail", "One check fails.", [
        'record_findings([Check.ok("a", "fine"), Check.fail("completeness", "hour 11:00 dropped 62%", drop_pct=62.0)])'])
    notebook("raise", "Records a finding, then raises.", [
        'record_findings([Check.ok("before", "recorded before the error")])',
        'raise ValueError("the toy notebook raised on purpose")'], read_only=False)
    notebook("die", "The kernel dies.", ["import os\nos._exit(1)"], read_only=False, setup=False)
    notebook("slow", "Sleeps past any short timeout.", [
        'import os, time\n'
        'if os.environ.get("TOY_STARTED"):          # tests: the sleeping cell has started\n'
        '    open(os.environ["TOY_STARTED"], "w").close()\n'
        'time.sleep(60)'], read_only=False, setup=False)
    notebook("chart", "Two plotly charts.", [
        'import plotly.express as px\nfig = px.line(x=[1, 2, 3, 4], y=[3, 1, 4, 1], title="toy line")\nfig',
        'import plotly.graph_objects as go\ngo.Figure(go.Bar(x=["a", "b"], y=[2, 5]), layout_title_text="toy bars")',
        'record_findings([Check.ok("charts", "two charts drawn", charts=2)])'], read_only=True)
    notebook("environment", "Records the OPSLIB_* settings its kernel was started with.", [
        'import os\nfrom opslib import settings\n'
        'record_findings([Check.ok("kernel-environment", "the settings of the kernel", run_id=run_id,\n'
        '                          env_run_id=os.environ.get(settings.RUN_ID_ENV),\n'
        '                          env_audit_dir=os.environ.get(settings.AUDIT_DIR_ENV),\n'
        '                          env_lab_profile=os.environ.get(settings.LAB_PROFILE_ENV))])'])
    notebook("kernel", "Records how its kernel process was made (tests/test_forked_kernel.py).", [
        'import os, sys\n'
        'def target(fd):\n'
        '    try:\n'
        '        return os.readlink(f"/proc/self/fd/{fd}")\n'
        '    except OSError:\n'
        '        return None\n'
        'cmdline = open("/proc/self/cmdline", "rb").read().split(b"\\0")\n'
        'record_findings([Check.ok("kernel-process", "how the kernel was made", pid=os.getpid(), ppid=os.getppid(),\n'
        '                          sid=os.getsid(0), launcher=any(b"ipykernel_launcher" in a for a in cmdline),\n'
        '                          runner_modules="opslib.runner.execute" in sys.modules, fd_target=target(fd),\n'
        '                          cwd=os.getcwd(), marker=os.environ.get("TOY_MARKER"),\n'
        '                          parent_handle=get_ipython().kernel.parent.parent_handle)])'],
        params='profile = "sandbox"\nfd = -1')
    notebook("leaky", "Prints credentials from its environment and parameters, then raises with one.", [
        'import os, json\nprint(json.dumps(dict(os.environ), indent=1))',
        'print("database url:", db_url)\nfrom opslib.config import load_profile\n'
        'print(load_profile(profile).databases.warehouse.url)',
        'import boto3, botocore.exceptions\n'
        'try:\n'
        '    boto3.client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",\n'
        '                 config=botocore.config.Config(retries={"max_attempts": 0}, connect_timeout=0.2)).list_buckets()\n'
        'except botocore.exceptions.BotoCoreError as exc:\n'
        '    print("boto3:", exc, os.environ.get("AWS_SESSION_TOKEN"))',
        'raise RuntimeError(f"cannot sign in with {os.environ[\'AWS_SECRET_ACCESS_KEY\']} at {db_url}")'],
        read_only=False, params='profile = "sandbox"\ndb_url = "sqlite://"')


if __name__ == "__main__":
    main()
