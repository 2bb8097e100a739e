"""The matching stage: the paper matrix (submissions x corpus papers, cached by content),
reviewer scores by aggregation, the exact HiGHS assignment with its certificate, the exports
(JSONL, CSV, START upload, text, xlsx) and the assignment's evaluation."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "settings": ["AggregateSettings", "AssignmentSettings", "MatchingSettings", "PaperMatrixSettings"],
    "authorship": ["authorship_matrix", "corpus_author_ids", "reviewer_paper_ids", "reviewer_papers_file"],
    "paper_matrix": ["ComputedPaperMatrix", "RegistryPaperMatrix", "normalize_rows"],
    "paper_cache": ["PaperMatrix", "cached_paper_matrix", "rows_for_budget"],
    "paper_matrix_files": ["paper_matrix_file", "registry_matrix_part", "registry_paper_matrix_file"],
    "aggregate": ["aggregate_computed_file", "aggregate_registry_file", "aggregate_scores_file",
                  "aggregate_uncached_file", "gather_rows_file"],
    "problem": ["InfeasibleAssignment"],
    "senior": ["SeniorConstraint", "senior_reviewers"],
    "lp": ["solve_assignment"],
    "conference_assignment": ["assign_conference", "solve_conference"],
    "table": ["read_assignment"],
    "assignment_file": ["solve_assignment_file"],
    "export": ["export_assignments_file"],
    "evaluation": ["evaluate_file"],
})
