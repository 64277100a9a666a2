"""The core registries: artifacts, records, features, runs and what they point to.

Column order follows LaminDB 1.13's `to_dataframe()` so that frames match its guide:
a registry's own columns, then its foreign keys, then the shared trailer
(`version`, `is_latest`, `is_locked`, `run_id`, `created_at`, `created_by_id`,
`_aux`, `branch_id`).
"""

from __future__ import annotations

from lakecat.schemas._base import (
    Field,
    ForeignKey,
    LinkTable,
    ManyToMany,
    RegistrySchema,
)

MODULE = "core"

ID = Field("id", "int", nullable=False, doc="integer primary key, starts at 1")
SPACE_ID = Field("space_id", "int", nullable=False, default=1)
IS_LOCKED = Field("is_locked", "bool", nullable=False, default=False)
RUN_ID = Field("run_id", "int", doc="the run that created the row")
CREATED_AT = Field("created_at", "datetime", nullable=False)
CREATED_BY_ID = Field("created_by_id", "int", nullable=False, default=1)
AUX = Field("_aux", "json")
BRANCH_ID = Field(
    "branch_id", "int", nullable=False, default=1, doc="1 main, 0 archive, -1 trash"
)
UPDATED_AT = Field("updated_at", "datetime", nullable=False, hidden=True)
VERSION = Field("version", "str", doc="free-text version tag")
IS_LATEST = Field("is_latest", "bool", nullable=False, default=True)

#: the trailer of tracked registries, in display order
TRACKED_TAIL = (IS_LOCKED, RUN_ID, CREATED_AT, CREATED_BY_ID, AUX, BRANCH_ID)
TRACKED_FKS = (
    ForeignKey("space", "Space"),
    ForeignKey("run", "Run"),
    ForeignKey("created_by", "User"),
    ForeignKey("branch", "Branch"),
)


def _link(table: str, source: str, target: str, *extra: Field) -> LinkTable:
    return LinkTable(table, MODULE, source, target, extra)


FEATURE_ID = Field("feature_id", "int", doc="the feature this label annotates")

ARTIFACT_RECORD = _link("artifact_record", "artifact_id", "record_id", FEATURE_ID)
ARTIFACT_ULABEL = _link("artifact_ulabel", "artifact_id", "ulabel_id", FEATURE_ID)
ARTIFACT_PROJECT = _link("artifact_project", "artifact_id", "project_id", FEATURE_ID)
ARTIFACT_USER = _link("artifact_user", "artifact_id", "user_id", FEATURE_ID)
ARTIFACT_SCHEMA = _link(
    "artifact_schema",
    "artifact_id",
    "schema_id",
    Field("slot", "str"),
    Field("feature_ref_is_semantic", "bool"),
)
ARTIFACT_FEATUREVALUE = _link("artifact_featurevalue", "artifact_id", "featurevalue_id")
RUN_INPUT_ARTIFACT = _link("run_input_artifact", "run_id", "artifact_id")
COLLECTION_ARTIFACT = _link("collection_artifact", "collection_id", "artifact_id")
RECORD_PARENT = _link("record_parent", "record_id", "parent_id")
ULABEL_PARENT = _link("ulabel_parent", "ulabel_id", "parent_id")
SCHEMA_FEATURE = _link("schema_feature", "schema_id", "feature_id")
RUN_FEATUREVALUE = _link("run_featurevalue", "run_id", "featurevalue_id")

USER = RegistrySchema(
    name="User",
    module=MODULE,
    table="user",
    uid_length=8,
    name_field="handle",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("handle", "str", nullable=False),
        Field("name", "str"),
        CREATED_AT,
        UPDATED_AT,
    ),
)

SPACE = RegistrySchema(
    name="Space",
    module=MODULE,
    table="space",
    uid_length=12,
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("name", "str", nullable=False),
        Field("description", "str"),
        CREATED_AT,
        CREATED_BY_ID,
    ),
    foreign_keys=(ForeignKey("created_by", "User"),),
)

