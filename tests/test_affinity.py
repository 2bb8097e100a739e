import csv
import dataclasses
import json
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml

from revmatch import affinity
from revmatch.corpus import papers_frame, write_papers
from revmatch.io import InputError, write_jsonl
from revmatch.model import index_corpus_file, load_registry_model, paper_scores, submission_texts
from tests.conftest import REPO

DIM = 16
LEGACY_META_KEYS = [
    "no_profile", "no_profile_submission", "no_publications", "no_publications_count", "submission_count"
]


def unit(rng, n):
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def reviewer(rid, ids, *, ac=False, sac=False, tracks=(), ac_tracks=(), sac_tracks=()):
    return {
        "id": rid, "name": rid.title(), "email": f"{rid}@uni.edu", "ids": list(ids), "startUsername": rid,
        "tracks": list(tracks), "areaChair": ac, "ac_tracks": list(ac_tracks),
        "seniorAreaChair": sac, "sac_tracks": list(sac_tracks), "emergency": False,
    }


@pytest.fixture
def conference():
    """12 corpus papers, 6 people (one without papers), 5 submissions, random unit embeddings."""
    rng = np.random.default_rng(7)
    authorship = {  # corpus row -> (year, author ids)
        0: (2015, ["1"]), 1: (2018, ["1", "2"]), 2: (2021, ["1"]), 3: (2019, ["2"]),
        4: (2020, ["3"]), 5: (2022, ["3", "4"]), 6: (None, ["4"]), 7: (2017, ["5"]),
        8: (2019, ["5", "1"]), 9: (2020, ["99"]), 10: (2021, ["6"]), 11: (2016, [""]),
    }
    papers = papers_frame(
        [
            {
                "paper_id": f"p{row:02d}", "title": f"T{row}", "abstract": "A.", "year": year, "venue": "ACL",
                "authors": [{"id": a, "name": f"N{a}"} for a in ids], "acl_id": None,
            }
            for row, (year, ids) in authorship.items()
        ]
    )
    reviewers = [
        reviewer("rev1", ["1"], tracks=["MT"]),
        reviewer("rev2", ["2"], tracks=["Dialogue"]),
        reviewer("rev3", ["42"], tracks=["MT"]),  # no corpus papers
        reviewer("ac1", ["3"], ac=True, ac_tracks=["MT"]),
        reviewer("ac2", ["4", "5"], ac=True, ac_tracks=["Dialogue"]),
        reviewer("sac1", ["6"], sac=True, sac_tracks=["MT", "Dialogue"]),
    ]
    submissions = [{"id": f"s{i}", "title": f"S{i}", "track": "MT"} for i in range(1, 6)]
    return {
        "papers": papers, "reviewers": reviewers, "submissions": submissions,
        "corpus_embeddings": unit(rng, len(papers)), "submission_embeddings": unit(rng, len(submissions)),
    }


def naive_max(sub_emb, corpus_emb, member_rows):
    """Max cosine over each member's papers, one submission and member at a time."""
    out = np.full((len(member_rows), len(sub_emb)), np.nan)
    for m, rows in enumerate(member_rows):
        for s, vec in enumerate(sub_emb):
            if rows:
                out[m, s] = max(float(vec @ corpus_emb[r]) for r in rows)
    return out


def run(conference, **job):
    c = conference
    return affinity.run_affinity_job(
        job, c["reviewers"], c["submissions"], c["papers"],
        affinity.EmbeddingScorer(c["corpus_embeddings"], c["submission_embeddings"]),
    )


def scores_by_pair(document, a_key, b_key):
    return {(e[a_key], e[b_key]): e["score"] for e in document["results"]}


# ---------------------------------------------------------------- publications


def test_member_publications(conference):
    members = conference["reviewers"]
    incidence, no_pubs = affinity.member_publications(members, conference["papers"])
    rows = [incidence[i].indices.tolist() for i in range(len(members))]
    assert rows == [[0, 1, 2, 8], [1, 3], [], [4, 5], [5, 6, 7, 8], [10]]
    assert no_pubs == ["rev3"]
    recent, _ = affinity.member_publications(members, conference["papers"], max_papers=2)
    recent_rows = [recent[i].indices.tolist() for i in range(len(members))]
    assert recent_rows == [[2, 8], [1, 3], [], [4, 5], [5, 8], [10]]
    since, no_pubs = affinity.member_publications(members, conference["papers"], since_year=2020)
    assert [since[i].indices.tolist() for i in range(len(members))] == [[2], [], [], [4, 5], [5], [10]]
    assert no_pubs == ["rev2", "rev3"]


# ---------------------------------------------------------------- reductions


