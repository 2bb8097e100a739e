import gzip
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from revmatch.corpus.abstracts import drop_without_abstract, join_abstracts, select_abstracts
from revmatch.corpus.filters import filter_reason, filter_shard, filter_shard_file
from revmatch.corpus.merge import merge_shards, merge_shards_file
from revmatch.corpus.papers_table import CORPUS_COLUMNS, PAPERS_SCHEMA, papers_frame, read_papers
from revmatch.corpus.records import acl_id_from_link, normalise_record
from revmatch.corpus.settings import FilterSpec
from revmatch.corpus.shard_reading import _iter_blocks, iter_records
from revmatch.corpus.updates import apply_abstract_diff, apply_paper_diff, read_corpus_ids
from revmatch.io import InputError, read_json


def legacy(
    pid, *, abstract="An abstract.", year=2019, pdf_urls=(), venue="ACL", doi=None, authors=None, **extra
):
    record = {
        "id": pid,
        "title": f"Title {pid}",
        "paperAbstract": abstract,
        "authors": authors if authors is not None else [{"name": "Ann Author", "ids": ["11"]}],
        "year": year,
        "venue": venue,
        "journalName": "",
        "pdfUrls": list(pdf_urls),
        "s2Url": f"https://semanticscholar.org/paper/{pid}",
        "doi": doi,
        "inCitations": [],
        "outCitations": [],
        "fieldsOfStudy": ["Computer Science"],
        "sources": ["DBLP"],
    }
    record.update(extra)
    return record


def datasets(corpusid, *, acl=None, abstract="An abstract.", year=2022, url=None, venue="ACL", authors=None):
    record = {
        "corpusid": corpusid,
        "externalids": {"ACL": acl, "DOI": None, "DBLP": None, "CorpusId": str(corpusid)},
        "url": url or f"https://www.semanticscholar.org/paper/{corpusid:040d}",
        "title": f"Paper {corpusid}",
        "authors": authors if authors is not None else [{"authorId": "21", "name": "Bo Author"}],
        "venue": venue,
        "publicationvenueid": None,
        "year": year,
        "citationcount": 3,
    }
    if abstract is not None:
        record["abstract"] = abstract
    return record


def write_shard(path, lines):
    """Lines are dicts (JSON-encoded) or raw strings (written as they are)."""
    text = "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(text)
    return path


LEGACY_LINES = [
    legacy("a1", pdf_urls=["https://www.aclweb.org/anthology/P19-1001.pdf"]),  # kept
    legacy("a2", pdf_urls=["https://arxiv.org/pdf/1901.00001.pdf"], venue="ArXiv"),  # not_acl
    legacy("a3", abstract="", pdf_urls=["https://www.aclweb.org/anthology/P19-1002.pdf"]),  # no_abstract
    legacy("a4", abstract="Data at https://www.aclweb.org/portal/ only.", venue="ICML"),  # not_acl
    '{"id": "a5", "pdfUrls": ["https://www.aclweb.org/anthology/P19-1003.pdf"], "title": ',  # bad line
    "",  # blank line: not a record
    legacy("a6", year=2010, pdf_urls=["https://www.aclweb.org/anthology/P10-1001.pdf"]),  # year
    legacy("a7", doi="10.18653/v1/d19-1001", pdf_urls=[]),  # kept via ACL DOI
    legacy("a8", pdf_urls=["https://aclanthology.org/2021.acl-long.7.pdf"], year=None),  # year (no year)
]

DATASETS_LINES = [
    datasets(1, acl="2022.acl-long.1"),  # kept
    datasets(2, url="https://aclanthology.org/2021.naacl-main.5/"),  # kept (URL)
    datasets(3, venue="NeurIPS"),  # not_acl
    datasets(4, acl="2022.findings-acl.9", abstract=None),  # no_abstract (abstracts not joined)
]


@pytest.fixture
def legacy_shard(tmp_path):
    return write_shard(tmp_path / "s2-corpus-000.gz", LEGACY_LINES)


@pytest.fixture
def datasets_shard(tmp_path):
    return write_shard(tmp_path / "papers-part0.jsonl.gz", DATASETS_LINES)


