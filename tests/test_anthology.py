"""The ACL Anthology corpus source: records -> corpus papers, filters, bad lines, and the
``anthology_corpus`` rule run by Snakemake (corpus.source = anthology).

Tests marked with ``needs_anthology`` read real records from ``../shared/data/acl-anthology``
(ACL Anthology, aclanthology.org; metadata from github.com/acl-org/acl-anthology) and skip
where it is absent."""

import gzip
import json

import pyarrow.parquet as pq
import pytest

from revmatch.corpus.anthology import (
    ANTHOLOGY_DROP_REASONS,
    anthology_corpus_file,
    anthology_filter_reason,
    normalise_anthology_record,
    read_anthology,
)
from revmatch.corpus.merge import merge_shards
from revmatch.corpus.papers_table import PAPERS_SCHEMA, papers_frame, read_papers
from revmatch.corpus.records import normalise_record
from revmatch.corpus.settings import FilterSpec
from revmatch.io import InputError, read_json
from tests.conftest import REPO, copy_workflow, run_snakemake

SOURCE = REPO.parent / "shared" / "data" / "acl-anthology" / "papers.jsonl.gz"
needs_anthology = pytest.mark.skipif(
    not SOURCE.exists(), reason="ACL Anthology metadata (../shared) not available"
)
MERGE_SUMMARY_KEYS = {"shards", "records", "kept", "dropped", "bad_lines", "duplicates", "papers"}


def record(paper_id, year=2021, abstract="An abstract.", venues=("acl",), **extra):
    """A papers record in the shape of the Anthology file (null keys left out)."""
    out = {
        "paper_id": paper_id, "title": f"Title of {paper_id}", "year": year, "venues": list(venues),
        "authors": [{"id": "noah-a-smith", "first": "Noah A.", "last": "Smith", "name": "Noah A. Smith",
                     "id_source": "variants"},
                    {"id": "yang-liu-ict", "first": "Yang", "last": "Liu", "id_source": "xml",
                     "affiliation": "ICT"}],
        **extra,
    }
    if abstract is not None:
        out["abstract"] = abstract
    return out