def test_group_submission_scores_match_naive_reductions():
    rng = np.random.default_rng(0)
    pub_scores = rng.uniform(-1, 1, size=(7, 30)).astype(np.float32)
    member_rows = [[0, 3, 9], [], [4], list(range(10, 30)), [1, 2], []]
    indptr = np.cumsum([0] + [len(r) for r in member_rows])
    columns = np.concatenate([r for r in member_rows if r])
    incidence = sp.csr_matrix((np.ones(indptr[-1]), columns, indptr), shape=(6, 30))
    def weighted_top3(v):
        best = np.sort(v)[::-1][:3]
        return float(np.sum(best / np.arange(1, len(best) + 1)))

    checks = {
        "max": np.max, "mean": np.mean, "weighted_top3": weighted_top3,
        "min": np.min, "p75": lambda v: np.percentile(v, 75), "median": np.median,
    }
    for reduce, fn in checks.items():
        got = affinity.group_submission_scores(pub_scores, incidence, reduce)
        assert got.shape == (7, 6)
        for m, rows in enumerate(member_rows):
            for s in range(7):
                if rows:
                    expected = float(fn(pub_scores[s, rows].astype(np.float64)))
                    assert got[s, m] == pytest.approx(expected, abs=1e-6), (reduce, s, m)
                else:
                    assert np.isnan(got[s, m])
    with pytest.raises(ValueError, match="unknown reduce"):
        affinity.group_submission_scores(pub_scores, incidence, "top3")


def test_group_group_scores_max_over_pairs(conference):
    emb = conference["corpus_embeddings"]
    inc, _ = affinity.member_publications(conference["reviewers"], conference["papers"])
    got = affinity.group_group_scores(emb, inc[:3], emb, inc[3:], "max", block_rows=2)
    rows_a = [inc[i].indices.tolist() for i in range(3)]
    rows_b = [inc[i].indices.tolist() for i in range(3, 6)]
    for a, ra in enumerate(rows_a):
        for b, rb in enumerate(rows_b):
            if ra and rb:
                best = max(float(emb[i] @ emb[j]) for i in ra for j in rb)
                assert got[a, b] == pytest.approx(best, abs=1e-6)
            else:
                assert np.isnan(got[a, b])
    mean = affinity.group_group_scores(emb, inc[:1], emb, inc[3:4], "mean")
    assert mean[0, 0] == pytest.approx(float(np.mean(emb[rows_a[0]] @ emb[rows_b[0]].T)), abs=1e-6)


def test_normalise_scores():
    scores = np.array([[0.2, np.nan], [-0.4, 0.8]])
    got = affinity.normalise_scores(scores)
    np.testing.assert_allclose(got, [[0.5, np.nan], [0.0, 1.0]])
    constant = np.array([[0.3, 0.3], [np.nan, 0.3]])
    np.testing.assert_array_equal(affinity.normalise_scores(constant), [[0, 0], [np.nan, 0]])
    assert affinity.normalise_scores(np.empty((0, 3))).shape == (0, 3)
    np.testing.assert_allclose(affinity.cosine_to_unit(np.array([-1.0, 0.0, 1.0])), [0.0, 0.5, 1.0])


# ---------------------------------------------------------------- jobs


def test_group_submissions_legacy_schema(conference):
    doc = run(conference, mode="group_submissions", group={"role": "reviewer"}, normalize=False)
    assert list(doc) == ["metadata", "results"]
    assert list(doc["metadata"]) == LEGACY_META_KEYS
    assert doc["metadata"] == {
        "no_profile": [], "no_profile_submission": [], "no_publications": ["rev3"],
        "no_publications_count": 1, "submission_count": 5,
    }
    assert all(list(e) == ["submission", "user", "score"] for e in doc["results"])
    assert len(doc["results"]) == 2 * 5  # rev3 has no papers: no entries
    got = scores_by_pair(doc, "user", "submission")
    inc, _ = affinity.member_publications(conference["reviewers"][:2], conference["papers"])
    expected = naive_max(conference["submission_embeddings"], conference["corpus_embeddings"],
                         [inc[i].indices.tolist() for i in range(2)])
    for m, member in enumerate(["rev1", "rev2"]):
        for s in range(5):
            assert got[(member, f"s{s + 1}")] == pytest.approx((expected[m, s] + 1) / 2, abs=1e-6)


def test_group_submissions_normalised_with_track(conference):
    doc = run(conference, mode="group_submissions", group={"role": "area_chair", "track": "MT"})
    assert {e["user"] for e in doc["results"]} == {"ac1"}
    scores = np.array([e["score"] for e in doc["results"]])
    assert scores.min() == 0.0 and scores.max() == 1.0
    doc = run(conference, mode="group_submissions", group={"role": "all", "track": "Dialogue"})
    assert {e["user"] for e in doc["results"]} == {"rev2", "ac2", "sac1"}


def test_paper_subset_reports_unknown_submissions(conference):
    wanted = ["s2", "s9", "s4", "s2"]
    doc = run(conference, mode="paper_subset", group={"role": "area_chair"}, submissions=wanted)
    assert doc["metadata"]["no_profile_submission"] == ["s9"]
    assert doc["metadata"]["submission_count"] == 2
    pairs = [(e["submission"], e["user"]) for e in doc["results"]]
    assert pairs == [("s2", "ac1"), ("s4", "ac1"), ("s2", "ac2"), ("s4", "ac2")]
    assert all(0.0 <= e["score"] <= 1.0 for e in doc["results"])


def test_user_subset_reports_unknown_members(conference):
    doc = run(conference, mode="user_subset", members=["rev2", "ghost", "AC1@UNI.EDU", "rev3"], max_papers=1)
    meta = doc["metadata"]
    assert meta["no_profile"] == ["ghost"]
    assert meta["no_publications"] == ["rev3"] and meta["no_publications_count"] == 1
    assert {e["user"] for e in doc["results"]} == {"rev2", "ac1"}
    assert len(doc["results"]) == 2 * 5
    assert all(0.0 <= e["score"] <= 1.0 for e in doc["results"])


