"""The Datasets API client against a real local HTTP server (tests/s2_fake_api.py)."""

import hashlib
import random
import time

import pytest

from revmatch.corpus import download, s2_api
from revmatch.corpus.manifest import build_manifest, find_entry, fresh_url, shard_name, write_manifest_file
from revmatch.corpus.s2_api import ApiSettings, AuthError, DownloadError
from revmatch.corpus.settings import S2Settings
from s2_fake_api import FakeS2, gzip_lines, paper_record


@pytest.fixture
def fake(tmp_path):
    service = FakeS2(tmp_path / "server")
    service.start()
    rng = random.Random(0)
    files = []
    for part in range(3):
        records = [paper_record(part * 1000 + i, rng, acl=i % 10 == 0) for i in range(400)]
        files.append(service.add_file("2024-01-02", "papers", f"part-{part}.jsonl.gz", gzip_lines(records)))
    service.add_release("2023-12-26", {"papers": files[:1]})
    service.add_release("2024-01-02", {"papers": files})
    yield service
    service.stop()


def settings_for(fake, key="test-key", **kw):
    kw.setdefault("backoff_s", 0.01)
    return ApiSettings(base_url=fake.base_url, api_key=key, **kw)


def test_pure_helpers():
    assert shard_name("https://x.s3.amazonaws.com/a/b/20240105_0001.gz?Signature=s&Expires=1") == "20240105_0001"
    assert shard_name("http://h/f/part 1.jsonl.gz") == "part_1"
    assert s2_api.redact_url("https://h/p/f.gz?Signature=secret") == "https://h/p/f.gz"
    assert download.parse_content_range("bytes 10-19/20") == (10, 20)
    assert download.parse_content_range("bytes */20") is None
    assert download.md5_from_etag('"0123456789abcdef0123456789abcdef"') == "0123456789abcdef0123456789abcdef"
    assert download.md5_from_etag('"0123456789abcdef0123456789abcdef-3"') is None  # multipart ETag
    assert [s2_api.backoff_delay(a, 2.0, 10.0) for a in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 10.0]
    settings = ApiSettings.from_config({"api_key_env": "MY_KEY"}, environ={"MY_KEY": "sekret"})
    assert settings.api_key == "sekret" and "sekret" not in repr(settings)


def test_releases_latest_and_files(fake):
    settings = settings_for(fake)
    assert s2_api.list_releases(settings) == ["2023-12-26", "2024-01-02"]
    assert s2_api.resolve_release("latest", settings) == "2024-01-02"
    manifest = build_manifest("latest", ["papers"], settings)
    assert manifest["release"] == "2024-01-02"
    assert [e["shard"] for e in manifest["datasets"]["papers"]] == ["part-0", "part-1", "part-2"]
    assert all(r["key"] == "test-key" for r in fake.api_requests() if "/dataset/" in r["path"])


def test_wrong_key_is_a_clear_error_without_retries(fake, tmp_path):
    settings = settings_for(fake, key="wrong", retries=5)
    with pytest.raises(AuthError, match="rejected") as err:
        build_manifest("2024-01-02", ["papers"], settings)
    assert "wrong" not in str(err.value)
    assert len([r for r in fake.api_requests() if "/dataset/" in r["path"]]) == 1
    with pytest.raises(AuthError, match="no API key"):
        s2_api.list_dataset_files("2024-01-02", "papers", settings_for(fake, key=None))


def test_download_verifies_and_never_sends_the_key_to_file_urls(fake, tmp_path):
    settings = settings_for(fake)
    url = s2_api.list_dataset_files("2024-01-02", "papers", settings)[0]
    dest = tmp_path / "raw" / "part-0.gz"
    report = download.download_file(url, dest, settings)
    assert dest.read_bytes() == (fake.root / "2024-01-02/papers/part-0.jsonl.gz").read_bytes()
    assert report["md5_checked"] and report["attempts"] == 1 and report["resumed_from"] == 0
    assert all(r["key"] is None for r in fake.file_requests("part-0.jsonl.gz"))
    # a second call finds the file and fetches nothing
    again = download.download_file(url, dest, settings)
    assert again["downloaded"] == 0 and len(fake.file_requests("part-0.jsonl.gz")) == 1


def test_partial_file_is_completed_with_a_range_request(fake, tmp_path):
    settings = settings_for(fake)
    url = s2_api.list_dataset_files("2024-01-02", "papers", settings)[1]
    data = (fake.root / "2024-01-02/papers/part-1.jsonl.gz").read_bytes()
    dest = tmp_path / "part-1.gz"
    download.partial_path(dest).write_bytes(data[:1000])  # what a killed job left
    report = download.download_file(url, dest, settings)
    assert dest.read_bytes() == data
    assert not download.partial_path(dest).exists()
    assert [r["range"] for r in fake.file_requests("part-1.jsonl.gz")] == ["bytes=1000-"]
    assert report["resumed_from"] == 1000 and report["downloaded"] == len(data) - 1000
    assert report["md5_checked"]


