"""The matching stage: the paper matrix (submissions x corpus papers, cached by content),
reviewer scores by aggregation, the exact HiGHS assignment with its certificate, the exports
(JSONL, CSV, START upload, text, xlsx) and the assignment's evaluation."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "paper_matrix": ["ComputedPaperMatrix", "RegistryPaperMatrix", "cached_paper_matrix", "rows_for_budget", "PaperMatrix", "authorship_matrix", "corpus_author_ids", "normalize_rows", "paper_matrix_file",
                     "registry_matrix_part", "registry_paper_matrix_file", "reviewer_paper_ids",
                     "reviewer_papers_file"],
    "aggregate": ["aggregate_computed_file", "aggregate_scores_file", "aggregate_uncached_file", "gather_rows_file"],
    "assignment": ["senior_reviewers", "InfeasibleAssignment", "SeniorConstraint", "assign_conference", "read_assignment",
                   "solve_assignment", "solve_assignment_file", "solve_conference"],
    "export": ["export_assignments_file"],
    "evaluation": ["evaluate_file"],
})
