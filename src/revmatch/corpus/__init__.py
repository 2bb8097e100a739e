"""The corpus stage: a Semantic Scholar release (downloaded shard by shard, or a local dump)
or the ACL Anthology's own metadata -> one Parquet table of the papers kept, with counts of
what was dropped and why."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "download": ["ApiSettings", "AuthError", "DownloadError", "download_shard_file", "write_manifest_file"],
    "semantic_scholar": ["FilterSpec", "PAPERS_SCHEMA", "delete_ids_file", "filter_shard_file", "filter_update_file",
                         "merge_shards_file", "read_papers", "select_abstracts_file", "update_corpus_file",
                         "write_paper_ids_file", "write_papers"],
    "anthology": ["anthology_corpus_file", "read_anthology"],
})
