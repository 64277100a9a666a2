"""Save the two mini-immuno datasets with their features, labels and schemas.

Reproduces the state LaminDB's guide starts from: nine features, four records,
cell types with their ancestors, four genes, the composite AnnData schema with its
obs and var member schemas, and two AnnData artifacts annotated with obs labels
and dataset-level values.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from lakecat.catalog.messages import warn_user

#: features of the guide, in the order they are created (their ids)
FEATURES: tuple[tuple[str, str], ...] = (
    ("perturbation", "cat[Record]"),
    ("sample_note", "str"),
    ("cell_type_by_expert", "cat[bionty.CellType]"),
    ("cell_type_by_model", "cat[bionty.CellType]"),
    ("temperature", "float"),
    ("experiment", "cat[Record]"),
    ("date_of_study", "date"),
    ("study_note", "str"),
    ("study_metadata", "dict"),
)
CELL_TYPES = ("B cell", "T cell", "CD8-positive, alpha-beta T cell")


def _schema(lc, members: tuple[Any, ...] = (), **values: Any):
    """A schema, found by name or new; its hash covers its definition and members."""
    from lakecat.catalog.features import value_hash

    if values.get("name") is not None:
        found = lc.Schema.filter(name=values["name"]).first()
        if found is not None:
            return found
    described = sorted((k, str(v)) for k, v in values.items() if k != "uid")
    values.setdefault("hash", value_hash([described, sorted(m.uid for m in members)]))
    return lc.Schema(**values).save()


def _link_schemas(artifact, slots: dict[str, Any]) -> None:
    """Link the artifact to its member schemas, each under its slot (obs, var)."""
    from lakecat.catalog import instance

    catalog = instance.current()
    ids = catalog.allocate_ids("artifact_schema", len(slots))
    now = instance.now()
    catalog.insert("artifact_schema", [
        {"id": i, "artifact_id": artifact.id, "schema_id": schema.id, "slot": slot,
         "created_at": now}
        for i, (slot, schema) in zip(ids, slots.items(), strict=True)
    ])  # fmt: skip


def _ensure_registries(lc, bt) -> dict[str, Any]:
    features = {}
    for name, dtype in FEATURES:
        features[name] = lc.Feature(name=name, dtype=dtype).save()
    for name in ("DMSO", "IFNG", "Experiment 1", "Experiment 2"):
        lc.Record(name=name).save()
    for record in bt.CellType.from_values(CELL_TYPES):
        if record.id is None:
            record.save()
    return features


def _validated_columns(lc, columns: list[str]) -> tuple[list[str], list[str]]:
    known = set(lc.Feature.filter(name__in=columns).values_list("name", flat=True))
    return [c for c in columns if c in known], [c for c in columns if c not in known]


def _save_dataset(lc, bt, adata, key: str, metadata: dict[str, Any], composite) -> Any:
    obs_columns = list(adata.obs.columns)
    valid, invalid = _validated_columns(lc, obs_columns)
    if invalid:
        terms = ", ".join(repr(c) for c in invalid)
        warn_user(
            f"{len(invalid)} terms not validated in feature 'columns' in slot 'obs': {terms}\n"
            "    → fix typos, remove non-existent values, or save terms via "
            "lc.Feature(name=..., dtype=...).save()"
        )
    genes = bt.Gene.from_values(list(adata.var_names), field="ensembl_gene_id")
    for gene in genes:
        if gene.id is None:
            gene.save()
    artifact = lc.Artifact.from_anndata(adata, key=key)
    artifact.schema = composite
    artifact.save()

    features = {f.name: f for f in lc.Feature.filter(name__in=valid)}
    members = tuple(features[name] for name in valid)
    obs_schema = _schema(lc, members, itype="Feature", n=len(valid))
    obs_schema.features.add(*members)
    var_schema = _schema(
        lc, tuple(genes), itype="bionty.Gene.ensembl_gene_id", n=len(genes), dtype="num"
    )
    var_schema.genes.add(*genes)
    _link_schemas(artifact, {"obs": obs_schema, "var": var_schema})

    labels: dict[str, Any] = {}
    for name in valid:
        feature = features[name]
        if feature.dtype.startswith("cat["):
            values = pl.Series(adata.obs[name].astype(str).tolist()).unique(
                maintain_order=True
            )
            labels[name] = [v for v in values.to_list() if v not in ("nan", "None")]
    artifact.features.add_values({**labels, **metadata})
    return artifact


def save_mini_immuno_datasets():
    """Save the guide's two AnnData datasets with features, labels and schemas.

    Needs a catalog with the bio module. Returns the two artifacts.
    """
    import lakecat as lc
    import lakecat.bio as bt
    from lakecat.examples.datasets import mini_immuno

    _ensure_registries(lc, bt)
    _schema(lc, name="valid_features", itype="Feature", uid="0000000000000000")
    _schema(lc, name="valid_ensembl_gene_ids", itype="bionty.Gene.ensembl_gene_id",
            dtype="num", uid="0000000000000001")  # fmt: skip
    composite = _schema(
        lc, name="anndata_ensembl_gene_ids_and_valid_features_in_obs", itype="Composite",
        otype="AnnData", dtype="num", uid="0000000000000002",
    )  # fmt: skip
    artifacts = []
    for number, key in ((1, "examples/dataset1.h5ad"), (2, "examples/dataset2.h5ad")):
        getter = mini_immuno.get_dataset1 if number == 1 else mini_immuno.get_dataset2
        adata = getter(otype="AnnData")
        metadata = dict(adata.uns)
        metadata["study_metadata"] = mini_immuno.get_study_metadata(number)
        artifacts.append(_save_dataset(lc, bt, adata, key, metadata, composite))
    return artifacts
