"""`runbook runs verify` misses nothing: the manifest is a hash chain, and a deleted, edited or reordered
entry, a deleted or emptied manifest, a stray file, a changed byte, a missing folder each exit 1 naming
the place. Archives are built with the real archive code (files written once, entries appended under the
lock), no kernel; S3 against a moto server over HTTP with a real boto3 client."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from opslib.cli import main
from opslib.runner.archive import GENESIS, MANIFEST, LocalArchive, S3Archive, chain_hash
from opslib.runner.verify import verify_archive


def add_run(archive, n: int, *, notebook: str = "toy") -> dict:
    """A run's two files written once and its entry appended, as run_notebook does."""
    stem = f"2026/11/27/1200{n:02d}Z-{notebook}-{n:012d}"
    files = {}
    for kind in ("ipynb", "html"):
        data = f"{kind} of run {n}\n".encode() * 50
        rel = f"{stem}.{kind}"
        files[kind] = {"rel": rel, "path": archive.write_once(rel, data),
                       "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    return archive.append_manifest({"id": f"{n:012d}", "notebook": notebook, "start": f"2026-11-27T12:00:{n:02d}+00:00",
                                    "status": "ok", "files": files})


def verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["runs", "verify", *args], standalone_mode=False, catch_exceptions=False)
    return result.return_value, result.output


@pytest.fixture
def archive(tmp_path) -> LocalArchive:
    store = LocalArchive(tmp_path / "archive")
    for n in range(1, 5):
        add_run(store, n)
    return store


def lines(store: LocalArchive) -> list[str]:
    return (store.root / MANIFEST).read_text().splitlines()


def rewrite(store: LocalArchive, new_lines: list[str]) -> None:
    (store.root / MANIFEST).write_text("".join(x + "\n" for x in new_lines))


def test_entries_are_chained_and_verify_prints_the_head(archive):
    entries = [json.loads(x) for x in lines(archive)]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert entries[0]["prev"] == GENESIS
    for before, after, raw in zip(entries, entries[1:], lines(archive)):
        assert after["prev"] == hashlib.sha256(raw.encode()).hexdigest()
    head = chain_hash(lines(archive)[-1].encode())
    rc, out = verify("--archive", str(archive.root))
    assert rc == 0, out
    assert "4 manifest entries, chain intact; 8 files checked; 0 problems" in out
    assert f"chain head: {head}" in out
    assert verify("--archive", str(archive.root), "--expect-head", head)[0] == 0


def test_deleted_manifest_line_breaks_the_chain_at_that_place(archive):
    kept = lines(archive)
    rewrite(archive, kept[:1] + kept[2:])           # the second run disappears from the manifest
    rc, out = verify("--archive", str(archive.root))
    assert rc == 1
    assert "CHAIN" in out and "manifest line 2" in out and "after line 1" in out and "000000000003" in out
    assert "ORPHAN" in out and "120002Z-toy-000000000002.ipynb" in out     # its files are now listed by no one


def test_deleted_last_line_leaves_orphans_and_loses_the_recorded_head(archive):
    head = chain_hash(lines(archive)[-1].encode())
    rewrite(archive, lines(archive)[:-1])
    rc, out = verify("--archive", str(archive.root), "--expect-head", head)
    assert rc == 1
    assert "120004Z-toy-000000000004.html" in out and "ORPHAN" in out
    assert f"HEAD" in out and head in out


def test_reordered_lines_break_the_chain(archive):
    kept = lines(archive)
    rewrite(archive, [kept[0], kept[2], kept[1], kept[3]])
    rc, out = verify("--archive", str(archive.root))
    assert rc == 1 and "manifest line 2" in out and "CHAIN" in out


def test_one_edited_byte_in_an_entry_breaks_the_chain_after_it(archive):
    kept = lines(archive)
    kept[1] = kept[1].replace('"status": "ok"', '"status": "ko"')
    rewrite(archive, kept)
    rc, out = verify("--archive", str(archive.root))
    assert rc == 1 and "manifest line 3" in out and "after line 2" in out


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_missing_or_empty_manifest_with_runs_fails(archive, how):
    path = archive.root / MANIFEST
    path.unlink() if how == "deleted" else path.write_text("")
    rc, out = verify("--archive", str(archive.root))
    assert rc == 1 and "NO-MANIFEST" in out and "8 files exist" in out
    assert ("no manifest" if how == "deleted" else "the manifest is empty") in out