SPEC = FilterSpec(min_year=2015)


# ---------------------------------------------------------------- reading


def test_iter_records_gzip_and_plain_give_line_numbers(tmp_path):
    records = [{"id": "x"}, {"id": "y"}]
    gz = write_shard(tmp_path / "a.gz", [records[0], "   ", records[1]])
    plain = tmp_path / "b.jsonl"
    plain.write_text(json.dumps(records[0]) + "\n\n" + json.dumps(records[1]) + "\n")
    assert list(iter_records(gz)) == [(1, records[0]), (3, records[1])]
    assert list(iter_records(plain)) == [(1, records[0]), (3, records[1])]


def test_iter_records_malformed_line_names_file_and_line(legacy_shard):
    with pytest.raises(InputError) as err:
        list(iter_records(legacy_shard))
    assert err.value.row == 5
    assert err.value.path == str(legacy_shard)
    assert "s2-corpus-000.gz, row 5" in str(err.value)


def test_iter_records_skip_bad_counts_lines(tmp_path):
    path = write_shard(tmp_path / "x.gz", [{"id": "a"}, "[1, 2]", "{nope", {"id": "b"}])
    bad = []
    got = list(iter_records(path, skip_bad=True, bad_lines=bad))
    assert [n for n, _ in got] == [1, 4]
    assert bad == [2, 3]


def test_truncated_gzip_raises_input_error(tmp_path, legacy_shard):
    data = legacy_shard.read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.gz"):
        list(iter_records(cut, skip_bad=True))


# ---------------------------------------------------------------- normalising


def test_normalise_legacy_record():
    record = legacy(
        "abc",
        pdf_urls=[
            "https://www.aclweb.org/anthology/P/P19/P19-1001.pdf",
            "https://www.aclweb.org/anthology/P19-1001.pdf",
        ],
        authors=[{"name": " Ann Author ", "ids": ["11", "12"]}, {"name": "No Id", "ids": []}],
        year="2019",
        venue="",
        journalName="ACL",
    )
    paper = normalise_record(record)
    assert paper == {
        "paper_id": "abc",
        "title": "Title abc",
        "abstract": "An abstract.",
        "year": 2019,
        "venue": "ACL",
        "authors": [{"id": "11", "name": "Ann Author"}, {"id": "", "name": "No Id"}],
        "acl_id": "P19-1001",
        "urls": [
            "https://www.aclweb.org/anthology/P/P19/P19-1001.pdf",
            "https://www.aclweb.org/anthology/P19-1001.pdf",
            "https://semanticscholar.org/paper/abc",
        ],
    }


def test_normalise_datasets_record():
    record = datasets(
        42, acl=None, url="https://aclanthology.org/2022.acl-long.12.pdf",
        authors=[{"authorId": "7", "name": "Bo"}, {"authorId": None, "name": "Cy"}],
    )
    paper = normalise_record(record)
    assert paper["paper_id"] == "42"
    assert paper["acl_id"] == "2022.acl-long.12"
    assert paper["authors"] == [{"id": "7", "name": "Bo"}, {"id": "", "name": "Cy"}]
    assert paper["urls"] == ["https://aclanthology.org/2022.acl-long.12.pdf"]
    assert normalise_record(datasets(43, acl="P19-1001"))["acl_id"] == "P19-1001"
    assert normalise_record(datasets(44, abstract=None))["abstract"] == ""


def test_normalise_rejects_record_without_id():
    with pytest.raises(ValueError, match="corpusid"):
        normalise_record({"title": "x"})
    with pytest.raises(ValueError, match="year"):
        normalise_record({"id": "a", "year": "spring"})


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://www.aclweb.org/anthology/P19-1001.pdf", "P19-1001"),
        ("https://www.aclweb.org/anthology/W/W19/W19-5301.pdf", "W19-5301"),
        ("https://aclanthology.org/2020.acl-main.1v2.pdf", "2020.acl-main.1"),
        ("https://aclanthology.org/2022.lrec-1.12/", "2022.lrec-1.12"),
        ("www.aclweb.org/anthology/D19-1001", "D19-1001"),
        ("10.18653/v1/p19-1001", "P19-1001"),
        ("https://doi.org/10.18653/v1/2020.acl-main.447", "2020.acl-main.447"),
        ("https://aclanthology.org/volumes/2022.acl-long/", None),
        ("https://arxiv.org/abs/1901.00001", None),
        ("https://example.com/aclweb.org/anthology/P19-1001.pdf", None),
    ],
)
def test_acl_id_from_link(link, expected):
    assert acl_id_from_link(link) == expected


