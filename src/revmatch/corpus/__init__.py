"""The corpus stage: a Semantic Scholar release (downloaded shard by shard, or a local dump)
or the ACL Anthology's own metadata -> one Parquet table of the papers kept, with counts of
what was dropped and why."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "settings": ["CorpusSettings", "FilterSpec", "S2Settings", "UpdateFrom"],
    "records": ["normalise_record"],
    "papers_table": ["PAPERS_SCHEMA", "papers_frame", "read_papers", "write_papers"],
    "filters": ["filter_reason", "filter_shard", "filter_shard_file"],
    "abstracts": ["select_abstracts_file", "write_paper_ids_file"],
    "merge": ["merge_shards", "merge_shards_file"],
    "updates": ["delete_ids_file", "filter_update_file", "update_corpus_file"],
    "s2_api": ["ApiSettings", "AuthError", "DownloadError"],
    "manifest": ["write_manifest_file"],
    "download": ["download_shard_file"],
    "anthology": ["anthology_corpus_file", "read_anthology"],
})