BRANCH = RegistrySchema(
    name="Branch",
    module=MODULE,
    table="branch",
    uid_length=12,
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("name", "str", nullable=False),
        Field("description", "str"),
        SPACE_ID,
        CREATED_AT,
        CREATED_BY_ID,
    ),
    foreign_keys=(ForeignKey("space", "Space"), ForeignKey("created_by", "User")),
)

STORAGE = RegistrySchema(
    name="Storage",
    module=MODULE,
    table="storage",
    uid_length=12,
    name_field="root",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("root", "str", nullable=False),
        Field("description", "str"),
        Field("type", "str", doc="local, s3 or gs"),
        Field("region", "str"),
        Field("instance_uid", "str"),
        SPACE_ID,
        *TRACKED_TAIL,
        UPDATED_AT,
    ),
    foreign_keys=TRACKED_FKS,
)

TRANSFORM = RegistrySchema(
    name="Transform",
    module=MODULE,
    table="transform",
    uid_length=16,
    uid_stem_length=12,
    name_field="key",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("key", "str"),
        Field("description", "str"),
        Field("type", "str", default="pipeline", doc="notebook, script, pipeline…"),
        Field("source_code", "str"),
        Field("hash", "str"),
        Field("reference", "str"),
        Field("reference_type", "str"),
        SPACE_ID,
        Field("_template_id", "int"),
        VERSION,
        IS_LATEST,
        IS_LOCKED,
        CREATED_AT,
        CREATED_BY_ID,
        AUX,
        BRANCH_ID,
        UPDATED_AT,
    ),
    foreign_keys=(
        ForeignKey("space", "Space"),
        ForeignKey("created_by", "User", "created_transforms"),
        ForeignKey("branch", "Branch"),
    ),
)

RUN = RegistrySchema(
    name="Run",
    module=MODULE,
    table="run",
    uid_length=16,
    name_field="started_at",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("name", "str"),
        Field("started_at", "datetime"),
        Field("finished_at", "datetime"),
        Field("params", "json", doc="parameters recorded with `track(params=...)`"),
        Field("reference", "str"),
        Field("reference_type", "str"),
        Field("_is_consecutive", "bool"),
        Field("_status_code", "int", nullable=False, default=-3),
        SPACE_ID,
        Field("transform_id", "int", nullable=False),
        Field("report_id", "int"),
        Field("_logfile_id", "int"),
        Field("environment_id", "int"),
        Field("initiated_by_run_id", "int"),
        IS_LOCKED,
        CREATED_AT,
        CREATED_BY_ID,
        AUX,
        BRANCH_ID,
    ),
    foreign_keys=(
        ForeignKey("space", "Space"),
        ForeignKey("transform", "Transform", "runs"),
        ForeignKey("report", "Artifact"),
        ForeignKey("_logfile", "Artifact"),
        ForeignKey("environment", "Artifact"),
        ForeignKey("initiated_by_run", "Run", "initiated_runs"),
        ForeignKey("created_by", "User", "created_runs"),
        ForeignKey("branch", "Branch"),
    ),
    many_to_many=(
        ManyToMany("input_artifacts", "Artifact", RUN_INPUT_ARTIFACT, "input_of_runs"),
        ManyToMany("_feature_values", "FeatureValue", RUN_FEATUREVALUE),
    ),
)

