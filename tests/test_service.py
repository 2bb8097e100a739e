"""The Expertise API service (revmatch.service) driven by openreview-py's own client,
unchanged, against a real uvicorn server on 127.0.0.1 over a small conference scored with
tfidf: the three kinds of request, status, results (JSON and CSV), metadata, the token,
bad requests, Data Errors, deletion, and jobs that survive a restart."""

from __future__ import annotations

import base64
import contextlib
import csv
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from revmatch import affinity
from revmatch.corpus import papers_frame, write_papers
from revmatch.io import write_jsonl
from revmatch.model import index_corpus_file
from tests.test_affinity import WORDS, reviewer

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
openreview = pytest.importorskip("openreview")
requests = pytest.importorskip("requests")
from openreview import OpenReviewException  # noqa: E402
from openreview.api import Note, OpenReviewClient  # noqa: E402

from revmatch.service import JobStore, create_app  # noqa: E402

VENUE = "TEST.cc/2026/Conference"
PC = "~Program_Chair1"
FINAL = ("Completed", "Data Error", "Error")


def jwt_like(claims: dict) -> str:
    """A token shaped like OpenReview's (a JWT; the service compares it, never verifies it)."""
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


TOKEN = jwt_like({"user": {"id": PC, "profile": {"id": PC}}})


@pytest.fixture(scope="module")
def conference(tmp_path_factory) -> dict:
    """24 corpus papers of 8 authors, 8 people (reviewers, ACs, a SAC; one without papers),
    6 submissions, 2 withdrawn and 1 desk-rejected; the tfidf corpus index."""
    root = tmp_path_factory.mktemp("service_conference")
    rng = np.random.default_rng(3)

    def text(n: int) -> str:
        return " ".join(rng.choice(WORDS, size=n))

    papers = papers_frame([
        {"paper_id": f"p{row:02d}", "title": text(4), "abstract": text(14), "year": 2015 + row % 8,
         "venue": "ACL", "authors": [{"id": str(1 + row % 8), "name": f"N{1 + row % 8}"}], "acl_id": None}
        for row in range(24)
    ])
    people = [
        reviewer("~Rev_One1", ["1"]), reviewer("~Rev_Two1", ["2"]), reviewer("~Rev_Three1", ["3"]),
        reviewer("~Rev_None1", ["42"]),  # no corpus papers
        reviewer("~Ac_One1", ["4"], ac=True), reviewer("~Ac_Two1", ["5", "6"], ac=True),
        reviewer("~Sac_One1", ["7"], sac=True), reviewer("~Rev_Four1", ["8"]),
    ]
    submissions = [{"id": f"sub{i}", "title": text(5), "paperAbstract": text(15)} for i in range(1, 7)]
    rejects = [{"startSubmissionId": sid, "reason": reason, "title": text(5), "paperAbstract": text(15)}
               for sid, reason in (("wd1", "withdrawn"), ("wd2", "withdrawn"), ("dr1", "desk reject"))]
    conf, model = root / "conference", root / "model"
    write_jsonl(people, conf / "reviewers.jsonl")
    write_jsonl(submissions, conf / "submissions.jsonl")
    write_jsonl(rejects, conf / "rejects.jsonl")
    write_papers(papers, root / "papers.parquet")
    index_corpus_file("tfidf", root / "papers.parquet", model / "index" / "tfidf.npz")
    return {"conference_dir": conf, "model_dir": model, "papers": root / "papers.parquet", "people": people,
            "submissions": submissions, "rejects": rejects}


def app_args(conference: dict, state_dir: Path, **extra) -> dict:
    """``create_app`` arguments for the test conference (tfidf unless a request names a model)."""
    args = {key: conference[key] for key in ("conference_dir", "model_dir", "papers")}
    return {**args, "venue_id": VENUE, "state_dir": state_dir, "token": TOKEN, "default_model": "tfidf",
            **extra}


