"""The SQLite store under every stage: runs, generated samples with their cost, verdicts.

A run resumes from here and a report is rebuilt from here alone. The schema is documented in
docs/store.md; `schema` holds it and its migrations, `records` the typed records, `accessors`
the `Store` that reads and writes them.
"""

from codebudget.store.accessors import DEFAULT_PATH, Store
from codebudget.store.records import (
    GeneratedProgram,
    RunRecord,
    RunStatus,
    RunSummary,
    SampleResult,
    StoredGeneration,
    Unjudged,
    canonical_json,
    run_id_for,
)
from codebudget.store.schema import SCHEMA_VERSION

__all__ = [
    "DEFAULT_PATH",
    "SCHEMA_VERSION",
    "GeneratedProgram",
    "RunRecord",
    "RunStatus",
    "RunSummary",
    "SampleResult",
    "Store",
    "StoredGeneration",
    "Unjudged",
    "canonical_json",
    "run_id_for",
]
