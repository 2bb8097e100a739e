"""The Datasets API client against a real local HTTP server (tests/s2_fake_api.py)."""

import gzip
import hashlib
import logging
import os
import random
import time

import pytest

from revmatch.corpus import download, s2_api
from revmatch.corpus.manifest import (
    build_manifest,
    find_entry,
    fresh_url,
    manifest_shards,
    refresh_manifest_url,
    shard_name,
    write_manifest_file,
)
from revmatch.corpus.s2_api import ApiSettings, AuthError, DownloadError, ExpiredUrlError, ListedFile
from revmatch.corpus.settings import S2Settings
from revmatch.io import read_json, write_json
from s2_fake_api import GZIP_CUT, FakeS2, gzip_lines, paper_record


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


def shard_bytes(fake, name="part-0"):
    return (fake.root / f"2024-01-02/papers/{name}.jsonl.gz").read_bytes()


def manifest_on_disk(fake, tmp_path, monkeypatch, retries=2):
    """The corpus_manifest rule's file and the download rule's settings, as the workflow has them."""
    monkeypatch.setenv("TEST_S2_KEY", "test-key")
    params = {"release": "latest", "api_key_env": "TEST_S2_KEY", "abstracts": False, "update_from": None,
              "base_url": fake.base_url, "retries": retries, "backoff_s": 0.01, "max_backoff_s": 1.0,
              "timeout_s": 10.0}
    s2 = S2Settings.from_params(params)
    manifest_json = tmp_path / "manifest.json"
    write_manifest_file(s2, s2.datasets, manifest_json)
    return manifest_json, s2


def manifest_urls(manifest_json):
    return {shard: entry["url"] for _, shard, entry in manifest_shards(read_json(manifest_json))}


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
    assert s2_api.listed_file({"url": "http://h/a.gz", "size": 7}, "w") == ListedFile("http://h/a.gz", 7)
    with pytest.raises(DownloadError, match="neither a URL"):
        s2_api.listed_file({"url": "http://h/a.gz", "size": "7"}, "w")


def test_expiry_reasons():
    xml = b"<?xml version='1.0'?><Error><Code>%s</Code><Message>m</Message></Error>"
    assert s2_api.expiry_reason(400, xml % b"ExpiredToken") == "HTTP 400 ExpiredToken"
    assert s2_api.expiry_reason(400, xml % b"AccessDenied") == "HTTP 400 AccessDenied"
    assert s2_api.expiry_reason(400, b"Request has expired") == "HTTP 400 Request has expired"
    assert s2_api.expiry_reason(403, xml % b"AccessDenied") == "HTTP 403 AccessDenied"
    assert s2_api.expiry_reason(410, b"") == "HTTP 410"
    assert s2_api.expiry_reason(400, xml % b"InvalidArgument") is None
    assert s2_api.expiry_reason(404, b"Request has expired") is None


def test_gzip_check_across_members_and_chunk_bounds():
    data = gzip.compress(b"a" * 5000 + b"b" * 3000) + gzip.compress(b"second member")
    for step in (1, 7, 100, len(data)):
        check = download.GzipCheck()
        for at in range(0, len(data), step):
            check.feed(data[at:at + step])
        assert check.complete() and check.error is None
    for cut in (1, 10, len(data) - 40, len(data) - 1):  # inside either member
        check = download.GzipCheck()
        check.feed(data[:cut])
        assert not check.complete() and check.error is None
    check = download.GzipCheck()
    check.feed(data[:20] + bytes([data[20] ^ 0xFF]) + data[21:])
    assert not check.complete()
    check = download.GzipCheck()
    check.feed(data + b"trailing garbage")
    assert check.error is not None and "corrupt gzip data" in check.error


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