ARTIFACT = RegistrySchema(
    name="Artifact",
    module=MODULE,
    table="artifact",
    uid_length=20,
    uid_stem_length=16,
    name_field="key",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("key", "str", doc="a path-like key, e.g. `images/my_image.jpg`"),
        Field("description", "str"),
        Field("suffix", "str", nullable=False, default=""),
        Field("kind", "str", doc="dataset, model, …"),
        Field("otype", "str", doc="DataFrame, AnnData, …"),
        Field("size", "int", doc="bytes"),
        Field("hash", "str", doc="md5, base64url without padding"),
        Field("n_files", "int"),
        Field("n_observations", "int"),
        Field("_hash_type", "str"),
        Field("_key_is_virtual", "bool", nullable=False, default=True),
        Field("_overwrite_versions", "bool", nullable=False, default=False),
        SPACE_ID,
        Field("storage_id", "int", nullable=False, default=1),
        Field("schema_id", "int"),
        VERSION,
        IS_LATEST,
        *TRACKED_TAIL[:-1],
        Field("_real_key", "str"),
        BRANCH_ID,
        UPDATED_AT,
    ),
    foreign_keys=(
        ForeignKey("space", "Space"),
        ForeignKey("storage", "Storage", "artifacts"),
        ForeignKey("schema", "Schema", "validated_artifacts"),
        ForeignKey("run", "Run", "output_artifacts"),
        ForeignKey("created_by", "User", "created_artifacts"),
        ForeignKey("branch", "Branch"),
    ),
    many_to_many=(
        ManyToMany("feature_sets", "Schema", ARTIFACT_SCHEMA, "artifacts"),
        ManyToMany("_feature_values", "FeatureValue", ARTIFACT_FEATUREVALUE),
        ManyToMany("records", "Record", ARTIFACT_RECORD, "artifacts"),
        ManyToMany("ulabels", "ULabel", ARTIFACT_ULABEL, "artifacts"),
        ManyToMany("projects", "Project", ARTIFACT_PROJECT, "artifacts"),
        ManyToMany("users", "User", ARTIFACT_USER),
    ),
)

COLLECTION = RegistrySchema(
    name="Collection",
    module=MODULE,
    table="collection",
    uid_length=20,
    uid_stem_length=16,
    name_field="key",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("key", "str"),
        Field("description", "str"),
        Field("hash", "str"),
        Field("reference", "str"),
        Field("reference_type", "str"),
        SPACE_ID,
        Field("meta_artifact_id", "int"),
        VERSION,
        IS_LATEST,
        *TRACKED_TAIL,
        UPDATED_AT,
    ),
    foreign_keys=(
        ForeignKey("meta_artifact", "Artifact"),
        *TRACKED_FKS,
    ),
    many_to_many=(
        ManyToMany("artifacts", "Artifact", COLLECTION_ARTIFACT, "collections"),
    ),
)

RECORD = RegistrySchema(
    name="Record",
    module=MODULE,
    table="record",
    uid_length=16,
    name_field="name",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("name", "str"),
        Field("is_type", "bool", nullable=False, default=False),
        Field("description", "str"),
        Field("reference", "str"),
        Field("reference_type", "str"),
        SPACE_ID,
        Field("type_id", "int"),
        Field("schema_id", "int"),
        *TRACKED_TAIL,
        UPDATED_AT,
    ),
    foreign_keys=(
        ForeignKey("type", "Record", "records"),
        ForeignKey("schema", "Schema"),
        *TRACKED_FKS,
    ),
    many_to_many=(ManyToMany("parents", "Record", RECORD_PARENT, "children"),),
)

ULABEL = RegistrySchema(
    name="ULabel",
    module=MODULE,
    table="ulabel",
    uid_length=8,
    name_field="name",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("name", "str", nullable=False),
        Field("is_type", "bool", nullable=False, default=False),
        Field("description", "str"),
        Field("reference", "str"),
        Field("reference_type", "str"),
        SPACE_ID,
        Field("type_id", "int"),
        *TRACKED_TAIL,
        UPDATED_AT,
    ),
    foreign_keys=(ForeignKey("type", "ULabel", "ulabels"), *TRACKED_FKS),
    many_to_many=(ManyToMany("parents", "ULabel", ULABEL_PARENT, "children"),),
)

FEATURE = RegistrySchema(
    name="Feature",
    module=MODULE,
    table="feature",
    uid_length=12,
    name_field="name",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("name", "str", nullable=False),
        Field("dtype", "str", doc="str, int, float, cat[Record], dict, …"),
        Field("is_type", "bool"),
        Field("unit", "str"),
        Field("description", "str"),
        Field("array_rank", "int", nullable=False, default=0),
        Field("array_size", "int", nullable=False, default=0),
        Field("array_shape", "json"),
        Field("proxy_dtype", "str"),
        Field("synonyms", "str"),
        Field("_expect_many", "bool"),
        Field("_curation", "json"),
        SPACE_ID,
        Field("type_id", "int"),
        *TRACKED_TAIL,
        UPDATED_AT,
    ),
    foreign_keys=(ForeignKey("type", "Feature", "features"), *TRACKED_FKS),
)

