"""The expertise model stage: tokenisation and sentencepiece, the averaging model (the
reference paraphrastic model), transformer encoders (packaged, fine-tuned on the corpus,
ONNX Runtime on the CPU), the model registry (avg, tfidf, bm25, encoders, ensembles) and its
corpus indexes, the reviewer aggregation, the held-out evaluation, the public scoring API and
the stage's settings."""

from revmatch._lazy import attach

__all__, __getattr__, __dir__ = attach(__name__, {
    "text": ["encode_file", "paper_text", "read_paper_texts", "submission_texts", "TEXT_FIELDS", "tokenize",
             "tokenize_papers_file", "train_sentencepiece"],
    "settings": ["EvaluationSettings", "FinetuneParams", "FinetuningSettings", "HeldoutSettings",
                 "ModelSettings", "TrainingSettings", "TrainParams"],
    "device": ["resolve_device"],
    "heldout": ["heldout_mask"],
    "averaging": ["embed_piece_lines", "embed_texts", "load_model"],
    "averaging_training": ["train_model"],
    "averaging_files": ["embed_papers_file", "embed_pieces_file", "embed_submissions_file",
                        "train_model_file"],
    "encoders": ["encode_corpus_part_file", "encoder_folder", "load_sentence_transformer",
                 "ModelNotFoundError", "PACKAGED_ENCODERS", "TransformerEncoder"],
    "finetune": ["finetune", "finetune_encoder_file", "pair_corpus"],
    "specs": ["BUILTIN_MODELS", "DEFAULT_MATCHING_MODEL", "is_encoder", "parse_spec", "SPARSE_MODELS",
              "TUNED_ENCODER"],
    "corpus_index": ["CorpusIndex", "load_index", "Model"],
    "dense_models": ["averaging_model", "DenseModel", "encoder_model"],
    "sparse_models": ["BM25Model", "TfidfModel"],
    "registry": ["Ensemble", "index_corpus_file", "load_indexes", "load_registry_model", "paper_scores",
                 "score_blocks", "score_bounds", "unrelated_score"],
    "aggregation": ["aggregate_scores", "AGGREGATORS", "check_method", "csr_top_values", "MAX_BLOCK_VALUES",
                    "segment_top_values"],
    "retrieval": ["evaluate", "evaluate_models_file", "paired_bootstrap"],
    "scoring": ["paper_similarity"],
})