def test_partial_file_failing_the_md5_is_removed_and_fetched_again(fake, tmp_path, caplog):
    settings = settings_for(fake)
    url = s2_api.list_dataset_files("2024-01-02", "papers", settings)[0]
    data = shard_bytes(fake)
    other = tmp_path / "other.gz"
    download.partial_path(other).write_bytes(bytes(len(data)))  # the right size, other bytes
    with caplog.at_level(logging.WARNING):
        report = download.download_file(url, other, settings)
    assert other.read_bytes() == data and report["rejected"] == 1 and report["md5_checked"]
    assert not download.partial_path(other).exists()
    expected, got = fake.etag("2024-01-02/papers/part-0.jsonl.gz"), hashlib.md5(bytes(len(data))).hexdigest()
    assert f"MD5 mismatch: expected {expected} (ETag), got {got} ({len(data)} bytes); removed" in caplog.text


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
    report = download.download_file(entry["url"], dest, settings, refresh_url=lambda _: fresh_url(entry, settings))
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


# ---------------------------------------------------------------- expired URLs (403, 400)


@pytest.mark.parametrize("answer", ["400-expired-token", "400-access-denied", "400-request-expired", "403"])
def test_expired_answers_refresh_the_urls_and_the_manifest(fake, tmp_path, monkeypatch, answer):
    manifest_json, s2 = manifest_on_disk(fake, tmp_path, monkeypatch)
    before, mtime = manifest_urls(manifest_json), manifest_json.stat().st_mtime_ns
    listings = len(fake.api_requests())
    fake.faults["part-1.jsonl.gz"] += [answer]
    dest = tmp_path / "raw" / "part-1.gz"
    report = download.download_shard_file(manifest_json, "papers", "part-1", dest, s2)
    assert report["relisted"] == 1 and dest.read_bytes() == shard_bytes(fake, "part-1")
    after = manifest_urls(manifest_json)
    assert after.keys() == before.keys()
    assert not set(after.values()) & set(before.values())  # every URL of the listing is the new one
    assert manifest_json.stat().st_mtime_ns == mtime  # only signatures changed: nothing downstream reruns
    assert len(fake.api_requests()) == listings + 1
    # another shard's job finds the new URL in the manifest: no failure, no listing
    download.download_shard_file(manifest_json, "papers", "part-2", tmp_path / "raw" / "part-2.gz", s2)
    assert len(fake.api_requests()) == listings + 1 and len(fake.file_requests("part-2.jsonl.gz")) == 1


def test_an_expired_signature_answered_400_expired_token(fake, tmp_path, monkeypatch):
    """A URL whose signature really expired, answered the way S3 answers an expired token."""
    fake.expired_answer = "400-expired-token"
    manifest_json, s2 = manifest_on_disk(fake, tmp_path, monkeypatch)
    manifest = read_json(manifest_json)
    stale = manifest["datasets"]["papers"][0]["url"].replace("Expires=", "Expires=1")  # signature no longer valid
    manifest["datasets"]["papers"][0]["url"] = stale
    write_json(manifest, manifest_json)
    report = download.download_shard_file(manifest_json, "papers", "part-0", tmp_path / "part-0.gz", s2)
    assert report["relisted"] == 1 and stale not in manifest_urls(manifest_json).values()


def test_the_manifest_never_gets_back_a_url_that_failed_as_expired(fake, tmp_path, monkeypatch, caplog):
    fake.reuse_urls = True  # the API lists the same URL again
    manifest_json, s2 = manifest_on_disk(fake, tmp_path, monkeypatch, retries=2)
    text = manifest_json.read_text()
    fake.faults["part-0.jsonl.gz"] += ["400-expired-token"]
    with pytest.raises(ExpiredUrlError, match="listed again the URL that failed as expired"):
        download.download_shard_file(manifest_json, "papers", "part-0", tmp_path / "part-0.gz", s2)
    assert manifest_json.read_text() == text  # nothing written back
    assert len(fake.file_requests("part-0.jsonl.gz")) == 1  # the expired URL was not tried again
    assert "HTTP 400 ExpiredToken (signed URL expired or revoked)" in caplog.text


