"""Mirror structs of the cache files, for the drop-ins when the app's
``exlab_wizard.api.schemas`` is not importable.

Field names, order and defaults follow the files (docs/spec.md §1 and the
policy's record kinds), so positional construction and ``msgspec`` encoding
give the same records as the app's structs. Choices stay the policy's: these
structs only carry data, and every check happens when a record is written.
Closed sets are ``Literal`` strings here (the app uses string enums, which
compare equal to them).
"""
from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional

import msgspec

__all__ = [
    "EquipmentJson",
    "TestRunsJson",
    "LimsProjectBlock",
    "TemplateBlock",
    "PluginIsolation",
    "PluginApplied",
    "PathsBlock",
    "OrchestratorBlock",
    "OverrideEntry",
    "TombstoneEntry",
    "CreationJson",
    "IngestJson",
    "ReadmeFieldsJson",
]

RunKind = Literal["experimental", "test"]


class _Record(msgspec.Struct, omit_defaults=True):
    """Unknown fields are ignored on the way in (the policy keeps them on
    disk); defaults are left out on the way out, as in the files."""


class EquipmentJson(_Record):
    """``equipment.json``: the registry record of one piece of equipment."""

    schema_version: str
    id: str
    label: str
    configured_local_root: str
    configured_nas_root: str
    first_seen_at: str
    last_modified_at: str


class TestRunsJson(_Record):
    """``test_runs.json``: marks a project's TestRuns/ folder, written once."""

    __test__ = False  # not a pytest test class, whatever its name

    schema_version: str
    created_at: str
    project: str
    equipment: str
    run_kind: RunKind = "test"


class LimsProjectBlock(_Record):
    """The LIMS project a creation belongs to."""

    uid: str
    short_id: str
    name_at_creation: str
    source: Literal["live", "cache", "offline_catalogue"] = "live"
    cache_freshness_at_use: Optional[str] = None


class TemplateBlock(_Record):
    """The template a project or run was made from."""

    name: str
    version: str
    source_path: str
    run_scope: Optional[Literal["experimental", "test", "both"]] = None


class PluginIsolation(_Record):
    """How a plugin's isolated worker ran."""

    duration_ms: int
    exit_code: int
    peak_memory_mb: int


class PluginApplied(_Record):
    """One plugin run at creation."""

    plugin: str
    version: str
    files_affected: List[str]
    status: Literal["success", "failed", "skipped", "timeout", "policy_violation"]
    isolation: Optional[PluginIsolation] = None


class PathsBlock(_Record):
    """Where the creation lives, locally and on the NAS."""

    local: str
    nas: str


class OrchestratorBlock(_Record):
    """The machine that produced a run, for the orchestrator."""

    enabled: bool
    host: str
    label: str
    equipment_label: Optional[str] = None
    completeness_signal: Optional[Literal["sentinel_file", "manifest"]] = None
    sentinel_filename: Optional[str] = None
    manifest_filename: Optional[str] = None


class OverrideEntry(_Record):
    """An operator's override of a validation problem (an entry of
    ``validation_overrides``; the list holds plain dicts)."""

    id: str
    problem_class: str
    operator: str
    recorded_at: str
    reason: str
    revoked: bool = False
    expires_at: Optional[str] = None


class TombstoneEntry(_Record):
    """The revocation of an earlier override, by its id."""

    id: str
    revokes: str
    operator: str
    recorded_at: str
    reason: str
    revoked: bool = True


class CreationJson(_Record):
    """``creation.json``: a project's or run's provenance."""

    schema_version: str
    created_at: str
    created_by: str
    level: Literal["project", "run"]
    run_kind: RunKind
    lims_project: LimsProjectBlock
    template: TemplateBlock
    variables: Dict[str, Any]
    paths: PathsBlock
    plugins_applied: List[PluginApplied] = []
    orchestrator: Optional[OrchestratorBlock] = None
    sync_status: Literal["pending", "synced", "cleaned", "failed", "blocked_by_validation"] = (
        "pending"
    )
    validation_overrides: List[Dict[str, Any]] = []


class IngestJson(_Record):
    """``ingest.json``: a staged run's lifecycle on the orchestrator."""

    schema_version: str
    project_name: str
    equipment_id: str
    run_kind: RunKind
    run_path: str
    transport: Literal["smb_mount", "file_transfer"]
    current_state: Literal["staging", "complete", "sync_queued", "sync_verified", "cleared"]
    history: List[Dict[str, Any]] = []


class ReadmeFieldsJson(_Record):
    """``readme_fields.json``: the values a README was written from."""

    schema_version: str
    generated_at: str
    core_fields: Dict[str, str]
    system_fields: Dict[str, Any]
    template_fields: Dict[str, Any] = {}
    config_fields: Dict[str, Any] = {}
    custom_fields: List[Dict[str, str]] = []