def write_lines(path, lines):
    """JSON lines (dicts are dumped, strings written as they are), gzipped for ``.gz``."""
    text = "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def real_records(predicate, n):
    """The first ``n`` records of the shared Anthology file that satisfy ``predicate``."""
    found = []
    with gzip.open(SOURCE, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if predicate(rec):
                found.append(rec)
                if len(found) == n:
                    break
    assert len(found) == n
    return found


# ---------------------------------------------------------------- library


def test_normalise_record_gives_corpus_columns():
    paper = normalise_anthology_record(record("2022.coling-1.7", venues=["coling", "lrec"]))
    assert paper["paper_id"] == paper["acl_id"] == "2022.coling-1.7"
    assert paper["venue"] == "coling,lrec" and paper["year"] == 2021 and paper["abstract"] == "An abstract."
    # the Anthology person id; a name missing from the record is built from first and last
    assert paper["authors"] == [
        {"id": "noah-a-smith", "name": "Noah A. Smith"}, {"id": "yang-liu-ict", "name": "Yang Liu"}
    ]
    assert paper["withdrawn"] is None
    assert normalise_anthology_record(record("P19-1001", abstract=None))["abstract"] == ""
    assert normalise_anthology_record(record("P19-1002", withdrawn="retracted"))["withdrawn"] == "retracted"


@pytest.mark.parametrize("missing", ["paper_id", "title", "year"])
def test_normalise_record_without_a_required_field_raises(missing):
    rec = record("P19-1001")
    del rec[missing]
    with pytest.raises(ValueError, match=missing):
        normalise_anthology_record(rec)


def test_filter_reasons_follow_the_s2_filter_semantics():
    def reason(spec, **kw):
        return anthology_filter_reason(normalise_anthology_record(record("X", **kw)), spec)

    spec = FilterSpec(min_year=2016, max_year=2022)
    assert reason(spec) is None
    assert reason(spec, withdrawn="removed") == "withdrawn"
    assert reason(spec, year=2015) == reason(spec, year=2023) == "year"
    assert reason(spec, abstract=None) == "no_abstract"
    assert reason(FilterSpec(require_abstract=False), abstract=None) is None
    # every Anthology paper is an ACL paper: with acl on, venues narrow nothing
    assert reason(FilterSpec(venues=["emnlp"]), venues=["ws"]) is None
    # with acl off, only the listed venue acronyms (any of a joint volume's, case-insensitive)
    only = FilterSpec(acl=False, venues=["EMNLP", "LREC"])
    assert reason(only, venues=["ws"]) == "venue"
    assert reason(only, venues=["coling", "lrec"]) is None
    assert reason(FilterSpec(acl=False), venues=["ws"]) is None  # no venues: every venue


def test_read_counts_drops_and_bad_lines(tmp_path, caplog):
    lines = [
        record("2021.acl-long.2"),
        record("2021.acl-long.1"),
        record("2020.acl-main.69", year=2020, withdrawn="retracted"),
        record("2021.findings-acl.5", abstract=None),
        record("P15-1001", year=2015),
        '{"paper_id": "2021.acl-long.9", "title": "cut sh',
        "",
        json.dumps({"title": "no id", "year": 2021}),
        record("2021.acl-long.3", venues=["acl", "ws"]),
    ]
    path = write_lines(tmp_path / "papers.jsonl.gz", lines)
    frame, summary = read_anthology(path, {"min_year": 2016}, max_bad_share=0.3)
    assert list(frame["paper_id"]) == ["2021.acl-long.1", "2021.acl-long.2", "2021.acl-long.3"]  # sorted
    assert frame.set_index("paper_id")["venue"]["2021.acl-long.3"] == "acl,ws"
    assert summary["records"] == 8 and summary["kept"] == summary["papers"] == 3
    assert summary["dropped"] == {"not_acl": 0, "venue": 0, "year": 1, "no_abstract": 1, "withdrawn": 1}
    # the blank line 7 is no record
    assert summary["bad_lines"] == 2 and summary["bad_line_numbers"] == [6, 8]
    assert MERGE_SUMMARY_KEYS <= set(summary) and set(ANTHOLOGY_DROP_REASONS) <= set(summary["dropped"])
    assert "row 6: invalid JSON" in caplog.text
    assert "row 8: unusable record (missing or empty 'paper_id')" in caplog.text
    # the same lines uncompressed read the same
    plain_path = write_lines(tmp_path / "papers.jsonl", lines)
    plain, _ = read_anthology(plain_path, {"min_year": 2016}, max_bad_share=0.3)
    assert plain.equals(frame)


def test_bad_lines_beyond_the_share_raise_naming_file_and_line(tmp_path):
    path = write_lines(tmp_path / "papers.jsonl.gz", [record("A"), record("B"), "not json", record("C")])
    with pytest.raises(InputError) as err:
        read_anthology(path, max_bad_share=0.0)  # the library default: no bad line allowed
    assert err.value.path == str(path) and err.value.row == 3
    assert "invalid JSON" in err.value.message and "corpus.max_bad_line_share" in err.value.message
    assert read_anthology(path, max_bad_share=0.25)[1]["bad_lines"] == 1  # 1 of 4: within the share
    no_year = write_lines(tmp_path / "no_year.jsonl", [record("A"), {"paper_id": "B", "title": "T"}])
    with pytest.raises(InputError, match=r"no_year\.jsonl, row 2: unusable record \(missing or non-integer"):
        read_anthology(no_year, max_bad_share=0.01)


def test_corpus_file_has_the_s2_paths_dtypes_and_schema(tmp_path):
    path = write_lines(tmp_path / "papers.jsonl.gz", [record("2021.acl-long.1"), record("2021.acl-long.2")])
    out = tmp_path / "corpus" / "papers.parquet"
    summary_path = tmp_path / "corpus" / "summary.json"
    summary = anthology_corpus_file(path, out, summary_path, {"min_year": 2016})
    assert pq.read_schema(out).remove_metadata().equals(PAPERS_SCHEMA)
    assert read_json(summary_path) == summary
    assert summary["source"] == "anthology" and summary["filter"]["min_year"] == 2016
    got = read_papers(out)
    s2 = {"corpusid": 7, "title": "T", "abstract": "A", "year": 2021, "venue": "ACL",
          "externalids": {"ACL": "2021.acl-long.7"}, "authors": [{"authorId": "1", "name": "N"}]}
    s2_frame, _ = merge_shards([papers_frame([normalise_record(s2)])])
    assert got.dtypes.equals(s2_frame.dtypes)
    assert got["authors"][0].tolist() == [{"id": "noah-a-smith", "name": "Noah A. Smith"},
                                          {"id": "yang-liu-ict", "name": "Yang Liu"}]


@needs_anthology
def test_real_slice_drops_withdrawn_abstractless_and_out_of_range(tmp_path):
    kept = real_records(lambda r: r["year"] == 2021 and r.get("abstract") and "withdrawn" not in r, 3)
    withdrawn = real_records(lambda r: "withdrawn" in r, 1)
    no_abstract = real_records(lambda r: r["year"] == 2021 and "abstract" not in r, 1)
    too_old = real_records(lambda r: r["year"] == 2015 and r.get("abstract"), 1)
    lines = [*kept, withdrawn[0], no_abstract[0], '{"paper_id": "2021.acl-long.999", "title"', too_old[0]]
    path = write_lines(tmp_path / "slice.jsonl.gz", lines)
    frame, summary = read_anthology(path, FilterSpec(min_year=2016, max_year=2022), max_bad_share=0.2)
    assert sorted(frame["paper_id"]) == sorted(r["paper_id"] for r in kept)
    assert summary["dropped"] == {"not_acl": 0, "venue": 0, "year": 1, "no_abstract": 1, "withdrawn": 1}
    assert summary["records"] == 7 and summary["bad_lines"] == 1 and summary["bad_line_numbers"] == [6]
    first = frame.set_index("paper_id").loc[kept[0]["paper_id"]]
    assert first["title"] == kept[0]["title"] and first["acl_id"] == kept[0]["paper_id"]
    assert first["venue"] == ",".join(kept[0]["venues"])
    assert [a["id"] for a in first["authors"]] == [a["id"] for a in kept[0]["authors"]]
    with pytest.raises(InputError) as err:  # the same slice with the share of the S2 default (1%)
        read_anthology(path, FilterSpec(min_year=2016), max_bad_share=0.01)
    assert err.value.row == 6 and err.value.path == str(path)


# ---------------------------------------------------------------- workflow


def test_anthology_source_without_its_file_stops_naming_the_key(tmp_path):
    workdir = copy_workflow(tmp_path)
    (workdir / "anthology.yaml").write_text("corpus:\n  source: anthology\n")
    dry_run = ("--configfile", "config/config.yaml", "anthology.yaml", "-n")
    proc = run_snakemake(workdir, *dry_run, timeout=120)
    assert proc.returncode != 0
    assert "config key corpus.anthology.papers: required" in proc.stdout + proc.stderr
    (workdir / "anthology.yaml").write_text(
        "corpus:\n  source: anthology\n  anthology: {papers: missing.jsonl.gz}\n"
    )
    proc = run_snakemake(workdir, *dry_run, timeout=120)
    assert proc.returncode != 0
    assert "config key corpus.anthology.papers: file not found: missing.jsonl.gz" in proc.stdout + proc.stderr


@needs_anthology
def test_anthology_corpus_rule_builds_the_corpus(tmp_path):
    """300 real papers of 2021 with abstracts (plus a withdrawn one) through the rule."""
    papers = real_records(lambda r: r["year"] == 2021 and r.get("abstract") and "withdrawn" not in r, 300)
    withdrawn = real_records(lambda r: "withdrawn" in r, 1)
    source = write_lines(tmp_path / "anthology-2021.jsonl.gz", papers + withdrawn)
    (tmp_path / "wf").mkdir()
    workdir = copy_workflow(tmp_path / "wf")
    config = workdir / "anthology.yaml"
    config.write_text(f"corpus:\n  source: anthology\n  anthology:\n    papers: {source}\n"
                      "  filter:\n    min_year: 2016\n")
    target = "results/corpus/papers.parquet"
    args = ("--configfile", "config/config.yaml", "anthology.yaml", "--", target)
    proc = run_snakemake(workdir, *args, timeout=300)
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert "anthology_corpus" in proc.stdout + proc.stderr
    assert not (workdir / "results" / "corpus" / "shards").exists()  # no S2/local rule ran

    corpus = read_papers(workdir / target)
    assert pq.read_schema(workdir / target).remove_metadata().equals(PAPERS_SCHEMA)
    assert list(corpus["paper_id"]) == sorted(r["paper_id"] for r in papers)
    assert (corpus["paper_id"] == corpus["acl_id"]).all() and (corpus["year"] == 2021).all()
    summary = read_json(workdir / "results" / "corpus" / "summary.json")
    assert summary["source"] == "anthology" and summary["records"] == 301
    assert summary["papers"] == summary["kept"] == 300 and summary["dropped"]["withdrawn"] == 1
    assert "301 records, 300 kept" in (workdir / "logs" / "corpus" / "anthology.log").read_text()
    assert (workdir / "results" / "benchmarks" / "corpus" / "anthology.tsv").exists()

    # a changed filter reaches the rule (params): the corpus is built again
    config.write_text(config.read_text() + "    max_year: 2020\n")
    again = run_snakemake(workdir, *args, timeout=300)
    assert again.returncode == 0, again.stderr[-6000:]
    assert len(read_papers(workdir / target)) == 0
    assert read_json(workdir / "results" / "corpus" / "summary.json")["dropped"]["year"] == 300