@contextlib.contextmanager
def running(app) -> Iterator[str]:
    """A real uvicorn server for ``app`` on a free port of 127.0.0.1, in a thread; its base URL.

    (127.0.0.1, not localhost: openreview-py fakes the Expertise API for http://localhost.)"""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def service(conference, tmp_path_factory) -> Iterator[dict]:
    state = tmp_path_factory.mktemp("service_state")
    with running(create_app(**app_args(conference, state))) as url:
        yield {"url": url, "state": state}


@pytest.fixture(scope="module")
def client(service) -> OpenReviewClient:
    return OpenReviewClient(baseurl=service["url"], token=TOKEN)


def wait_final(client: OpenReviewClient, job_id: str, timeout: float = 30) -> dict:
    """The job's status once final (polled here: the client's own wait sleeps a minute a poll)."""
    deadline = time.monotonic() + timeout
    while (status := client.get_expertise_status(job_id))["status"] not in FINAL:
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    return status


def scores(document: dict) -> dict[tuple[str, str], float]:
    return {(e["entityA"], e["entityB"]): e["score"] for e in document["results"]}


def served(document: dict) -> dict:
    """``document`` checked as the client's users read it: entries of entity A, entity B and a
    float score in [0, 1]; OpenReview's metadata keys."""
    assert {"no_profile", "no_publications", "submission_count"} <= set(document["metadata"])
    for entry in document["results"]:
        assert set(entry) == {"entityA", "entityB", "score"}, entry
        assert isinstance(entry["score"], float) and 0 <= entry["score"] <= 1, entry
    return document


def run_directly(conference: dict, job: dict, tmp_path: Path) -> dict:
    """The results the affinity code writes for ``job`` when run directly on the same files."""
    conf = conference["conference_dir"]
    out = tmp_path / "direct"
    status = affinity.affinity_job_file(
        job, conf / "reviewers.jsonl", conf / "submissions.jsonl", conference["papers"],
        out / "results.json", out / "results.csv", rejects_jsonl=conf / "rejects.jsonl",
        index_npzs=[conference["model_dir"] / "index" / "tfidf.npz"],
    )
    assert status["status"] == "Completed", status
    return json.loads((out / "results.json").read_text())


def test_the_client_finds_its_profile_and_a_group_job_scores_the_submissions(client, service, conference,
                                                                             tmp_path):
    assert client.profile.id == PC  # the client's constructor looked up the token's profile
    job_id = client.request_expertise("reviewers", f"{VENUE}/Reviewers", f"{VENUE}/Submission",
                                      model="specter2+scincl")["jobId"]
    status = wait_final(client, job_id)
    assert status["status"] == "Completed", status
    assert status["jobId"] == job_id and status["name"] == "reviewers" and status["tauthor"] == PC
    assert status["request"]["entityA"] == {"type": "Group", "memberOf": f"{VENUE}/Reviewers"}
    assert status["cdate"] <= status["mdate"]
    document = served(client.get_expertise_results(job_id, wait_for_complete=True))
    got = scores(document)
    with_papers = ["~Rev_One1", "~Rev_Two1", "~Rev_Three1", "~Rev_Four1"]
    assert {a for a, _ in got} == set(with_papers)
    assert {b for _, b in got} == {s["id"] for s in conference["submissions"]}
    assert document["metadata"]["no_publications"] == ["~Rev_None1"]
    job = JobStore(service["state"]).job(job_id)  # the request, translated; tfidf for OpenReview's model
    assert (job["mode"], job["group"], job["model"]) == ("group_submissions", {"role": "reviewer"}, "tfidf")
    assert document == run_directly(conference, job, tmp_path)
    rows = list(client.get_expertise_results(job_id, format="csv"))
    assert [(r["entityA"], r["entityB"], float(r["score"])) for r in rows] == [
        (e["entityA"], e["entityB"], e["score"]) for e in document["results"]]
    assert client.get_expertise_metadata(job_id) == document["metadata"]


