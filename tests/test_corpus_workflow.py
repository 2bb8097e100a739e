"""The corpus rules with corpus.source = s2-api (a release, or the diffs from an older one), run by
Snakemake against a local fake API."""

import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import copy_workflow, run_snakemake
from revmatch.corpus.filters import filter_reason
from revmatch.corpus.papers_table import papers_frame, write_papers
from revmatch.corpus.records import normalise_record
from revmatch.corpus.settings import FilterSpec
from revmatch.io import read_json
from s2_fake_api import FakeS2, abstract_record, gzip_lines, paper_record

RELEASE = "2024-01-02"


@pytest.fixture
def fake(tmp_path):
    service = FakeS2(tmp_path / "server", api_key="k-123")
    service.start()
    yield service
    service.stop()


def build_release(fake):
    """Three papers shards (every 4th paper ACL, one bad line) and two abstracts shards."""
    rng = random.Random(3)
    papers, abstracts, acl_ids = [], [], []
    for part in range(3):
        records = [paper_record(part * 100 + i, rng, acl=i % 4 == 0, year=2020) for i in range(40)]
        acl_ids += [r["corpusid"] for r in records if r["externalids"]["ACL"]]
        lines = records + (['{"corpusid": 999, "title": "cut sh'] if part == 1 else [])
        papers.append(fake.add_file(RELEASE, "papers", f"part-{part}.jsonl.gz", gzip_lines(lines)))
    ids = [part * 100 + i for part in range(3) for i in range(40)]
    with_abstract = [i for i in ids if i % 10 != 8]  # corpus ids ending in 8 have no abstract
    for half in range(2):
        records = [abstract_record(i, rng) for i in with_abstract[half::2]]
        abstracts.append(fake.add_file(RELEASE, "abstracts", f"abstracts-{half}.jsonl.gz", gzip_lines(records)))
    fake.add_release("2023-12-26", {"papers": papers[:1], "abstracts": abstracts[:1]})
    fake.add_release(RELEASE, {"papers": papers, "abstracts": abstracts})
    return sorted(acl_ids), set(with_abstract)