def test_group_group_legacy_and_current(conference):
    job = {"mode": "group_group", "group": {"role": "reviewer"}, "alternate_group": {"role": "area_chair"}}
    doc = run(conference, **job, normalize=False)
    assert all(list(e) == ["match_member", "submission_member", "score"] for e in doc["results"])
    assert doc["metadata"]["no_publications"] == ["rev3"]
    assert doc["metadata"]["submission_count"] == 2
    got = scores_by_pair(doc, "match_member", "submission_member")
    assert set(got) == {(a, b) for a in ("rev1", "rev2") for b in ("ac1", "ac2")}
    emb = conference["corpus_embeddings"]
    best = max(float(emb[i] @ emb[j]) for i in (1, 3) for j in (4, 5))
    assert got[("rev2", "ac1")] == pytest.approx((best + 1) / 2, abs=1e-6)
    current = run(conference, **job, schema="current")
    assert list(current["metadata"]) == [*LEGACY_META_KEYS, "archives_count"]
    assert current["metadata"]["archives_count"] == {"rev1": 4, "rev2": 2, "rev3": 0, "ac1": 2, "ac2": 4}
    assert all(list(e) == ["entityA", "entityB", "score"] for e in current["results"])
    assert all(0.0 <= e["score"] <= 1.0 for e in current["results"])


def test_current_schema_for_submissions(conference):
    group = {"members": ["ac1", "sac1"]}
    doc = run(conference, mode="group_submissions", group=group, schema="current", reduce="mean")
    assert list(doc["metadata"]) == [*LEGACY_META_KEYS, "archives_count"]
    assert all(list(e) == ["entityA", "entityB", "score"] for e in doc["results"])
    assert {e["entityA"] for e in doc["results"]} == {"ac1", "sac1"}
    assert {e["entityB"] for e in doc["results"]} == {f"s{i}" for i in range(1, 6)}


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"mode": "everything"}, "mode"),
        ({"mode": "paper_subset", "group": {"role": "reviewer"}}, "submissions"),
        ({"mode": "group_group", "group": {"role": "reviewer"}}, "alternate_group"),
        ({"mode": "user_subset"}, "members"),
        ({"mode": "group_submissions", "group": {"role": "chair"}}, "role"),
        ({"mode": "group_submissions", "group": {"role": "reviewer"}, "submission_status": "rejected"},
         "submission_status"),
        ({"mode": "group_submissions", "group": {"role": "reviewer"}, "submission_status": "withdrawn"},
         "no submission"),
        ({"mode": "group_submissions", "group": {"role": "area_chair", "track": "Nowhere"}}, "empty"),
        ({"mode": "user_subset", "members": ["ghost"]}, "empty"),
        ({"mode": "user_subset", "members": ["rev1", "ghost"], "on_unknown_member": "error"}, "ghost"),
        ({"mode": "user_subset", "members": ["rev3"]}, "no member of the group has publications"),
        ({"mode": "paper_subset", "group": {"role": "reviewer"}, "submissions": ["s99"]}, "s99"),
        ({"mode": "group_submissions", "group": {"role": "reviewer", "colour": "red"}}, "colour"),
        ({"mode": "group_submissions", "group": {"role": "reviewer"}, "schema": "v3"}, "schema"),
        ({"mode": "group_submissions", "group": {"role": "reviewer"}, "colour": 1}, "unknown"),
        ({"mode": "group_submissions", "group": {"role": "reviewer"}, "reduce": "weighted_top3",
          "normalize": False}, "normalize"),
    ],
)
def test_bad_jobs_raise(conference, job, message):
    with pytest.raises(ValueError, match=message):
        run(conference, **job)


# ---------------------------------------------------------------- files


def write_inputs(tmp_path, conference):
    paths = {
        "reviewers_jsonl": tmp_path / "reviewers.jsonl",
        "submissions_jsonl": tmp_path / "submissions.jsonl",
        "papers_parquet": tmp_path / "papers.parquet",
        "corpus_embeddings_npy": tmp_path / "corpus_embeddings.npy",
        "submission_embeddings_npy": tmp_path / "submission_embeddings.npy",
    }
    write_jsonl(conference["reviewers"], paths["reviewers_jsonl"])
    write_jsonl(conference["submissions"], paths["submissions_jsonl"])
    write_papers(conference["papers"], paths["papers_parquet"])
    np.save(paths["corpus_embeddings_npy"], conference["corpus_embeddings"])
    np.save(paths["submission_embeddings_npy"], conference["submission_embeddings"])
    return paths