FEATURE_VALUE = RegistrySchema(
    name="FeatureValue",
    module=MODULE,
    table="featurevalue",
    name_field="value",
    fields=(
        ID,
        Field("value", "json", nullable=False, doc="the value as JSON text"),
        Field("hash", "str"),
        SPACE_ID,
        Field("feature_id", "int", nullable=False),
        *TRACKED_TAIL,
        Field("_kind", "str", hidden=True, doc="number, string, bool, dict, list"),
        Field("_number", "float", hidden=True, doc="the value if it is a number"),
        Field("_text", "str", hidden=True, doc="the value if it is a string"),
        Field("_integer", "int", hidden=True, doc="the value if it is an integer"),
    ),
    foreign_keys=(ForeignKey("feature", "Feature", "values"), *TRACKED_FKS),
)

#: the nodes inside dict and list feature values, one row per key or list item,
#: written once with the value; nested lookups filter this instead of decoding JSON
FEATUREVALUE_PATH_FIELDS = (
    ID,
    Field("featurevalue_id", "int", nullable=False),
    Field("feature_id", "int", nullable=False),
    Field("path", "str", nullable=False, doc='keys as a JSON array: ["model", 0]'),
    Field("kind", "str", nullable=False, doc="string, number, bool, null, dict, list"),
    Field("number", "float", doc="the node if it is a number or a bool"),
    Field("integer", "int", doc="the node if it is an integer"),
    Field("text", "str", doc="the node if a string; sorted-key JSON if a container"),
)

SCHEMA = RegistrySchema(
    name="Schema",
    module=MODULE,
    table="schema",
    uid_length=16,
    name_field="name",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("name", "str"),
        Field("description", "str"),
        Field("n", "int", nullable=False, default=-1),
        Field("is_type", "bool", nullable=False, default=False),
        Field("itype", "str"),
        Field("otype", "str"),
        Field("dtype", "str"),
        Field("hash", "str"),
        Field("minimal_set", "bool", nullable=False, default=True),
        Field("ordered_set", "bool", nullable=False, default=False),
        Field("maximal_set", "bool", nullable=False, default=False),
        Field("_curation", "json"),
        Field("slot", "str"),
        SPACE_ID,
        Field("type_id", "int"),
        Field("validated_by_id", "int"),
        Field("composite_id", "int"),
        *TRACKED_TAIL,
    ),
    foreign_keys=(
        ForeignKey("type", "Schema", "schemas"),
        ForeignKey("validated_by", "Schema"),
        ForeignKey("composite", "Schema", "components"),
        *TRACKED_FKS,
    ),
    many_to_many=(ManyToMany("features", "Feature", SCHEMA_FEATURE, "schemas"),),
)

PROJECT = RegistrySchema(
    name="Project",
    module=MODULE,
    table="project",
    uid_length=12,
    name_field="name",
    fields=(
        ID,
        Field("uid", "str", nullable=False),
        Field("name", "str", nullable=False),
        Field("description", "str"),
        Field("is_type", "bool", nullable=False, default=False),
        Field("abbr", "str"),
        Field("url", "str"),
        Field("start_date", "date"),
        Field("end_date", "date"),
        Field("_status_code", "int", nullable=False, default=0),
        SPACE_ID,
        Field("type_id", "int"),
        *TRACKED_TAIL,
        UPDATED_AT,
    ),
    foreign_keys=(ForeignKey("type", "Project", "projects"), *TRACKED_FKS),
)

#: hidden tables that are neither registries nor link tables: name → fields
INTERNAL_TABLES: dict[str, tuple[Field, ...]] = {
    "featurevalue_path": FEATUREVALUE_PATH_FIELDS,
}

REGISTRIES: tuple[RegistrySchema, ...] = (
    USER,
    SPACE,
    BRANCH,
    STORAGE,
    TRANSFORM,
    RUN,
    ARTIFACT,
    COLLECTION,
    RECORD,
    ULABEL,
    FEATURE,
    FEATURE_VALUE,
    SCHEMA,
    PROJECT,
)
