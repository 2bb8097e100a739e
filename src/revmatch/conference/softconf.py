"""START (SoftConf) exports -> reviewers, submissions, rejects, bids and quotas, with an
extraction report; every output is written or none.

Divergences from the reference tool's ``softconf_extract.py``, on purpose:

- ``manager:committee`` (programme chair) and an empty ``Roles`` do not make a reviewer
  (the reference's ACL-2021 rule counts every role that is not ``Author`` and not AC/SAC);
- withdrawn submissions (``Acceptance Status`` containing ``Withdraw``) are set aside like
  desk rejects (the reference only checks for ``Reject``);
- bids rows are matched to submissions by id, not by position, and bid cells may be
  numbers; ``bids.npy`` holds the bids only: authorship COIs are merged by
  :mod:`revmatch.conference.coi`, not written into the bids matrix;
- an AC's ``ac_tracks`` never contain the ``committee`` prefix, and a role without a
  track gives ``[]`` rather than ``['']``.
"""

from __future__ import annotations

import logging

import numpy as np

from revmatch.conference.bids import BID_MAYBE, read_bids
from revmatch.conference.profiles import _profile_records
from revmatch.conference.quotas import read_quotas, with_quotas
from revmatch.conference.submissions import _submission_records
from revmatch.conference.writing import write_all_or_nothing
from revmatch.io import PathLike, save_npy, write_csv, write_json, write_jsonl

logger = logging.getLogger(__name__)


def extract_softconf(
    profiles_csv: PathLike,
    submissions_csv: PathLike,
    bids_csv: PathLike | None,
    out_reviewers: PathLike,
    out_submissions: PathLike,
    out_rejects: PathLike,
    out_bids_npy: PathLike,
    out_non_reviewers: PathLike,
    out_multi_track_csv: PathLike,
    out_report_json: PathLike,
    quotas_csv: PathLike | None = None,
) -> dict:
    """START exports -> reviewers, submissions, rejects, bids matrix and an extraction report.

    Everything is read and checked before anything is written, so bad input leaves no
    output behind. Without a bids file every pair is Maybe (2). A quotas file sets the
    reviewers' ``quota`` (over a profile's ``Quota for Review``). Returns the report.
    """
    reviewers, non_reviewers, multi_track, profile_stats = _profile_records(profiles_csv)
    quota_report: dict = {"file": None}
    if quotas_csv is not None:
        quotas, quota_stats = read_quotas(quotas_csv, [r["id"] for r in reviewers])
        quota_report = {"file": str(quotas_csv), **quota_stats, "replaced": with_quotas(reviewers, quotas)}
    submissions, rejects, submission_stats = _submission_records(submissions_csv, reviewers + non_reviewers)
    submission_ids = [s["id"] for s in submissions]
    reviewer_ids = [r["id"] for r in reviewers]
    if bids_csv is None:
        bids = np.full((len(submission_ids), len(reviewer_ids)), BID_MAYBE, dtype=np.int8)
        bid_report: dict = {"file": None}
        logger.info("no bids file: every submission-reviewer pair is Maybe")
    else:
        all_ids = submission_ids + [r["startSubmissionId"] for r in rejects]
        bids, bid_report = read_bids(bids_csv, submission_ids, reviewer_ids, all_ids)
        bid_report = {"file": str(bids_csv), **bid_report}
    report = {
        "profiles": {"file": str(profiles_csv), **profile_stats},
        "submissions": {"file": str(submissions_csv), **submission_stats},
        "bids": bid_report,
        "quotas": quota_report,
        "shape": {"submissions": len(submission_ids), "reviewers": len(reviewer_ids)},
    }
    write_all_or_nothing([
        (out_reviewers, lambda p: write_jsonl(reviewers, p)),
        (out_submissions, lambda p: write_jsonl(submissions, p)),
        (out_rejects, lambda p: write_jsonl(rejects, p)),
        (out_bids_npy, lambda p: save_npy(bids, p)),
        (out_non_reviewers, lambda p: write_jsonl(non_reviewers, p)),
        (out_multi_track_csv, lambda p: write_csv(multi_track, p)),
        (out_report_json, lambda p: write_json(report, p)),
    ])
    return report