# ---------------------------------------------------------------- filtering


def test_filter_spec_from_config():
    spec = FilterSpec.from_config({"acl": False, "venues": ["EMNLP"], "min_year": 2016})
    assert spec == FilterSpec(acl=False, venues=["EMNLP"], min_year=2016)
    assert FilterSpec.from_config({}) == FilterSpec()
    with pytest.raises(ValueError, match="venue_list"):
        FilterSpec.from_config({"venue_list": []})
    with pytest.raises(ValueError, match="after max_year"):
        FilterSpec(min_year=2020, max_year=2019)


def test_filter_reason_order_and_venues():
    old_url = "https://aclweb.org/anthology/P01-1001"
    acl_old = normalise_record(legacy("x", year=2001, abstract="", pdf_urls=[old_url]))
    assert filter_reason(acl_old, FilterSpec(min_year=2010)) == "year"
    assert filter_reason(acl_old, FilterSpec()) == "no_abstract"
    assert filter_reason(acl_old, FilterSpec(require_abstract=False)) is None
    neurips = normalise_record(datasets(3, venue="NeurIPS"))
    assert filter_reason(neurips, FilterSpec()) == "not_acl"
    assert filter_reason(neurips, FilterSpec(venues=["neurips"])) is None
    assert filter_reason(neurips, FilterSpec(acl=False, venues=["ICML"])) == "venue"
    assert filter_reason(neurips, FilterSpec(acl=False)) is None


def test_filter_shard_legacy_counts_by_reason(legacy_shard):
    frame, summary = filter_shard(legacy_shard, SPEC)
    assert summary == {
        "shard": "s2-corpus-000.gz",
        "records": 8,
        "kept": 2,
        "dropped": {"not_acl": 2, "venue": 0, "year": 2, "no_abstract": 1},
        "bad_lines": 1,
        "bad_line_numbers": [5],
    }
    assert list(frame.columns) == list(CORPUS_COLUMNS)
    assert frame["paper_id"].tolist() == ["a1", "a7"]
    assert frame["acl_id"].tolist() == ["P19-1001", "D19-1001"]
    assert str(frame["year"].dtype) == "Int64"
    assert frame["authors"].iloc[0] == [{"id": "11", "name": "Ann Author"}]


def test_filter_shard_strict_raises_on_bad_line(legacy_shard):
    with pytest.raises(InputError) as err:
        filter_shard(legacy_shard, SPEC, skip_bad=False)
    assert err.value.row == 5


def test_prefilter_gives_same_result_as_full_parse(legacy_shard, datasets_shard):
    for shard in (legacy_shard, datasets_shard):
        fast, fast_summary = filter_shard(shard, SPEC, prefilter=True)
        full, full_summary = filter_shard(shard, SPEC, prefilter=False)
        pd.testing.assert_frame_equal(fast, full)
        assert fast_summary == full_summary


def test_filter_shard_datasets_records_and_extra_venues(datasets_shard):
    frame, summary = filter_shard(datasets_shard, SPEC)
    assert frame["paper_id"].tolist() == ["1", "2"]
    assert frame["acl_id"].tolist() == ["2022.acl-long.1", "2021.naacl-main.5"]
    assert summary["dropped"] == {"not_acl": 1, "venue": 0, "year": 0, "no_abstract": 1}
    frame, summary = filter_shard(datasets_shard, FilterSpec(venues=["neurips"]))
    assert frame["paper_id"].tolist() == ["1", "2", "3"]
    assert pd.isna(frame["acl_id"].iloc[2])


# ---------------------------------------------------------------- merging and files


