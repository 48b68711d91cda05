"""The only place that speaks SQL to DuckDB. Code outside store/ uses what this facade exports."""

from workbench.store.browse import (
    dataset_rows,
    grid_outputs,
    run_choices,
    run_metrics,
    run_stamp,
    score_values,
    token_stats,
)
from workbench.store.cache import apply_hits as apply_cache_hits
from workbench.store.cache import cached_count, unscored_outputs
from workbench.store.cache import save as save_cache_entries
from workbench.store.datasets import get_dataset, list_datasets
from workbench.store.db import (
    LOCK_WAIT_SECONDS,
    StoreError,
    connect,
    db_location,
    db_path,
    is_remote,
    kept_open,
    migrate,
    transaction,
)
from workbench.store.endpoints import add_endpoint, list_endpoints, remove_endpoint
from workbench.store.grid import grid_page, grid_size, score_histogram
from workbench.store.judgements import (
    answers,
    create_comparison,
    find_comparison,
    get_comparison,
    judge_error_counts,
    judge_run_for,
    judge_runs,
    list_comparisons,
    load_judgements,
    load_verdicts,
    mark_judge_run,
    set_comparison_run,
    write_judgements,
    write_verdicts,
)
from workbench.store.knowledge import (
    get_knowledge_base,
    get_knowledge_version,
    iter_chunk_texts,
    knowledge_chunks,
    knowledge_version_exists,
    list_knowledge_bases,
    load_passages,
    remove_knowledge_base,
    run_knowledge,
    save_knowledge_version,
    set_knowledge_base,
    set_run_knowledge,
    write_passages,
)
from workbench.store.prompts import get_prompt_version, list_prompt_versions
from workbench.store.rating_steps import rate_and_next
from workbench.store.ratings import (
    annotator_progress,
    assigned_items,
    claim_item,
    claimable_count,
    create_session,
    get_rating,
    get_session,
    is_assigned,
    item_outputs,
    list_sessions,
    load_ratings,
    next_assigned_unrated,
    open_claims,
    output_scores,
    progress_counts,
    rate_held_item,
    rated_items,
    release_claims,
    resolve_session,
    session_rating_count,
    upsert_ratings,
    usable_outputs,
)
from workbench.store.repeats import repeat_stability
from workbench.store.runs import (
    claim_runs,
    conversation_answers,
    create_run,
    done_rows,
    done_turns,
    error_kinds,
    get_run,
    list_runs,
    load_outputs,
    load_scores,
    output_stats,
    output_summary,
    replace_metric_scores,
    resolve_run,
    save_dataset,
    save_prompt_version,
    score_moments,
    set_status,
    turn_outputs,
    turn_texts,
    write_results,
)

__all__ = [
    "LOCK_WAIT_SECONDS", "StoreError", "connect", "db_location", "db_path", "is_remote", "kept_open", "migrate",
    "transaction",
    "apply_cache_hits", "cached_count", "save_cache_entries", "unscored_outputs", "repeat_stability", "claim_runs", "conversation_answers", "create_run", "done_rows", "done_turns", "get_run", "list_runs", "load_outputs",
    "load_scores", "resolve_run", "save_dataset", "save_prompt_version", "score_moments", "error_kinds", "output_stats", "output_summary", "set_status", "turn_outputs", "turn_texts", "write_results",
    "replace_metric_scores",
]
__all__ += [
    "add_endpoint", "list_endpoints", "remove_endpoint",
    "get_dataset", "list_datasets", "dataset_rows", "grid_outputs", "run_metrics", "score_values", "token_stats",
    "get_prompt_version", "list_prompt_versions", "run_choices", "run_stamp",
]
__all__ += [
    "annotator_progress", "assigned_items", "claim_item", "claimable_count", "create_session", "get_rating",
    "get_session", "is_assigned", "item_outputs", "list_sessions", "load_ratings", "next_assigned_unrated",
    "output_scores", "rated_items", "resolve_session", "session_rating_count", "upsert_ratings",
    "usable_outputs", "open_claims", "progress_counts", "rate_held_item", "release_claims",
    "rate_and_next",
]
__all__ += [
    "get_knowledge_base", "get_knowledge_version", "knowledge_chunks", "knowledge_version_exists",
    "list_knowledge_bases", "load_passages", "remove_knowledge_base", "run_knowledge", "save_knowledge_version",
    "set_knowledge_base", "set_run_knowledge", "write_passages",
]
__all__ += ["iter_chunk_texts", "grid_page", "grid_size", "score_histogram"]
__all__ += [
    "answers", "create_comparison", "find_comparison", "get_comparison", "judge_error_counts", "judge_run_for", "judge_runs",
    "list_comparisons", "load_judgements", "load_verdicts", "mark_judge_run", "set_comparison_run",
    "write_judgements", "write_verdicts",
]