def test_stray_file_is_an_orphan(archive):
    (archive.root / "2026" / "11" / "27" / "stray.html").write_text("<html>not from a run</html>")
    rc, out = verify("--archive", str(archive.root))
    assert rc == 1 and "ORPHAN" in out and "stray.html" in out


def test_one_changed_byte_and_a_missing_file(archive):
    entry = json.loads(lines(archive)[2])
    path = archive.root / entry["files"]["html"]["rel"]
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[10] ^= 1
    path.write_bytes(bytes(data))
    (archive.root / json.loads(lines(archive)[0])["files"]["ipynb"]["rel"]).unlink()
    rc, out = verify("--archive", str(archive.root))
    assert rc == 1
    assert "CHANGED" in out and entry["files"]["html"]["rel"] in out
    assert "MISSING" in out and "120001Z-toy-000000000001.ipynb" in out


def test_folder_that_does_not_exist(tmp_path):
    rc, out = verify("--archive", str(tmp_path / "nowhere"))
    assert rc == 1 and "NO-ARCHIVE" in out and str(tmp_path / "nowhere") in out


def test_an_empty_archive_folder_verifies(tmp_path):
    (tmp_path / "new").mkdir()
    rc, out = verify("--archive", str(tmp_path / "new"))
    assert rc == 0 and "0 manifest entries" in out


def test_audit_log_is_not_an_orphan(archive):
    (archive.root / "audit").mkdir()
    (archive.root / "audit" / "audit.jsonl").write_text('{"id": "x"}\n')
    assert verify("--archive", str(archive.root))[0] == 0


def _append_many(root: str, first: int, count: int) -> None:
    store = LocalArchive(Path(root))
    for n in range(first, first + count):
        store.append_manifest({"id": f"c{n}", "start": "2026-11-27T00:00:00+00:00", "files": {}})


def test_concurrent_appends_keep_one_chain(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(tmp_path), 100 * i, 15)) for i in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    store = LocalArchive(tmp_path)
    report = verify_archive(store)
    assert report.ok, report.summary()
    assert [e["seq"] for e in store.manifest()] == list(range(1, 91))
    assert len({e["id"] for e in store.manifest()}) == 90


# -- S3 ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3_client():
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket="evidence")
    yield client
    server.stop()


def test_s3_chain_orphans_and_deleted_entry(s3_client):
    store = S3Archive(s3_client, "evidence", "chain")
    for n in range(1, 4):
        add_run(store, n)
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket="evidence", Prefix="chain/manifest/")["Contents"]]
    assert keys == [f"chain/manifest/{n:012d}.json" for n in (1, 2, 3)]
    report = verify_archive(store)
    assert report.ok and report.entries == 3 and report.files_checked == 6, report.summary()
    s3_client.put_object(Bucket="evidence", Key="chain/2026/11/27/stray.ipynb", Body=b"{}")
    s3_client.delete_object(Bucket="evidence", Key="chain/manifest/000000000002.json")
    report = verify_archive(store)
    kinds = {(p.kind, p.place) for p in report.problems}
    assert ("chain", "manifest manifest/000000000003.json") in kinds
    assert ("orphan", "s3://evidence/chain/2026/11/27/stray.ipynb") in kinds
    assert ("orphan", "s3://evidence/chain/2026/11/27/120002Z-toy-000000000002.html") in kinds
    assert not verify_archive(S3Archive(s3_client, "evidence", "no-such-prefix")).ok


def test_s3_concurrent_appends_take_distinct_places(s3_client):
    store = S3Archive(s3_client, "evidence", "race")

    def one(n):
        return S3Archive(s3_client, "evidence", "race").append_manifest(
            {"id": f"r{n}", "start": "2026-11-27T00:00:00+00:00", "files": {}})

    with ThreadPoolExecutor(6) as pool:
        stored = list(pool.map(one, range(18)))
    assert sorted(e["seq"] for e in stored) == list(range(1, 19))
    report = verify_archive(store)
    assert report.ok, report.summary()