def test_merge_shards_dedups_and_sorts():
    a = papers_frame([normalise_record(datasets(i, acl=f"2022.acl-long.{i}")) for i in (5, 1)])
    b = papers_frame([normalise_record(r) for r in (datasets(1, acl="other"), datasets(3))])
    merged, summary = merge_shards([a, b])
    assert summary == {"duplicates": 1, "papers": 3}
    assert merged["paper_id"].tolist() == ["1", "3", "5"]
    assert merged.loc[0, "acl_id"] == "2022.acl-long.1"  # first occurrence kept
    assert str(merged["year"].dtype) == "Int64"


def test_shard_files_and_merge_file(tmp_path, legacy_shard, datasets_shard):
    second = write_shard(
        tmp_path / "papers-part1.jsonl.gz", [datasets(1, acl="2022.acl-long.1"), datasets(9, acl="P19-1009")]
    )
    parts, summaries = [], []
    for shard in (legacy_shard, datasets_shard, second):
        parts.append(tmp_path / "out" / f"{shard.name}.parquet")
        summaries.append(tmp_path / "out" / f"{shard.name}.summary.json")
        filter_shard_file(shard, parts[-1], summaries[-1], {"min_year": 2015})
    assert read_json(summaries[0])["filter"]["min_year"] == 2015
    out = tmp_path / "corpus" / "papers.parquet"
    summary = merge_shards_file(parts, summaries, out, tmp_path / "corpus" / "summary.json")
    assert summary == {
        "shards": 3,
        "records": 8 + 4 + 2,
        "kept": 2 + 2 + 2,
        "dropped": {"not_acl": 3, "venue": 0, "year": 2, "no_abstract": 2},
        "bad_lines": 1,
        "duplicates": 1,
        "papers": 5,
    }
    assert read_json(tmp_path / "corpus" / "summary.json") == summary
    assert pq.read_schema(out).remove_metadata().equals(PAPERS_SCHEMA)
    papers = read_papers(out)
    assert papers["paper_id"].tolist() == ["1", "2", "9", "a1", "a7"]
    assert papers["year"].tolist() == [2022, 2022, 2022, 2019, 2019]
    assert [list(a) for a in papers["authors"]][0] == [{"id": "21", "name": "Bo Author"}]
    assert sorted(p.name for p in out.parent.iterdir()) == ["papers.parquet", "summary.json"]


def test_empty_shard_keeps_the_schema(tmp_path, datasets_shard):
    empty = write_shard(tmp_path / "empty.gz", [])
    only_dropped = write_shard(tmp_path / "dropped.gz", [datasets(3, venue="NeurIPS")])
    for shard in (empty, only_dropped):
        part = tmp_path / f"{shard.stem}.parquet"
        summary = filter_shard_file(shard, part, tmp_path / f"{shard.stem}.json", None)
        assert summary["kept"] == 0
        assert pq.read_schema(part).remove_metadata().equals(PAPERS_SCHEMA)
        frame = read_papers(part)
        assert list(frame.columns) == list(CORPUS_COLUMNS) and len(frame) == 0
        assert str(frame["year"].dtype) == "Int64"
    full = tmp_path / "full.parquet"
    filter_shard_file(datasets_shard, full, tmp_path / "full.json", None)
    merged = tmp_path / "merged.parquet"
    merge_shards_file(
        [tmp_path / "empty.parquet", full], [tmp_path / "empty.json", tmp_path / "full.json"],
        merged, tmp_path / "merged.json",
    )
    assert read_papers(merged)["paper_id"].tolist() == ["1", "2"]
    empty_merge = tmp_path / "empty-merge.parquet"
    merge_shards_file(
        [tmp_path / "empty.parquet"], [tmp_path / "empty.json"], empty_merge, tmp_path / "em.json"
    )
    assert pq.read_schema(empty_merge).remove_metadata().equals(PAPERS_SCHEMA)


def test_read_papers_names_missing_columns(tmp_path):
    path = tmp_path / "bad.parquet"
    pd.DataFrame({"paper_id": ["1"]}).to_parquet(path)
    with pytest.raises(InputError, match="missing corpus columns"):
        read_papers(path)


# ---------------------------------------------------------------- bad lines, fast path, abstracts


