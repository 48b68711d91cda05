"""Knowledge enhancement: files chunked into versioned bases in the database file, BM25 retrieval
(bm25s), passages for prompts, and retrieval metrics."""

from workbench.knowledge.bases import (
    AddResult,
    Passage,
    add_base,
    add_uploads,
    list_bases,
    remove_base,
    search,
    show_base,
)
from workbench.knowledge.chunking import Chunking
from workbench.knowledge.prompting import (
    knowledge_version,
    plan_passages,
    record_run_passages,
    retrieve_for_rows,
    with_passages,
)
from workbench.knowledge.report import run_retrieval
from workbench.knowledge.tokens import TOKENIZERS

__all__ = ["AddResult", "Chunking", "Passage", "TOKENIZERS", "add_base", "add_uploads", "list_bases", "remove_base", "search",
           "show_base", "knowledge_version", "plan_passages", "record_run_passages",
           "retrieve_for_rows", "run_retrieval", "with_passages"]