def test_complete_partial_file_gets_416_and_is_kept(fake, tmp_path):
    settings = settings_for(fake)
    url = s2_api.list_dataset_files("2024-01-02", "papers", settings)[0]
    data = (fake.root / "2024-01-02/papers/part-0.jsonl.gz").read_bytes()
    dest = tmp_path / "part-0.gz"
    download.partial_path(dest).write_bytes(data)
    report = download.download_file(url, dest, settings)
    assert dest.read_bytes() == data and report["downloaded"] == 0 and report["md5_checked"]
    assert [r["range"] for r in fake.file_requests("part-0.jsonl.gz")] == [f"bytes={len(data)}-", "bytes=0-0"]
    # a partial file of the right size but other bytes fails the MD5 check and is removed
    other = tmp_path / "other.gz"
    download.partial_path(other).write_bytes(bytes(len(data)))
    with pytest.raises(DownloadError, match="MD5"):
        download.download_file(url, other, settings)
    assert not download.partial_path(other).exists() and not other.exists()


def test_failures_twice_then_success_and_truncation_resume(fake, tmp_path):
    settings = settings_for(fake, retries=3)
    url = s2_api.list_dataset_files("2024-01-02", "papers", settings)[2]
    data = (fake.root / "2024-01-02/papers/part-2.jsonl.gz").read_bytes()
    fake.faults["part-2.jsonl.gz"] += ["503", "503", "truncate"]
    dest = tmp_path / "part-2.gz"
    report = download.download_file(url, dest, settings)
    assert dest.read_bytes() == data
    ranges = [r["range"] for r in fake.file_requests("part-2.jsonl.gz")]
    assert ranges == [None, None, None, f"bytes={len(data) // 2}-"]  # the truncated half is kept
    assert report["attempts"] == 4


def test_persistent_failure_gives_up_and_keeps_the_partial_file(fake, tmp_path):
    settings = settings_for(fake, retries=2)
    url = s2_api.list_dataset_files("2024-01-02", "papers", settings)[0]
    fake.faults["part-0.jsonl.gz"] += ["truncate", "503", "503", "503"]
    dest = tmp_path / "part-0.gz"
    with pytest.raises(DownloadError, match="gave up after 2 retries"):
        download.download_file(url, dest, settings)
    assert download.partial_path(dest).stat().st_size > 0 and not dest.exists()
    assert len(fake.file_requests("part-0.jsonl.gz")) == 4  # 1 + truncated progress resets, then 2 retries


def test_expired_url_is_listed_again(fake, tmp_path):
    fake.url_ttl_s = 1
    settings = settings_for(fake)
    manifest = build_manifest("2024-01-02", ["papers"], settings)
    entry = find_entry(manifest, "papers", "part-1")
    time.sleep(2.1)
    dest = tmp_path / "part-1.gz"
    report = download.download_file(entry["url"], dest, settings, refresh_url=lambda: fresh_url(entry, settings))
    assert report["relisted"] == 1
    assert hashlib.md5(dest.read_bytes()).hexdigest() == fake.etag("2024-01-02/papers/part-1.jsonl.gz")
    # without a way to list again, the expiry is an error
    with pytest.raises(s2_api.ExpiredUrlError):
        download.download_file(entry["url"], tmp_path / "again.gz", settings)


def test_diffs_manifest(fake, tmp_path):
    rng = random.Random(1)
    update = fake.add_file("2024-01-09", "papers", "upd-0.jsonl.gz", gzip_lines([paper_record(5, rng, acl=True)]))
    delete = fake.add_file("2024-01-09", "papers", "del-0.jsonl.gz", gzip_lines([{"corpusid": 10}]))
    fake.add_release("2024-01-09", {"papers": [update]})
    fake.add_diff("2024-01-02", "2024-01-09", "papers", [update], [delete])
    settings = settings_for(fake)
    manifest = build_manifest("latest", ["papers"], settings, update_from="2024-01-02")
    assert manifest["release"] == "2024-01-09" and manifest["update_from"] == "2024-01-02"
    (diff,) = manifest["diffs"]["papers"]
    assert [e["shard"] for e in diff["update"]] == ["diff000-update-upd-0"]
    assert [e["shard"] for e in diff["delete"]] == ["diff000-delete-del-0"]
    entry = find_entry(manifest, "papers", "diff000-delete-del-0")
    assert shard_name(fresh_url(entry, settings)) == "del-0"
    with pytest.raises(DownloadError, match="HTTP 404"):  # no diffs lead from a later release
        build_manifest("2024-01-02", ["papers"], settings, update_from="2024-01-09")


def test_manifest_and_shard_files_from_the_rules_settings(fake, tmp_path, monkeypatch):
    """The corpus_manifest and download_corpus_shard chain: S2Settings rebuilt from the params,
    the key read from the variable it names."""
    monkeypatch.setenv("TEST_S2_KEY", "test-key")
    params = {"release": "latest", "api_key_env": "TEST_S2_KEY", "abstracts": False, "update_from": None,
              "base_url": fake.base_url, "retries": 2, "backoff_s": 0.01, "max_backoff_s": 1.0,
              "timeout_s": 10.0}
    s2 = S2Settings.from_params(params)
    manifest_json = tmp_path / "manifest.json"
    manifest = write_manifest_file(s2, s2.datasets, manifest_json)
    assert manifest["release"] == "2024-01-02" and "test-key" not in manifest_json.read_text()
    dest = tmp_path / "raw" / "papers" / "part-2.gz"
    report = download.download_shard_file(manifest_json, "papers", "part-2", dest, s2)
    assert report["md5_checked"]
    assert dest.read_bytes() == (fake.root / "2024-01-02/papers/part-2.jsonl.gz").read_bytes()
    assert all(r["key"] == "test-key" for r in fake.api_requests())