def test_too_many_bad_lines_fail_with_a_clear_error(tmp_path):
    lines = [datasets(i, acl=f"2022.acl-long.{i}") for i in range(8)] + ['{"corpusid": 9, "ti', "not json"]
    shard = write_shard(tmp_path / "bad.gz", lines)
    _, summary = filter_shard(shard, SPEC, max_bad_share=0.25)
    assert summary["bad_lines"] == 2 and summary["bad_line_numbers"] == [9, 10]
    with pytest.raises(InputError, match=r"2 of 10 lines are malformed \(20.00%\).*max_bad_line_share") as err:
        filter_shard(shard, SPEC, max_bad_share=0.1)
    assert err.value.path == str(shard)
    with pytest.raises(InputError):
        filter_shard_file(shard, tmp_path / "p.parquet", tmp_path / "s.json", None, max_bad_share=0.1)
    assert not (tmp_path / "p.parquet").exists()


def test_block_prefilter_matches_full_parse_on_a_multi_block_shard(tmp_path):
    import random

    rng = random.Random(0)
    lines = []
    for i in range(6000):
        kind = i % 50
        if kind == 0:
            lines.append(datasets(i, acl=f"2021.emnlp-main.{i}"))
        elif kind == 1:
            lines.append(datasets(i, url=f"https://aclanthology.org/2020.coling-main.{i}/"))
        elif kind == 2:
            lines.append(legacy(f"L{i}", doi=f"10.18653/v1/P{rng.randint(10, 19)}-{i % 9000:04d}"))
        elif kind == 3:
            lines.append(datasets(i, venue="A miracle of oracles"))  # 'acl' inside words: parsed, dropped
        else:
            lines.append(datasets(i, venue="ICML", abstract=f"{rng.getrandbits(4000):x}"))
    lines[3000] = '{"corpusid": 3000, "title": "cut'  # a truncated line inside the file
    shard = write_shard(tmp_path / "big.gz", lines)
    assert shard.stat().st_size > 2 * (1 << 20)  # several blocks of the block-wise reader
    fast, fast_summary = filter_shard(shard, SPEC, prefilter=True)
    full, full_summary = filter_shard(shard, SPEC, prefilter=False)
    pd.testing.assert_frame_equal(fast, full)
    assert fast_summary == full_summary
    assert fast_summary["bad_line_numbers"] == [3001] and fast_summary["kept"] == 3 * 120 - 1


def test_select_and_join_abstracts(tmp_path):
    lines = [{"corpusid": i, "abstract": f"Abstract {i}.", "openaccessinfo": None} for i in range(1, 7)]
    lines.insert(2, '{"corpusid": 4, "abstract": "br')  # wanted id, bad JSON
    shard = write_shard(tmp_path / "abstracts-0.gz", lines)
    frame, summary = select_abstracts(shard, np.array([2, 4, 6, 99]))
    assert frame.to_dict("records") == [
        {"paper_id": "2", "abstract": "Abstract 2."},
        {"paper_id": "4", "abstract": "Abstract 4."},
        {"paper_id": "6", "abstract": "Abstract 6."},
    ]
    assert summary["records"] == 7 and summary["bad_lines"] == 1 and summary["bad_line_numbers"] == [3]
    papers = papers_frame([normalise_record(datasets(i, acl="P19-1001", abstract=None)) for i in (2, 5)])
    joined = join_abstracts(papers, [frame])
    assert joined["abstract"].tolist() == ["Abstract 2.", ""]
    kept, n_dropped = drop_without_abstract(joined)
    assert kept["paper_id"].tolist() == ["2"] and n_dropped == 1


# ---------------------------------------------------------------- gunzip backends, upper-case hosts


