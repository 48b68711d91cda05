"""The only place that speaks SQL to DuckDB."""

from workbench.store.browse import (
    dataset_rows,
    grid_frame,
    grid_outputs,
    run_choices,
    run_metrics,
    run_stamp,
    score_values,
    token_stats,
)
from workbench.store.datasets import get_dataset, list_datasets
from workbench.store.db import connect, db_path, migrate
from workbench.store.endpoints import add_endpoint, list_endpoints, remove_endpoint
from workbench.store.prompts import get_prompt_version, list_prompt_versions
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
from workbench.store.runs import (
    claim_runs,
    create_run,
    done_rows,
    error_kinds,
    get_run,
    list_runs,
    load_outputs,
    load_scores,
    output_stats,
    resolve_run,
    save_dataset,
    save_prompt_version,
    score_moments,
    set_status,
    write_results,
)

__all__ = [
    "connect", "db_path", "migrate", "claim_runs", "create_run", "done_rows", "get_run", "list_runs", "load_outputs",
    "load_scores", "resolve_run", "save_dataset", "save_prompt_version", "score_moments", "error_kinds", "output_stats", "set_status", "write_results",
]
__all__ += [
    "add_endpoint", "list_endpoints", "remove_endpoint",
    "get_dataset", "list_datasets", "dataset_rows", "grid_outputs", "run_metrics", "score_values", "token_stats",
    "get_prompt_version", "list_prompt_versions", "run_choices", "grid_frame", "run_stamp",
]
__all__ += [
    "annotator_progress", "assigned_items", "claim_item", "claimable_count", "create_session", "get_rating",
    "get_session", "is_assigned", "item_outputs", "list_sessions", "load_ratings", "next_assigned_unrated",
    "output_scores", "rated_items", "resolve_session", "session_rating_count", "upsert_ratings",
    "usable_outputs", "open_claims", "progress_counts", "rate_held_item", "release_claims",
]