@pytest.mark.parametrize(
    ("job", "header"),
    [
        ({"mode": "group_submissions", "group": {"role": "reviewer"}}, ["submission", "user", "score"]),
        ({"mode": "group_group", "group": {"role": "reviewer"}, "alternate_group": {"role": "area_chair"}},
         ["match_member", "submission_member", "score"]),
        ({"mode": "group_submissions", "group": {"role": "reviewer"}, "schema": "current"},
         ["entityA", "entityB", "score"]),
    ],
)
def test_affinity_job_file_writes_json_and_csv(tmp_path, conference, job, header):
    paths = write_inputs(tmp_path, conference)
    out_json, out_csv = tmp_path / "job" / "results.json", tmp_path / "job" / "results.csv"
    status = affinity.affinity_job_file(job, **paths, out_json=out_json, out_csv=out_csv)
    assert status["status"] == "Completed" and status["name"] == "job" and status["request"] == job
    expected = run(conference, **job)
    written = json.loads(out_json.read_text())
    assert written == expected
    with open(out_csv, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == header
    assert [r[:2] for r in rows[1:]] == [[str(e[k]) for k in header[:2]] for e in expected["results"]]
    assert [float(r[2]) for r in rows[1:]] == [e["score"] for e in expected["results"]]
    assert all(re.fullmatch(r"[01]\.\d{7}", r[2]) for r in rows[1:])
    assert len(rows) > 1
    assert sorted(p.name for p in out_json.parent.iterdir()) == ["results.csv", "results.json", "status.json"]
    assert json.loads((out_json.parent / "status.json").read_text()) == status


def test_write_results_escapes_ids_and_skips_missing_scores(tmp_path):
    scores = np.array([[0.25, np.nan, 1.0], [np.nan, np.nan, np.nan], [1e-7, 0.5, 0.0]])
    rows, cols = ['quote"d', "plain", "comma,user"], ["s1", "new\nline", "ü"]
    metadata = {
        "no_profile": [], "no_profile_submission": ["s9"], "no_publications": ["plain"], "submission_count": 3
    }
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    n = affinity.write_results(
        scores, rows, cols, "paper_subset", metadata, "legacy", out_json, out_csv, block_entries=5
    )
    expected = affinity.results_document(scores, rows, cols, "paper_subset", metadata, "legacy")
    assert n == len(expected["results"]) == 5
    assert json.loads(out_json.read_text(encoding="utf-8")) == expected
    with open(out_csv, newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [(r["submission"], r["user"], float(r["score"])) for r in table] == [
        (e["submission"], e["user"], e["score"]) for e in expected["results"]
    ]
    metadata["archives_count"] = {}
    empty = affinity.write_results(
        np.full((2, 2), np.nan), rows[:2], cols[:2], "group_group", metadata, "current",
        tmp_path / "e.json", tmp_path / "e.csv",
    )
    assert empty == 0
    assert json.loads((tmp_path / "e.json").read_text())["results"] == []
    assert (tmp_path / "e.csv").read_text() == "entityA,entityB,score\n"


def test_affinity_job_file_checks_embedding_rows(tmp_path, conference):
    paths = write_inputs(tmp_path, conference)
    np.save(paths["corpus_embeddings_npy"], conference["corpus_embeddings"][:-1])
    status = affinity.affinity_job_file(
        {"mode": "group_submissions", "group": {"role": "reviewer"}}, **paths,
        out_json=tmp_path / "r.json", out_csv=tmp_path / "r.csv",
    )
    assert status["status"] == "Data Error"
    assert "corpus_embeddings.npy" in status["description"]
    assert not (tmp_path / "r.json").exists()


# ---------------------------------------------------------------- selection, ensembles, statuses


def selection_frame(rows):
    frame = pd.DataFrame(rows, columns=["member", "paper_id", "action"])
    frame["line"] = np.arange(len(frame)) + 2
    frame.attrs["path"] = "selection.csv"
    return frame


def test_expertise_selection_includes_and_excludes(conference):
    reviewers, papers = conference["reviewers"], conference["papers"]
    table = selection_frame([
        ["rev1", "p08", "exclude"],          # rev1: papers 0, 1, 2 (8 excluded)
        ["AC2@uni.edu", "p06", "include"],   # ac2 by e-mail: only papers 6 and 9 (9 not authored)
        ["ac2", "p09", "include"],
        ["rev3", "p00", "include"],          # rev3 (no papers of their own) gets paper 0
    ])
    pairs = affinity.selection_pairs(table, reviewers, papers["paper_id"].tolist())
    assert pairs.to_dict("list") == {
        "reviewer": [0, 4, 4, 2], "paper": [8, 6, 9, 0], "include": [False, True, True, True]
    }
    selection = pairs.rename(columns={"reviewer": "member"})
    incidence, no_pubs = affinity.member_publications(reviewers, papers, selection=selection)
    rows = [incidence[i].indices.tolist() for i in range(len(reviewers))]
    assert rows == [[0, 1, 2], [1, 3], [0], [4, 5], [6, 9], [10]]
    assert no_pubs == []
    recent, _ = affinity.member_publications(
        reviewers, papers, max_papers=1, since_year=2019, selection=selection
    )
    assert [recent[i].indices.tolist() for i in range(len(reviewers))] == [[2], [3], [], [5], [9], [10]]


@pytest.mark.parametrize(
    ("row", "column"), [(["ghost", "p01", "include"], "member"), (["rev1", "p99", "exclude"], "paper_id")]
)
def test_expertise_selection_unknown_member_or_paper(conference, row, column):
    table = selection_frame([["rev1", "p01", "exclude"], row])
    with pytest.raises(InputError, match=f"selection.csv, row 3, column '{column}'"):
        affinity.selection_pairs(table, conference["reviewers"], conference["papers"]["paper_id"].tolist())


def test_read_expertise_selection(tmp_path):
    path = tmp_path / "selection.csv"
    path.write_text("member,paper_id,action\nrev1, p01 ,Include\nrev2,p03,exclude\n")
    frame = affinity.read_expertise_selection(path)
    assert frame[["member", "paper_id", "action", "line"]].values.tolist() == [
        ["rev1", "p01", "include", 2], ["rev2", "p03", "exclude", 3]
    ]
    path.write_text("member,paper_id,action\nrev1,p01,include\nrev2,p03,maybe\n")
    with pytest.raises(InputError, match="row 3, column 'action'"):
        affinity.read_expertise_selection(path)
    path.write_text("member,paper\nrev1,p01\n")
    with pytest.raises(InputError, match="missing columns"):
        affinity.read_expertise_selection(path)


def test_score_digits_match_string_formatting():
    values = np.array([0.0, 1.0, 0.5, 1e-7, 0.12345675, 0.99999996, 0.3333333333])
    got = [bytes(row).decode() for row in affinity.score_digits(values)]
    assert got == [f"{round(v, affinity.SCORE_DECIMALS):.7f}" for v in values]


def test_rejected_submissions_by_status(conference):
    rng = np.random.default_rng(1)
    rejects = [
        {"startSubmissionId": "r1", "title": "R1", "reason": "desk reject"},
        {"startSubmissionId": "w1", "title": "W1", "reason": "withdrawn"},
    ]
    c = conference
    embeddings = np.concatenate([c["submission_embeddings"], unit(rng, 2)])
    def job(status, **extra):
        spec = {"mode": "group_submissions", "group": {"role": "area_chair"}, "submission_status": status}
        spec |= extra
        return affinity.run_affinity_job(
            spec, c["reviewers"], c["submissions"], c["papers"],
            affinity.EmbeddingScorer(c["corpus_embeddings"], embeddings), rejects,
        )
    assert {e["submission"] for e in job("desk_rejected")["results"]} == {"r1"}
    assert {e["submission"] for e in job(["withdrawn", "desk_rejected"])["results"]} == {"r1", "w1"}
    both = job(["active", "withdrawn"])
    assert both["metadata"]["submission_count"] == 6
    listed = job("active", mode="paper_subset", submissions=["s1", "w1"])
    assert listed["metadata"]["no_profile_submission"] == ["w1"]
    # The reject's score equals the one computed from its embedding as an active submission.
    alone = affinity.run_affinity_job(
        {"mode": "group_submissions", "group": {"role": "area_chair"}, "normalize": False},
        c["reviewers"], [{"id": "r1"}], c["papers"], affinity.EmbeddingScorer(c["corpus_embeddings"], embeddings[5:6]),
    )
    raw = job("desk_rejected", normalize=False)
    assert scores_by_pair(raw, "user", "submission") == {
        (u, "r1"): v for (u, _), v in scores_by_pair(alone, "user", "submission").items()
    }


def test_group_group_is_symmetric_when_a_is_b(conference):
    for reduce in ("max", "mean"):
        for normalize in (True, False):
            doc = run(conference, mode="group_group", group={"role": "all"}, alternate_group={"role": "all"},
                      reduce=reduce, normalize=normalize)
            got = scores_by_pair(doc, "match_member", "submission_member")
            assert len(got) == 5 * 5
            assert all(got[(a, b)] == got[(b, a)] for a, b in got)


def test_job_status(tmp_path):
    path = tmp_path / "status.json"
    queued = affinity.job_status(path, "j", {"mode": "group_submissions"})
    assert queued["status"] == "Queued" and queued["request"] == {"mode": "group_submissions"}
    with pytest.raises(FileNotFoundError, match="no affinity job 'j'"):
        affinity.job_status(path, "j")
    first = affinity.write_status(path, "j", "Initialized", "reading", {})
    later = affinity.write_status(path, "j", "Running Expertise", "scoring", {})
    assert later["cdate"] == first["cdate"] and later["mdate"] >= first["mdate"]
    assert affinity.job_status(path, "j") == later
    with pytest.raises(ValueError, match="status must be one of"):
        affinity.write_status(path, "j", "Done", "", {})


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"group": {"members_file": "missing.txt"}}, "missing.txt: id list file not found"),
        ({"expertise_selection": "nowhere.csv"}, "nowhere.csv: expertise selection file not found"),
        ({"group": {"members": ["ghost", "rev1"]}, "on_unknown_member": "error"}, "not in the conference"),
        ({"group": {"role": "area_chair", "track": "Nowhere"}}, "group is empty"),
        ({"papers_parquet": "gone.parquet"}, "gone.parquet: publications (corpus) file not found"),
    ],
)
def test_bad_input_ends_in_data_error(tmp_path, conference, monkeypatch, extra, reason):
    monkeypatch.chdir(tmp_path)
    paths = write_inputs(tmp_path, conference)
    if "papers_parquet" in extra:
        paths["papers_parquet"] = tmp_path / extra.pop("papers_parquet")
    job = {"mode": "group_submissions", "group": {"role": "reviewer"}, **extra}
    out = tmp_path / "job"
    status = affinity.affinity_job_file(
        job, **paths, out_json=out / "results.json", out_csv=out / "results.csv"
    )
    assert status["status"] == "Data Error"
    assert reason in status["description"]
    assert json.loads((out / "status.json").read_text()) == status
    assert sorted(p.name for p in out.iterdir()) == ["status.json"]


