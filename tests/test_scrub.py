"""Credential scrubbing of text, objects, notebooks (the end-to-end run is in test_runs_cli.py)."""
from __future__ import annotations

import nbformat

from opslib.runner.scrub import REDACTED, Scrubber, scrubber, secrets_in

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
BARE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"      # 40 characters, as AWS prints it
ENV = {"AWS_ACCESS_KEY_ID": "AKIAZZZZ7EXAMPLEKEY1", "AWS_SECRET_ACCESS_KEY": SECRET,
       "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjEXAMPLETOKENvalue0123456789",
       "ANALYTICS_DB_URL": "postgresql://ops:DbPassw0rd!@db:5432/analytics",
       "PWD": "/work/main", "HOME": "/root", "AWS_DEFAULT_REGION": "us-east-1"}


def test_literal_secrets_come_from_credential_names_and_url_passwords():
    found = secrets_in(ENV)
    assert {SECRET, "DbPassw0rd!", ENV["AWS_SESSION_TOKEN"]} <= found
    assert "AKIAZZZZ7EXAMPLEKEY1" not in found          # an access key id names a key: it is not a secret
    assert "/work/main" not in found and "us-east-1" not in found
    assert "testing" not in secrets_in({"AWS_SECRET_ACCESS_KEY": "testing"})


def test_patterns_catch_unknown_credentials():
    s = Scrubber()
    text = ("key AKIAIOSFODNN7EXAMPLE url postgresql://u:pw@h/db aws_secret_access_key = abc/def+ghi "
            '"password": "hunter2" https://hooks.slack.com/services/T00/B00/XXXX git 0123456789abcdef0123456789abcdef01234567'
            f" bare {BARE_SECRET}, path /work/wt/drills/opslib/runner/scrub.py")
    out = s(text)
    for leaked in (":pw@", "abc/def+ghi", "hunter2", "T00/B00/XXXX", BARE_SECRET):
        assert leaked not in out
    assert "0123456789abcdef0123456789abcdef01234567" in out     # a git revision is not a secret
    assert "key AKIAIOSFODNN7EXAMPLE url" in out                  # nor is an access key id: it names the key
    assert "/work/wt/drills/opslib/runner/scrub.py" in out
    assert out.count(REDACTED) == 5


def test_notebook_scrub_keeps_authored_code_but_not_outputs():
    s = scrubber(environ=ENV)
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("token = next_token\nprint(os.environ)")
    code.outputs = [nbformat.v4.new_output("stream", text=str(ENV)),
                    nbformat.v4.new_output("error", ename="E", evalue=f"bad {SECRET}", traceback=[f"x {SECRET}"])]
    injected = nbformat.v4.new_code_cell('db_url = "postgresql://a:InjectedPw@h/db"')
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells += [injected, code]
    nb.metadata["papermill"] = {"parameters": {"db_url": "postgresql://a:InjectedPw@h/db"}}
    out = nbformat.writes(s.notebook(nb))
    for leaked in (SECRET, "DbPassw0rd!", "InjectedPw", ENV["AWS_SESSION_TOKEN"]):
        assert leaked not in out
    assert "AKIAZZZZ7EXAMPLEKEY1" in out                          # the key id stays readable
    assert "token = next_token" in out