def test_refresh_finds_the_url_another_job_wrote(fake, tmp_path, monkeypatch):
    manifest_json, s2 = manifest_on_disk(fake, tmp_path, monkeypatch)
    settings = s2.api_settings()
    old = manifest_urls(manifest_json)["part-1"]
    new = refresh_manifest_url(manifest_json, "papers", "part-1", settings, {old})
    listings = len(fake.api_requests())
    assert new != old and manifest_urls(manifest_json)["part-1"] == new
    assert refresh_manifest_url(manifest_json, "papers", "part-1", settings, {old}) == new
    assert len(fake.api_requests()) == listings


def test_a_400_that_is_no_expiry_is_final(fake, tmp_path, monkeypatch):
    manifest_json, s2 = manifest_on_disk(fake, tmp_path, monkeypatch)
    listings = len(fake.api_requests())
    fake.faults["part-0.jsonl.gz"] += ["400-bad-request"]
    with pytest.raises(DownloadError, match="HTTP 400 InvalidArgument") as err:
        download.download_shard_file(manifest_json, "papers", "part-0", tmp_path / "part-0.gz", s2)
    assert not isinstance(err.value, ExpiredUrlError) and "Signature" not in str(err.value)
    assert len(fake.api_requests()) == listings and len(fake.file_requests("part-0.jsonl.gz")) == 1


def test_diff_urls_are_refreshed_in_the_manifest(fake, tmp_path):
    rng = random.Random(1)
    update = fake.add_file("2024-01-09", "papers", "upd-0.jsonl.gz", gzip_lines([paper_record(5, rng, acl=True)]))
    delete = fake.add_file("2024-01-09", "papers", "del-0.jsonl.gz", gzip_lines([{"corpusid": 10}]))
    fake.add_release("2024-01-09", {"papers": [update]})
    fake.add_diff("2024-01-02", "2024-01-09", "papers", [update], [delete])
    settings = settings_for(fake)
    manifest_json = tmp_path / "manifest.json"
    write_json(build_manifest("latest", ["papers"], settings, update_from="2024-01-02"), manifest_json)
    before = manifest_urls(manifest_json)
    fake.faults["del-0.jsonl.gz"] += ["400-access-denied"]

    def refresh(expired):
        return refresh_manifest_url(manifest_json, "papers", "diff000-delete-del-0", settings, expired)

    report = download.download_file(before["diff000-delete-del-0"], tmp_path / "del.gz", settings, refresh)
    assert report["relisted"] == 1
    after = manifest_urls(manifest_json)
    assert after["diff000-delete-del-0"] != before["diff000-delete-del-0"]
    assert after["diff000-update-upd-0"] != before["diff000-update-upd-0"]


# ---------------------------------------------------------------- integrity without headers


def test_no_content_length_and_no_etag_still_checks_the_gzip_stream(fake, tmp_path):
    settings = settings_for(fake)
    url = s2_api.list_dataset_files("2024-01-02", "papers", settings)[0]
    fake.faults["part-0.jsonl.gz"] += ["no-length+no-etag"]
    report = download.download_file(url, tmp_path / "part-0.gz", settings)
    assert (tmp_path / "part-0.gz").read_bytes() == shard_bytes(fake)
    assert report["gzip_checked"] and not report["md5_checked"] and not report["size_checked"]


def test_a_body_cut_short_without_content_length_is_resumed(fake, tmp_path):
    settings = settings_for(fake)
    url = s2_api.list_dataset_files("2024-01-02", "papers", settings)[0]
    data = shard_bytes(fake)
    fake.faults["part-0.jsonl.gz"] += ["no-length+no-etag+truncate"]  # a clean end of the body at half
    download.download_file(url, tmp_path / "part-0.gz", settings)
    assert (tmp_path / "part-0.gz").read_bytes() == data
    assert [r["range"] for r in fake.file_requests("part-0.jsonl.gz")] == [None, f"bytes={len(data) // 2}-"]


