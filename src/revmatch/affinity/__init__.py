"""Affinity jobs in the shape of OpenReview's Expertise API: a group's members scored
against submissions or against another group's members, with their status and results."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "jobs": ["affinity_job_file", "job_status"],
})