def test_paper_subset_and_user_subset_jobs(client, service, conference, tmp_path):
    notes = [Note(id=s["id"], content={"title": {"value": s["title"]},
                                       "abstract": {"value": s["paperAbstract"]}})
             for s in conference["submissions"][:3]]
    paper_job = client.request_paper_subset_expertise("acs", notes, f"{VENUE}/Area_Chairs")["jobId"]
    members = ["~Rev_One1", "~Sac_One1", "~Nobody1"]
    user_job = client.request_user_subset_expertise("some", members,
                                                    venue_id=f"{VENUE}/Desk_Rejected_Submission")["jobId"]
    assert wait_final(client, paper_job)["status"] == "Completed"
    paper = served(client.get_expertise_results(paper_job, wait_for_complete=True))
    assert set(scores(paper)) == {(a, s["id"]) for a in ("~Ac_One1", "~Ac_Two1")
                                  for s in conference["submissions"][:3]}
    # The client asks for normalizeScores false: the model's own scale (tfidf: the cosine), so
    # the subset's scores are those of the whole committee's job without normalisation.
    whole = run_directly(conference, {"mode": "group_submissions", "group": {"role": "area_chair"},
                                      "model": "tfidf", "normalize": False, "schema": "current"}, tmp_path)
    assert scores(paper) == {pair: v for pair, v in scores(whole).items() if pair in scores(paper)}
    assert max(scores(whole).values()) < 1.0  # not min-max scaled
    assert wait_final(client, user_job)["status"] == "Completed"
    users = served(client.get_expertise_results(user_job, wait_for_complete=True))
    assert set(scores(users)) == {("~Rev_One1", "dr1"), ("~Sac_One1", "dr1")}
    assert users["metadata"]["no_profile"] == ["~Nobody1"]
    assert users == run_directly(conference, JobStore(service["state"]).job(user_job), tmp_path)
    listed = client.get_expertise_jobs()["results"]
    assert {paper_job, user_job} <= {r["jobId"] for r in listed}
    assert [r["cdate"] for r in listed] == sorted((r["cdate"] for r in listed), reverse=True)
    by_group = client.get_expertise_status(group_id=f"{VENUE}/Area_Chairs")["results"]
    assert [r["jobId"] for r in by_group] == [paper_job]
    assert {r["status"] for r in client.get_expertise_jobs(status="Completed")["results"]} == {"Completed"}


def test_a_request_without_the_token_is_refused(service):
    for token in (None, jwt_like({"user": {"id": "~Intruder1"}})):
        with pytest.raises(OpenReviewException) as refused:
            OpenReviewClient(baseurl=service["url"], token=token).get_expertise_jobs()
        assert refused.value.args[0]["name"] == "ForbiddenError"
    response = requests.post(f"{service['url']}/expertise", json={"name": "x"}, timeout=10)
    assert response.status_code == 403
    assert requests.get(f"{service['url']}/health", timeout=10).status_code == 200


@pytest.mark.parametrize(("body", "field"), [
    ({"entityA": {"type": "Group", "memberOf": f"{VENUE}/Reviewers"}, "entityB": {"type": "Note"}}, "name"),
    ({"name": "x", "entityA": {"memberOf": f"{VENUE}/Reviewers"},
      "entityB": {"type": "Note", "withVenueid": f"{VENUE}/Submission"}}, "type"),
    ({"name": "x", "entityA": {"type": "Group", "memberOf": f"{VENUE}/Reviewers"},
      "entityB": {"type": "Note", "withVenueid": f"{VENUE}/Submission"}, "colour": "red"}, "colour"),
])
def test_a_bad_request_gets_400_naming_the_field(client, body, field):
    response = requests.post(f"{client.baseurl}/expertise", json=body, headers=client.headers, timeout=10)
    assert response.status_code == 400
    assert response.json()["name"] == "BadRequestError" and field in response.json()["message"]


def test_a_body_that_is_not_json_gets_400(client):
    headers = {**client.headers, "Content-Type": "application/json"}
    response = requests.post(f"{client.baseurl}/expertise", data=b"{name", headers=headers, timeout=10)
    assert response.status_code == 400 and "not JSON" in response.json()["message"]


