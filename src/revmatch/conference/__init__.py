"""The conference stage: START (SoftConf) exports -> reviewers, submissions, bids and quotas;
conflicts of interest with their reasons; viability of every track before any solve."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "softconf": ["extract_softconf", "read_quotas"],
    "coi": ["coauthor_since", "merge_cois_file"],
    "records": ["reviewer_ids", "reviewer_load_bounds", "submission_ids"],
    "viability": ["InfeasibleTrack", "check_viability", "raise_if_infeasible", "viability_file"],
})
