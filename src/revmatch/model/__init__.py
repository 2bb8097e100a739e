"""The expertise model stage: tokenisation and sentencepiece, the averaging model (the
reference paraphrastic model), transformer encoders (packaged, fine-tuned on the corpus,
ONNX Runtime on the CPU), the model registry (avg, tfidf, bm25, encoders, ensembles), the
reviewer aggregation, the held-out evaluation and the public scoring API."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "text": ["tokenize", "TEXT_FIELDS", "encode_file", "paper_text", "read_paper_texts", "submission_texts",
             "tokenize_papers_file", "train_sentencepiece"],
    "averaging": ["embed_piece_lines", "embed_texts", "TrainParams", "embed_papers_file", "embed_pieces_file", "embed_submissions_file", "heldout_mask",
                  "load_model", "resolve_device", "train_model", "train_model_file"],
    "encoders": ["load_sentence_transformer", "ModelNotFoundError", "PACKAGED_ENCODERS", "TransformerEncoder", "encode_corpus_part_file",
                 "encoder_folder"],
    "finetune": ["pair_corpus", "FinetuneParams", "finetune", "finetune_encoder_file"],
    "registry": ["averaging_model", "encoder_model", "score_blocks", "BUILTIN_MODELS", "DEFAULT_MATCHING_MODEL", "CorpusIndex", "Ensemble", "Model",
                 "index_corpus_file", "load_index", "load_indexes", "load_registry_model", "paper_scores",
                 "parse_spec", "unrelated_score"],
    "aggregation": ["csr_top_values", "segment_top_values", "AGGREGATORS", "MAX_BLOCK_VALUES", "aggregate_scores", "check_method"],
    "retrieval": ["evaluate", "evaluate_models_file", "paired_bootstrap"],
    "scoring": ["paper_similarity"],
})