def test_a_group_the_venue_lacks_gets_400_and_an_unknown_job_404(client):
    with pytest.raises(OpenReviewException) as bad:
        client.request_expertise("ghosts", f"{VENUE}/Ghost_Writers", f"{VENUE}/Submission")
    error = bad.value.args[0]
    assert error["name"] == "BadRequestError" and "entityA" in error["message"], error
    with pytest.raises(OpenReviewException) as unknown:
        client.get_expertise_status("0123456789abcdef")
    assert unknown.value.args[0]["name"] == "NotFoundError"
    for path in ("/expertise/results?jobId=../etc", "/expertise/results"):
        response = requests.get(client.baseurl + path, headers=client.headers, timeout=10)
        assert response.status_code == (404 if "jobId" in path else 400)


def test_a_data_error_is_reported_and_a_finished_job_deleted(client):
    job_id = client.request_user_subset_expertise("nobody", ["~Nobody1"],
                                                  venue_id=f"{VENUE}/Submission")["jobId"]
    status = wait_final(client, job_id)
    assert status["status"] == "Data Error" and "empty" in status["description"], status
    with pytest.raises(OpenReviewException, match="error computing scores"):
        client.get_expertise_results(job_id, wait_for_complete=True)
    with pytest.raises(OpenReviewException) as missing:
        client.get_expertise_results(job_id)
    assert missing.value.args[0]["name"] == "NotFoundError"
    deleted = requests.delete(f"{client.baseurl}/expertise/{job_id}", headers=client.headers, timeout=10)
    assert deleted.status_code == 200 and deleted.json()["jobId"] == job_id
    with pytest.raises(OpenReviewException):
        client.get_expertise_status(job_id)


def test_jobs_survive_a_restart(conference, tmp_path):
    args = app_args(conference, tmp_path / "state")
    with running(create_app(**args)) as url:
        client = OpenReviewClient(baseurl=url, token=TOKEN)
        done = client.request_expertise("acs", f"{VENUE}/Area_Chairs", f"{VENUE}/Submission")["jobId"]
        assert wait_final(client, done)["status"] == "Completed"
        first = client.get_expertise_results(done)
    with running(create_app(**args, run_jobs=False)) as url:  # a service whose worker is held
        client = OpenReviewClient(baseurl=url, token=TOKEN)
        assert client.get_expertise_results(done, wait_for_complete=True) == first
        waiting = client.request_expertise("sacs", f"{VENUE}/Senior_Area_Chairs",
                                           f"{VENUE}/Submission")["jobId"]
        cut = client.request_expertise("revs", f"{VENUE}/Reviewers",
                                       f"{VENUE}/Withdrawn_Submission")["jobId"]
        assert client.get_expertise_status(waiting)["status"] == "Queued"
    JobStore(args["state_dir"]).set_status(cut, "Running Expertise")  # as a service stopped mid-job leaves it
    with running(create_app(**args)) as url:
        client = OpenReviewClient(baseurl=url, token=TOKEN)
        for job_id in (waiting, cut):
            assert wait_final(client, job_id)["status"] == "Completed"
        withdrawn = client.get_expertise_results(cut, wait_for_complete=True)
        assert {b for _, b in scores(withdrawn)} == {"wd1", "wd2"}
        taken = requests.get(f"{url}/expertise/results", params={"jobId": done, "deleteOnGet": "true"},
                             headers=client.headers, timeout=10)
        assert taken.status_code == 200 and taken.json() == first
        assert done not in {r["jobId"] for r in client.get_expertise_jobs()["results"]}


def test_job_store_states_progress_and_recovery(tmp_path):
    """A job's folder through the API's states, the affinity code's progress shown while it
    runs, and the unfinished jobs queued again by ``recover``, oldest first."""
    store = JobStore(tmp_path)
    first = store.create("one", {"name": "one"}, {"mode": "user_subset", "members": ["a"]})["jobId"]
    second = store.create("two", {"name": "two"}, {"mode": "user_subset", "members": ["b"]})["jobId"]
    assert store.status(first)["status"] == "Initialized"
    store.set_status(first, "Fetching Data")
    folder = store.folder(first)
    (folder / "affinity_status.json").write_text(json.dumps({"status": "Running Expertise", "mdate": 1}))
    assert store.status(first)["status"] == "Running Expertise"
    store.set_status(second, "Completed")
    assert store.recover() == [first]
    assert store.status(first)["status"] == "Queued" and not (folder / "affinity_status.json").exists()
    assert store.status(second)["status"] == "Completed"
    assert store.job(first) == {"mode": "user_subset", "members": ["a"]}
    with pytest.raises(LookupError):
        store.folder("../" + first)
    store.hold()
    with pytest.raises(RuntimeError, match="in use by another revmatch service"):
        JobStore(tmp_path).hold()
    store.release()
    other = JobStore(tmp_path)
    other.hold()
    other.release()
    with pytest.raises(ValueError, match="status must be one of"):
        store.set_status(first, "Done")


