"""The conference stage: START (SoftConf) exports -> reviewers, submissions, bids and quotas;
conflicts of interest with their reasons; viability of every track before any solve."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "settings": ["CoiSettings", "ConferenceSettings", "ViabilitySettings", "coauthor_since"],
    "profiles": ["read_profiles"],
    "submissions": ["read_submissions"],
    "bids": ["read_bids"],
    "numbers": ["MAX_COUNT", "MAX_SCORE", "NumberRule", "count_rule", "score_rule"],
    "quotas": ["read_quotas"],
    "softconf": ["extract_softconf"],
    "coi_sources": ["author_people", "email_domain", "normalise_affiliation", "read_coi_pairs"],
    "coi": ["merge_cois_file"],
    "records": ["reviewer_ids", "reviewer_load_bounds", "submission_ids"],
    "viability": [
        "InfeasibleTrack", "check_viability", "raise_if_infeasible", "unstaffed_tracks", "viability_file",
    ],
})