def test_s2_api_corpus_downloads_resumes_and_reruns_nothing(tmp_path, fake, monkeypatch):
    acl_ids, with_abstract = build_release(fake)
    fake.faults["part-0.jsonl.gz"] += ["403"]  # the listed URL has expired: list again
    fake.faults["part-1.jsonl.gz"] += ["503", "503"]  # fails twice, then succeeds
    fake.faults["part-2.jsonl.gz"] += ["truncate"]  # half the body, then the connection drops
    (tmp_path / "wf").mkdir()
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "s2.yaml").write_text(
        "corpus:\n  source: s2-api\n  max_bad_line_share: 0.05\n  filter:\n    min_year: 2016\n  s2:\n"
        f"    base_url: {fake.base_url}\n    release: latest\n    api_key_env: TEST_S2_KEY\n"
        "    retries: 3\n    backoff_s: 0.05\n"
    )
    # a download killed earlier left part of shard part-1 behind
    part1 = (fake.root / RELEASE / "papers" / "part-1.jsonl.gz").read_bytes()
    raw_dir = workdir / "results" / "corpus" / "raw" / "papers"
    raw_dir.mkdir(parents=True)
    (raw_dir / ".part-1.gz.part").write_bytes(part1[:500])
    monkeypatch.setenv("TEST_S2_KEY", "k-123")
    target = "results/corpus/papers.parquet"
    args = ("--configfile", "config/config.yaml", "s2.yaml", "--", target)

    proc = run_snakemake(workdir, *args, timeout=300)
    assert proc.returncode == 0, proc.stderr[-6000:]

    papers = pq.read_table(workdir / target).to_pandas()
    expected = [i for i in acl_ids if i in with_abstract]
    assert sorted(papers["paper_id"].astype(int)) == expected
    assert papers["abstract"].str.len().min() > 0
    summary = read_json(workdir / "results" / "corpus" / "summary.json")
    assert summary["shards"] == 3 and summary["records"] == 121 and summary["bad_lines"] == 1
    assert summary["kept"] == len(expected) == summary["papers"]
    assert summary["dropped"]["no_abstract"] == len(acl_ids) - len(expected)
    assert summary["dropped"]["not_acl"] == 120 - len(acl_ids)
    assert read_json(workdir / "results" / "corpus" / "shards" / "part-1.summary.json")["bad_line_numbers"] == [41]
    assert np.array_equal(np.load(workdir / "results" / "corpus" / "paper_ids.npy"), acl_ids)
    # raw shards are temp(): all gone, no partial file left
    assert [p.name for p in (workdir / "results" / "corpus" / "raw").rglob("*") if p.is_file()] == []
    # the killed download was completed with Range requests (two 503s, then the rest)
    assert [r["range"] for r in fake.file_requests("part-1.jsonl.gz")] == ["bytes=500-"] * 3
    assert [r["range"] for r in fake.file_requests("part-2.jsonl.gz")][-1].startswith("bytes=")
    log = (workdir / "logs" / "corpus" / "download_papers_part-0.log").read_text()
    assert "listing the shards again" in log and "k-123" not in log and "Signature" not in log
    assert "MiB" in log  # tqdm progress in bytes
    assert "1 bad lines" in (workdir / "logs" / "corpus" / "filter_part-1.log").read_text()

    n_requests = len(fake.requests)
    again = run_snakemake(workdir, *args, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to be done" in again.stdout + again.stderr
    assert len(fake.requests) == n_requests  # nothing listed, nothing downloaded


def reference_corpus(papers, abstracts):
    """ACL papers with an abstract, from raw records (dicts by corpus id): the expected corpus."""
    spec = FilterSpec(min_year=2016)
    kept = {}
    for cid, record in papers.items():
        paper = normalise_record({**record, "abstract": abstracts.get(cid, "")})
        if filter_reason(paper, spec) is None:
            kept[str(cid)] = (paper["title"], paper["abstract"])
    return dict(sorted(kept.items()))


def test_s2_api_update_applies_diffs_to_an_older_corpus(tmp_path, fake, monkeypatch):
    """Release A's corpus -> release C through two diffs (A -> B -> C) of papers and abstracts."""
    rng = random.Random(5)
    old, new = "2024-01-02", "2024-01-16"
    papers = {i: paper_record(i, rng, acl=i % 3 == 0, year=2020) for i in range(60)}
    abstracts = {i: abstract_record(i, rng)["abstract"] for i in range(60) if i != 30}
    previous = tmp_path / "corpus-2024-01-02.parquet"
    write_papers(papers_frame([normalise_record({**r, "abstract": abstracts.get(i, "")}) for i, r in papers.items()
                               if i % 3 == 0 and i in abstracts]), previous)

    def diff(start, end, update_papers, delete_papers, update_abstracts, delete_abstracts, bad_line=False):
        files = {}
        for dataset, kind, lines in (("papers", "upd", update_papers), ("papers", "del", delete_papers),
                                     ("abstracts", "upd", update_abstracts), ("abstracts", "del", delete_abstracts)):
            extra = ['{"corpusid": 999, "title": "cut'] if bad_line and dataset == "papers" and kind == "upd" else []
            files[dataset, kind] = fake.add_file(end, dataset, f"{kind}-0.jsonl.gz", gzip_lines(lines + extra))
        for dataset in ("papers", "abstracts"):
            fake.add_diff(start, end, dataset, [files[dataset, "upd"]], [files[dataset, "del"]])

    # A -> B: 3 retitled, 6 loses its ACL id, 61 (ACL) and 62 (not ACL) are new, 9 deleted,
    # 0 gets a new abstract, 12 loses its abstract; one update line is cut short
    b = {3: {**papers[3], "title": "Retitled"}, 6: {**papers[6], "externalids": {"ACL": None}},
         61: paper_record(61, rng, acl=True, year=2021), 62: paper_record(62, rng, acl=False, year=2021)}
    b_abstracts = {0: "A new abstract.", 61: "Abstract of 61."}
    diff(old, "2024-01-09", list(b.values()), [{"corpusid": 9}], [{"corpusid": k, "abstract": v}
         for k, v in b_abstracts.items()], [{"corpusid": 12}], bad_line=True)
    # B -> C: 9 comes back, 61 retitled again, 15 deleted, 63 new but its abstract is unchanged
    c = {9: papers[9], 61: {**b[61], "title": "Retitled twice"}, 63: paper_record(63, rng, acl=True, year=2022)}
    diff("2024-01-09", new, list(c.values()), [{"corpusid": 15}], [], [])
    fake.add_release(old, {"papers": [], "abstracts": []})
    fake.add_release("2024-01-09", {"papers": [], "abstracts": []})
    fake.add_release(new, {"papers": [], "abstracts": []})
    fake.faults["upd-0.jsonl.gz"] += ["503"]
    # the expected corpus: records and abstracts moved to C by hand (63's abstract is in no diff)
    papers_c = {**papers, **b, **c}
    for gone in (15,):
        papers_c.pop(gone)
    abstracts_c = {k: v for k, v in {**abstracts, **b_abstracts}.items() if k != 12}
    expected = reference_corpus(papers_c, abstracts_c)

    (tmp_path / "wf").mkdir()
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "s2.yaml").write_text(
        "corpus:\n  source: s2-api\n  max_bad_line_share: 0.2\n  filter:\n    min_year: 2016\n  s2:\n"
        f"    base_url: {fake.base_url}\n    release: latest\n    api_key_env: TEST_S2_KEY\n"
        f"    retries: 3\n    backoff_s: 0.05\n    update_from: {{release: '{old}', papers: '{previous}'}}\n"
    )
    monkeypatch.setenv("TEST_S2_KEY", "k-123")
    target = "results/corpus/papers.parquet"
    proc = run_snakemake(workdir, "--configfile", "config/config.yaml", "s2.yaml", "--", target, timeout=300)
    assert proc.returncode == 0, proc.stderr[-6000:]

    got = pq.read_table(workdir / target).to_pandas()
    assert dict(zip(got["paper_id"], zip(got["title"], got["abstract"]))) == expected
    assert "63" not in expected and "9" in expected and got.set_index("paper_id")["title"]["61"] == "Retitled twice"
    summary = read_json(workdir / "results" / "corpus" / "summary.json")
    assert summary["update_from"] == old and summary["release"] == new and summary["diffs"] == 2
    assert summary["previous_papers"] == 19 and summary["papers"] == len(expected)
    # A -> B: 3 updated, 6 removed by its update, 61 added, 9 deleted; B -> C: 61 updated, 9 and 63 added, 15 deleted
    assert (summary["updated"], summary["added"], summary["removed_by_update"], summary["deleted"]) == (2, 3, 1, 2)
    assert summary["abstracts_updated"] == 2 and summary["abstracts_deleted"] == 1
    assert summary["dropped"]["no_abstract"] == 2 and summary["bad_lines"] == 1  # 12 and 63
    assert [p.name for p in (workdir / "results" / "corpus" / "raw").rglob("*") if p.is_file()] == []
    manifest = read_json(workdir / "results" / "corpus" / "manifest.json")
    assert [d["to_release"] for d in manifest["diffs"]["papers"]] == ["2024-01-09", new]
    assert not any("/release/" in r["path"] and "/dataset/" in r["path"] for r in fake.api_requests())