def test_serving_beyond_the_loopback_needs_a_token(conference, tmp_path):
    from revmatch.service import serve

    with pytest.raises(ValueError, match="needs a token"):
        serve(host="0.0.0.0", **{**app_args(conference, tmp_path / "state"), "token": None})


@pytest.mark.parametrize(("text", "columns"), [
    ('sub1,~A1,0.5\n"s,2",~B1,1.0\n', ["entityB", "entityA", "score"]),  # OpenReview's score file
    ('entityA,entityB,score\n~A1,sub1,0.5000000\n~B1,"s,2",1.0000000\n', ["entityA", "entityB", "score"]),
    ('submission,user,score\nsub1,~A1,0.5000000\n"s,2",~B1,1.0000000\n', ["submission", "user", "score"]),
])
def test_results_csv_is_served_as_the_api_csv(tmp_path, text, columns):
    from revmatch.service.store import api_csv

    (tmp_path / "results.csv").write_text(text)
    rows = list(csv.DictReader("".join(api_csv(tmp_path / "results.csv", columns)).splitlines()))
    assert [(r["entityA"], r["entityB"], float(r["score"])) for r in rows] == [("~A1", "sub1", 0.5),
                                                                               ("~B1", "s,2", 1.0)]
    (tmp_path / "empty.csv").write_text("")
    assert "".join(api_csv(tmp_path / "empty.csv", columns)) == "entityA,entityB,score\n"


def write_archives(conference: dict, folder: Path) -> Path:
    """OpenReview archives (``<member id>.jsonl``) of the members who have corpus papers: the
    current API's notes of their corpus papers."""
    import pandas as pd

    papers = pd.read_parquet(conference["papers"])
    folder.mkdir(parents=True)
    for person in conference["people"]:
        mine = papers[[any(a["id"] in person["ids"] for a in authors) for authors in papers["authors"]]]
        lines = [json.dumps({"id": row.paper_id, "cdate": 1_600_000_000_000,
                             "content": {"title": {"value": row.title}, "abstract": {"value": row.abstract},
                                         "authorids": {"value": [person["id"]]}}})
                 for row in mine.itertuples()]
        (folder / f"{person['id']}.jsonl").write_text("".join(line + "\n" for line in lines))
    return folder


def test_an_expertise_selection_needs_the_archives(client, conference, tmp_path):
    selection = f"{VENUE}/Reviewers/-/Expertise_Selection"
    with pytest.raises(OpenReviewException) as refused:  # on the corpus: refused, naming the field
        client.request_expertise("sel", f"{VENUE}/Reviewers", f"{VENUE}/Submission",
                                 expertise_selection_id=selection)
    assert "entityA.expertise" in refused.value.args[0]["message"]
    archives = write_archives(conference, tmp_path / "archives")
    args = {**app_args(conference, tmp_path / "state"), "papers": None, "archives_dir": archives}
    with running(create_app(**args)) as url:
        reader = OpenReviewClient(baseurl=url, token=TOKEN)
        job_id = reader.request_expertise("sel", f"{VENUE}/Reviewers", f"{VENUE}/Submission",
                                          expertise_selection_id=selection)["jobId"]
        status = wait_final(reader, job_id)
        assert status["status"] == "Completed" and "archives" in status["description"], status
        assert status["request"]["entityA"]["expertise"] == {"invitation": selection}
        document = served(reader.get_expertise_results(job_id))
        assert {a for a, _ in scores(document)} == {"~Rev_One1", "~Rev_Two1", "~Rev_Three1", "~Rev_Four1"}