def test_a_truncated_gzip_object_is_never_complete(fake, tmp_path):
    settings = settings_for(fake)
    url = s2_api.list_dataset_files("2024-01-02", "papers", settings)[0]
    data, dest = shard_bytes(fake), tmp_path / "part-0.gz"
    # headers and ETag consistent with the short object: only the gzip check sees it
    fake.faults["part-0.jsonl.gz"] += ["gzip-truncated"]
    report = download.download_file(url, dest, settings)
    assert dest.read_bytes() == data and report["rejected"] == 1 and report["md5_checked"]
    assert [r["range"] for r in fake.file_requests("part-0.jsonl.gz")] == [None, None]
    # without any size, the short stream is resumed instead
    dest.unlink()
    fake.faults["part-0.jsonl.gz"] += ["gzip-truncated+no-length+no-etag"]
    report = download.download_file(url, dest, settings)
    assert dest.read_bytes() == data and report["rejected"] == 0
    assert [r["range"] for r in fake.file_requests("part-0.jsonl.gz")][2:] == [None, f"bytes={len(data) - GZIP_CUT}-"]


def test_a_truncated_gzip_file_fails_and_leaves_nothing(fake, tmp_path):
    settings = settings_for(fake, retries=1)
    good = shard_bytes(fake)
    rel = fake.add_file("2024-01-02", "papers", "short.jsonl.gz", good[: len(good) - GZIP_CUT])
    fake.add_release("2024-01-02", {"papers": [rel]})
    (url,) = s2_api.list_dataset_files("2024-01-02", "papers", settings)
    dest = tmp_path / "short.gz"
    size = len(good) - GZIP_CUT
    with pytest.raises(DownloadError) as err:
        download.download_file(url, dest, settings)
    assert str(err.value) == (f"short.gz: truncated gzip stream: it ends at byte {size} without its trailer; "
                              "the file was removed (gave up after 1 retries)")
    assert not dest.exists() and not download.partial_path(dest).exists()
    assert len(fake.file_requests("short.jsonl.gz")) == 2


def test_a_corrupt_body_without_etag_fails_the_gzip_check(fake, tmp_path, caplog):
    settings = settings_for(fake)
    url = s2_api.list_dataset_files("2024-01-02", "papers", settings)[0]
    fake.faults["part-0.jsonl.gz"] += ["corrupt+no-etag"]
    with caplog.at_level(logging.WARNING):
        report = download.download_file(url, tmp_path / "part-0.gz", settings)
    assert (tmp_path / "part-0.gz").read_bytes() == shard_bytes(fake) and report["rejected"] == 1
    assert "corrupt gzip data near byte" in caplog.text and "removed, downloading it again" in caplog.text


def test_the_listed_size_is_checked(fake, tmp_path, monkeypatch):
    fake.list_sizes = True
    manifest_json, s2 = manifest_on_disk(fake, tmp_path, monkeypatch, retries=1)
    data = shard_bytes(fake)
    assert find_entry(read_json(manifest_json), "papers", "part-0")["size"] == len(data)
    # the server announces nothing, the body stops at a clean end: the listed size says it is short
    fake.faults["part-0.jsonl.gz"] += ["no-length+no-etag+truncate"]
    report = download.download_shard_file(manifest_json, "papers", "part-0", tmp_path / "part-0.gz", s2)
    assert report["size_checked"] and (tmp_path / "part-0.gz").read_bytes() == data
    assert [r["range"] for r in fake.file_requests("part-0.jsonl.gz")] == [None, f"bytes={len(data) // 2}-"]
    # a listed size the file does not have: never complete
    fake.listed_sizes["2024-01-02/papers/part-1.jsonl.gz"] = 123
    manifest_json, s2 = manifest_on_disk(fake, tmp_path, monkeypatch, retries=1)
    size = len(shard_bytes(fake, "part-1"))
    with pytest.raises(DownloadError) as err:
        download.download_shard_file(manifest_json, "papers", "part-1", tmp_path / "part-1.gz", s2)
    assert str(err.value) == (f"part-1.gz: size mismatch: expected 123 bytes (listed), got {size}; "
                              "the file was removed (gave up after 1 retries)")
    assert not (tmp_path / "part-1.gz").exists() and not download.partial_path(tmp_path / "part-1.gz").exists()