def test_unexpected_failure_ends_in_error(tmp_path, conference):
    paths = write_inputs(tmp_path, conference)
    out = tmp_path / "job"
    (out / "results.json").mkdir(parents=True)  # the result cannot be written
    with pytest.raises(OSError):
        affinity.affinity_job_file(
            {"mode": "group_submissions", "group": {"role": "reviewer"}}, **paths,
            out_json=out / "results.json", out_csv=out / "results.csv",
        )
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "Error" and "results.json" in status["description"]


def test_members_file_and_submissions_file(tmp_path, conference, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = write_inputs(tmp_path, conference)
    (tmp_path / "members.txt").write_text("# area chairs\nac1\n\nghost\n")
    (tmp_path / "subs.txt").write_text("s3\ns1\n")
    job = {"mode": "paper_subset", "group": {"members_file": "members.txt"}, "submissions_file": "subs.txt"}
    out = tmp_path / "job"
    status = affinity.affinity_job_file(
        job, **paths, out_json=out / "results.json", out_csv=out / "results.csv"
    )
    assert status["status"] == "Completed", status
    doc = json.loads((out / "results.json").read_text())
    assert doc["metadata"]["no_profile"] == ["ghost"]
    assert [(e["submission"], e["user"]) for e in doc["results"]] == [("s3", "ac1"), ("s1", "ac1")]


def test_member_scores_from_blocks_equal_embedding_scores(conference):
    """A model that scores block by block (the registry's shape) gives the same member scores."""
    c = conference
    incidence, _ = affinity.member_publications(c["reviewers"], c["papers"])
    used = np.unique(incidence.indices)
    subs, corpus_emb = c["submission_embeddings"], c["corpus_embeddings"]
    blocks = ((slice(lo, lo + 2), subs[lo : lo + 2] @ corpus_emb[used].T) for lo in range(0, len(subs), 2))
    got = affinity.member_scores_from_blocks(blocks, len(subs), incidence[:, used], "p75")
    expected = affinity.submission_member_scores(subs, corpus_emb, incidence, "p75")
    np.testing.assert_allclose(got, expected, atol=1e-6)


# ---------------------------------------------------------------- registry models


WORDS = ("parsing translation speech dialogue sentiment summarization grammar alignment retrieval "
         "entity relation question answer embedding attention decoder lexicon morphology").split()


def texted(conference, seed=11):
    """The conference with real-looking texts: each corpus paper and submission a bag of words."""
    rng = np.random.default_rng(seed)
    def text(n):
        return " ".join(rng.choice(WORDS, size=n))
    papers = conference["papers"].assign(title=[text(4) for _ in range(len(conference["papers"]))],
                                         abstract=[text(12) for _ in range(len(conference["papers"]))])
    submissions = [{**s, "title": text(4), "paperAbstract": text(12)} for s in conference["submissions"]]
    corpus_texts = [f"{t}. {a}" for t, a in zip(papers["title"], papers["abstract"], strict=True)]
    return {**conference, "papers": papers, "submissions": submissions, "corpus_texts": corpus_texts}


def registry_scorer(c, spec):
    model = load_registry_model(spec)
    index = model.index(c["corpus_texts"])
    texts = submission_texts(c["submissions"])
    return affinity.RegistryScorer(model, index, texts, c["corpus_texts"]), model, index


@pytest.mark.parametrize("reduce", ["max", "mean", "p75"])
def test_ensemble_job_is_the_mean_of_member_z_scores_reduced(conference, reduce):
    c = texted(conference)
    scorer, model, indexes = registry_scorer(c, "tfidf+bm25")
    texts = submission_texts(c["submissions"])
    z = [index.calibration.normalise(paper_scores(member, index, texts)).astype(np.float64)
         for member, index in zip(model.members, indexes, strict=True)]
    mean_z = (z[0] + z[1]) / 2  # submissions x corpus
    job = {"mode": "group_submissions", "model": "tfidf+bm25", "group": {"role": "all"}, "reduce": reduce}
    doc = affinity.run_affinity_job(job, c["reviewers"], c["submissions"], c["papers"], scorer)
    incidence, _ = affinity.member_publications(c["reviewers"], c["papers"])
    how = {"max": np.max, "mean": np.mean, "p75": lambda v: np.percentile(v, 75)}[reduce]
    raw = {(c["reviewers"][m]["id"], s["id"]): how(mean_z[k, incidence[m].indices])
           for m in range(len(c["reviewers"])) if incidence[m].nnz
           for k, s in enumerate(c["submissions"])}
    low, high = min(raw.values()), max(raw.values())
    expected = {pair: (value - low) / (high - low) for pair, value in raw.items()}
    got = scores_by_pair(doc, "user", "submission")
    assert got.keys() == expected.keys()
    assert all(got[p] == pytest.approx(expected[p], abs=2e-6) for p in got)
    # Not the mean of raw similarities (the old meaning of "a+b").
    raw_mean = (paper_scores(model.members[0], indexes[0], texts)
                + paper_scores(model.members[1], indexes[1], texts)) / 2
    assert not np.allclose(np.corrcoef(raw_mean.ravel(), mean_z.ravel())[0, 1], 1.0, atol=1e-9)


@pytest.mark.parametrize("normalize", [True, False])
def test_tfidf_group_group_is_exactly_symmetric_when_a_is_b(conference, normalize):
    c = texted(conference)
    scorer, _, _ = registry_scorer(c, "tfidf")
    for reduce in ("max", "mean"):
        job = {"mode": "group_group", "model": "tfidf", "group": {"role": "all"},
               "alternate_group": {"role": "all"}, "reduce": reduce, "normalize": normalize}
        doc = affinity.run_affinity_job(job, c["reviewers"], c["submissions"], c["papers"], scorer)
        got = scores_by_pair(doc, "match_member", "submission_member")
        assert len(got) == 5 * 5
        assert all(got[(a, b)] == got[(b, a)] for a, b in got)
        assert len(set(got.values())) > 5


def test_tfidf_job_without_normalize_gives_cosines(conference):
    c = texted(conference)
    scorer, model, index = registry_scorer(c, "tfidf")
    job = {"mode": "group_submissions", "model": "tfidf", "group": {"role": "reviewer"}, "normalize": False}
    doc = affinity.run_affinity_job(job, c["reviewers"], c["submissions"], c["papers"], scorer)
    cosines = paper_scores(model, index, submission_texts(c["submissions"]))
    # rev1 has corpus papers 0, 1, 2 and 8.
    expected = {s["id"]: round(float(cosines[k, [0, 1, 2, 8]].max()), 7) for k, s in enumerate(c["submissions"])}
    got = {sub: v for (user, sub), v in scores_by_pair(doc, "user", "submission").items() if user == "rev1"}
    assert got == pytest.approx(expected, abs=1e-7)


def test_model_scales_and_checks():
    assert [affinity.model_scale(m) for m in ("avg", "minilm", "tfidf", "bm25", "avg+tfidf")] == [
        "cosine", "cosine", "unit", "relative", "relative"]
    np.testing.assert_array_equal(affinity.unit_scores(np.array([-0.5, 0.25, np.nan]), "unit"), [0.0, 0.25, np.nan])
    with pytest.raises(ValueError, match="no fixed map"):
        affinity.unit_scores(np.zeros(2), "relative")
    with pytest.raises(ValueError, match="'avg\\+bm25' has no fixed \\[0, 1\\] scale"):
        affinity.check_job({"mode": "user_subset", "members": ["a"], "model": "avg+bm25", "normalize": False})
    with pytest.raises(ValueError, match="malformed model spec"):
        affinity.check_job({"mode": "user_subset", "members": ["a"], "model": "avg+"})


def test_scores_must_come_from_the_jobs_model(conference):
    c = texted(conference)
    scorer, _, _ = registry_scorer(c, "tfidf")
    with pytest.raises(ValueError, match="the job's model is 'avg', the scores given are 'tfidf''s"):
        affinity.run_affinity_job({"mode": "group_submissions", "group": {"role": "reviewer"}},
                                  c["reviewers"], c["submissions"], c["papers"], scorer)


def test_registry_job_file_with_rejects(tmp_path, conference):
    """A tfidf job on files: the rejects' texts are scored; a wrong index is a Data Error."""
    c = texted(conference)
    paths = write_inputs(tmp_path, c)
    rejects = [{"startSubmissionId": "r1", "title": "speech grammar", "reason": "desk reject"}]
    write_jsonl(rejects, tmp_path / "rejects.jsonl")
    for name in ("tfidf", "bm25"):
        index_corpus_file(name, paths["papers_parquet"], tmp_path / f"{name}.npz")
    job = {"mode": "group_submissions", "model": "tfidf", "group": {"role": "reviewer"},
           "submission_status": ["active", "desk_rejected"], "schema": "current"}
    files = {k: v for k, v in paths.items() if "embeddings" not in k}
    status = affinity.affinity_job_file(
        job, **files, out_json=tmp_path / "job/results.json", out_csv=tmp_path / "job/results.csv",
        index_npzs=[tmp_path / "tfidf.npz"], rejects_jsonl=tmp_path / "rejects.jsonl",
    )
    assert status["status"] == "Completed", status
    doc = json.loads((tmp_path / "job/results.json").read_text())
    assert {e["entityB"] for e in doc["results"]} == {*(s["id"] for s in c["submissions"]), "r1"}
    wrong = affinity.affinity_job_file(
        job, **files, out_json=tmp_path / "bad/results.json", out_csv=tmp_path / "bad/results.csv",
        index_npzs=[tmp_path / "bm25.npz"], rejects_jsonl=tmp_path / "rejects.jsonl",
    )
    assert wrong["status"] == "Data Error" and "corpus index of model 'bm25', expected 'tfidf'" in wrong["description"]


# ---------------------------------------------------------------- job config and settings


def validated_config() -> dict:
    """The demo config as the rules see it: validated, the schema's defaults filled in."""
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def test_job_schema_names_the_keys_and_values_of_the_workflows_schema():
    """``JOB_SCHEMA`` (what ``check_job`` accepts) and ``affinity_jobs`` of the config schema agree."""
    config_schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    workflow_job = config_schema["properties"]["affinity_jobs"]["additionalProperties"]["properties"]
    job = affinity.JOB_SCHEMA["properties"]
    assert set(workflow_job) == set(job)
    for key in ("mode", "schema", "on_unknown_member"):
        assert workflow_job[key]["enum"] == job[key]["enum"], key
    assert workflow_job["group"]["properties"]["role"]["enum"] == list(affinity.ROLES)
    assert set(workflow_job["group"]["properties"]) == set(job["group"]["properties"])

    def statuses(schema):
        kinds = schema["submission_status"]["oneOf"]
        return [kind["enum"] if "enum" in kind else kind["items"]["enum"] for kind in kinds]

    assert statuses(workflow_job) == statuses(job)
    defaults = {key: spec["default"] for key, spec in workflow_job.items() if "default" in spec}
    assert defaults == {key: job[key]["default"] for key in defaults}


def test_check_job_fills_defaults_and_accepts_the_demo_jobs():
    config = validated_config()
    for name, entry in config["affinity_jobs"].items():
        checked = affinity.check_job({"model": config["model"]["matching_model"], **entry})
        assert checked["mode"] == entry["mode"] and isinstance(checked["submission_status"], tuple), name
    job = {"mode": "user_subset", "members": ["a"], "submission_status": ["active", "active"]}
    checked = affinity.check_job(job)
    assert checked == {
        "mode": "user_subset", "members": ["a"], "model": "avg", "reduce": "max", "normalize": True,
        "max_papers": None, "since_year": None, "schema": "legacy", "submission_status": ("active",),
        "on_unknown_member": "report",
    }
    assert affinity.check_job(checked) == checked  # a checked job (tuples) passes again
    assert affinity.needs_rejects(affinity.check_job({**checked, "submission_status": "withdrawn"}))
    assert not affinity.needs_rejects(checked)


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (None, "an affinity job is a mapping, got None"),
        ({"group": {"role": "all"}}, "job mode must be one of .*, got None"),
        ({"mode": "user_subset", "members": "rev1"}, "'members' must be a list of ids, not one string"),
        ({"mode": "group_submissions", "group": {}},
         "group is a mapping with 'role' \\(and 'track'\\) or 'members'"),
        ({"mode": "group_submissions", "group": {"role": "chair"}}, "group role must be one of"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "max_papers": 0},
         "max_papers must be at least 1, got 0"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "normalize": "no"},
         "affinity job key normalize: 'no' is not of type 'boolean'"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "on_unknown_member": "ignore"},
         "on_unknown_member must be report or error, got 'ignore'"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "submission_status": []},
         "submission_status must be some of"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "model": "bm25", "normalize": False},
         "model 'bm25' has no fixed \\[0, 1\\] scale"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "reduce": "weighted_topk",
          "normalize": False},
         "reduce 'weighted_topk' sums similarities beyond \\[-1, 1\\]; use it with normalize: true"),
        ({"mode": "group_submissions", "group": {"role": "all"}, "reduce": "p101"}, "unknown reduce 'p101'"),
    ],
)
def test_check_job_refuses_bad_jobs_naming_what_is_wrong(job, message):
    with pytest.raises(ValueError, match=message):
        affinity.check_job(job)