@pytest.mark.parametrize("backend", ["isal", "zlib"])
def test_gunzip_backends_read_multi_member_files_and_name_damage(tmp_path, backend):
    if backend == "isal":
        pytest.importorskip("isal")
    members = [gzip.compress(b"".join(b'{"id": "%d"}\n' % (m * 1000 + i) for i in range(1000))) for m in range(3)]
    shard = tmp_path / "multi.gz"
    shard.write_bytes(b"".join(members))
    blocks = list(_iter_blocks(shard, backend))
    assert b"".join(blocks).count(b"\n") == 3000 and all(b.endswith(b"\n") for b in blocks if b)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(shard.read_bytes()[:-5000])
    with pytest.raises(InputError, match="truncated gzip data"):
        list(_iter_blocks(cut, backend))
    bad = bytearray(shard.read_bytes())
    bad[len(members[0]) + 200 : len(members[0]) + 260] = bytes(60)  # damage the second member
    (tmp_path / "bad.gz").write_bytes(bytes(bad))
    with pytest.raises(InputError, match="bad.gz"):
        list(_iter_blocks(tmp_path / "bad.gz", backend))


def test_prefilter_finds_upper_case_hosts_and_dois(tmp_path):
    lines = [
        legacy("u1", pdf_urls=["HTTPS://WWW.ACLWEB.ORG/anthology/P19-1004.pdf"]),
        legacy("u2", pdf_urls=["https://ACLAnthology.org/2021.acl-long.8.pdf"]),
        legacy("u3", doi="10.18653/V1/D19-1002"),
        legacy("u4", pdf_urls=["https://www.AclWeb.org/anthology/W19-3601.pdf"]),
        datasets(5, acl="P19-1005"),
        legacy("u6", pdf_urls=["https://arxiv.org/pdf/1901.00002.pdf"], venue="ArXiv"),
    ] + [datasets(100 + i, venue="ICML") for i in range(300)]
    shard = write_shard(tmp_path / "upper.gz", lines)
    fast, fast_summary = filter_shard(shard, SPEC, prefilter=True)
    full, full_summary = filter_shard(shard, SPEC, prefilter=False)
    pd.testing.assert_frame_equal(fast, full)
    assert fast_summary == full_summary
    assert fast["paper_id"].tolist() == ["u1", "u2", "u3", "u4", "5"]
    assert fast["acl_id"].tolist() == ["P19-1004", "2021.acl-long.8", "D19-1002", "W19-3601", "P19-1005"]


# ---------------------------------------------------------------- diffs


def test_read_corpus_ids_counts_lines_without_an_id(tmp_path):
    shard = write_shard(tmp_path / "del.gz", [{"corpusid": 7}, {"corpusid": 12}, "", '{"paperid": 3}', {"corpusid": 5}])
    ids, summary = read_corpus_ids(shard)
    assert ids.tolist() == [7, 12, 5] and ids.dtype == np.int64
    assert summary["records"] == 4 and summary["bad_lines"] == 1 and summary["bad_line_numbers"] == [4]
    with pytest.raises(InputError, match="malformed"):
        read_corpus_ids(shard, max_bad_share=0.1)


def _papers(*ids, acl="P19-1001", abstract="Old."):
    return papers_frame([normalise_record(datasets(i, acl=acl, abstract=abstract)) for i in ids])


def test_apply_paper_diff_upserts_then_deletes():
    old = _papers(1, 2, 3, 4)
    updates = _papers(2, 9, abstract=None)  # 2 updated, 9 added
    updates.loc[0, "title"] = "New title"
    # 3 has an update record that no longer passes the filter; 4 and 77 are deleted (77 is absent)
    new, counts = apply_paper_diff(old, updates, np.array([2, 3, 9]), np.array([4, 77]))
    assert new["paper_id"].tolist() == ["1", "2", "9"]
    assert new.set_index("paper_id")["title"]["2"] == "New title"
    assert new["abstract"].tolist() == ["Old.", "", ""]  # update records replace rows whole
    assert counts == {"updated": 1, "added": 1, "removed_by_update": 1, "deleted": 1}
    assert new["year"].dtype == "Int64"


def test_apply_abstract_diff_sets_then_empties():
    old = _papers(1, 2, 3)
    table = pd.DataFrame({"paper_id": ["2", "8"], "abstract": ["New.", "Elsewhere."]})
    new, counts = apply_abstract_diff(old, table, np.array([3]))
    assert new["abstract"].tolist() == ["Old.", "New.", ""]
    assert counts == {"abstracts_updated": 1, "abstracts_deleted": 1}