def test_scorer_settings_from_the_demo_config():
    config = validated_config()
    settings = affinity.ScorerSettings.from_config(config)
    assert settings == affinity.ScorerSettings(
        text_fields=("title", "abstract"), bm25=config["model"]["bm25"], device=config["model"]["gpu"])
    # A job's model narrows them: bm25's only with a bm25 member, the encoders' only with an encoder.
    assert settings.for_model(["tfidf"]).as_params() == {
        "text_fields": ["title", "abstract"], "sentence_transformers": {}, "bm25": {}, "device": "auto"}
    folders = {"tuned": "results/model/encoders/tuned"}
    encoders = {"sentence_transformers": folders, "encoder": {"batch_size": 32}, "versions": {}}
    params = settings.for_model(["tuned", "bm25"], encoders).as_params()
    assert params == {"text_fields": ["title", "abstract"], "sentence_transformers": folders,
                      "bm25": config["model"]["bm25"], "device": "auto", "encoder": {"batch_size": 32}}
    assert list(params) == ["text_fields", "sentence_transformers", "bm25", "device", "encoder"]


def test_scorer_settings_round_trip_through_params():
    settings = affinity.ScorerSettings(("abstract",), {"mine": "/models/mine"}, {"k1": 1.5, "b": 0.5}, "cpu",
                                       {"batch_size": 16, "runtime": "onnx"})
    params = settings.as_params()
    assert all(isinstance(value, (list, dict, str)) for value in params.values())
    assert affinity.ScorerSettings.from_params(params) == settings
    assert affinity.ScorerSettings.from_params({**params, "versions": {"mine": "x==1"}}) == settings
    assert affinity.ScorerSettings.from_params({}) == affinity.ScorerSettings()  # avg alone
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.device = "cuda"
