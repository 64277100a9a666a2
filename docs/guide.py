# %% [markdown]
# # Query & search registries
#
# This walkthrough follows LaminDB's guide "Query & search registries" on a
# lakecat catalog: a folder of Delta tables, no database server. Run it with
# `make demo` or `python docs/guide.py --storage ./lakecat-demo`;
# `docs/guide.ipynb` is the same walkthrough as a notebook.

# %%
from __future__ import annotations

import argparse
import sys
import tempfile

import pandas as pd

import lakecat as lc

pd.set_option("display.width", 250)
pd.set_option("display.max_columns", 40)
pd.set_option("display.max_colwidth", 50)


def heading(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def show(value) -> None:
    print(value, flush=True)


def main(storage: str) -> None:
    # %% [markdown]
    # ## Set up a catalog with a few example datasets
    heading(f"lakecat init --storage {storage} --modules bio")
    lc.init(storage=storage, modules=["bio"], user="testuser1", user_name="Test User1")
    lc.track(
        "Wc8F4siRSKMZ", key="registries.ipynb", description="Query & search registries"
    )
    datasets = lc.examples.datasets
    lc.Artifact(datasets.file_jpg_paradisi05(), key="images/my_image.jpg").save()
    lc.Artifact(datasets.file_fastq(), key="raw/my_fastq.fastq.gz").save()
    lc.Artifact.from_dataframe(datasets.df_iris(), key="iris.parquet").save()
    datasets.mini_immuno.save_mini_immuno_datasets()

    # %% [markdown]
    # ## Get an overview
    heading("lc.Artifact.to_dataframe()")
    show(lc.Artifact.to_dataframe())

    heading("lc.Artifact.to_dataframe(include=[...])")
    show(
        lc.Artifact.to_dataframe(
            include=[
                "created_by__name",
                "records__name",
                "cell_types__name",
                "feature_sets__itype",
                "suffix",
            ]
        )
    )

    heading("df = lc.Artifact.to_dataframe(features=True); lc.view(df)")
    df = lc.Artifact.to_dataframe(features=True)
    lc.view(df)

    heading("lc.view()")
    lc.view()

    # %% [markdown]
    # ## Auto-complete records
    heading("records = lc.Record.lookup(); cell_types = bt.CellType.lookup()")
    import lakecat.bio as bt

    records = lc.Record.lookup()
    cell_types = bt.CellType.lookup()
    show(cell_types)
    study1 = records.experiment_1
    show(study1)

    # %% [markdown]
    # ## Get one record
    heading("lc.Record.get(study1.uid); lc.Record.get(name='Experiment 1')")
    show(study1.uid)
    show(lc.Record.get(study1.uid))
    show(lc.Record.get(name="Experiment 1"))

    # %% [markdown]
    # ## Query records by fields
    heading("lc.Artifact.filter(records=study1).to_dataframe()")
    show(lc.Artifact.filter(records=study1).to_dataframe())
    queryset = lc.Artifact.filter(records=study1)
    heading("one(), one_or_none(), iteration, [0]")
    show(queryset.one())
    show(queryset.one_or_none())
    show([artifact.key for artifact in queryset])
    show(queryset[0].key)

    # %% [markdown]
    # ## Query datasets by features
    heading('lc.Artifact.filter(perturbation="DMSO").to_dataframe(features=True)')
    show(lc.Artifact.filter(perturbation="DMSO").to_dataframe(features=True))
    heading('lc.Artifact.filter(study_metadata__detail1="123").to_dataframe()')
    show(lc.Artifact.filter(study_metadata__detail1="123").to_dataframe())
    heading("lc.Artifact.filter(study_metadata__detail2=2).to_dataframe()")
    show(lc.Artifact.filter(study_metadata__detail2=2).to_dataframe())
    heading("lc.Artifact.filter(perturbation__isnull=True).to_dataframe()")
    show(lc.Artifact.filter(perturbation__isnull=True).to_dataframe())
    heading("lc.Artifact.filter(perturbation__isnull=False).to_dataframe()")
    show(lc.Artifact.filter(perturbation__isnull=False).to_dataframe())

    # %% [markdown]
    # ## Search for records
    heading('lc.Artifact.search("iris").to_dataframe()')
    show(lc.Artifact.search("iris").to_dataframe())
    heading('bt.CellType.search("t cell").to_dataframe().head(3)')
    show(bt.CellType.search("t cell").to_dataframe().head(3)[["name", "ontology_id"]])

    # %% [markdown]
    # ## Filter operators
    heading('and: lc.Artifact.filter(suffix=".h5ad", records=study1)')
    show(lc.Artifact.filter(suffix=".h5ad", records=study1).to_dataframe())
    heading(
        "less than / greater than: lc.Artifact.filter(records=study1, size__gt=1e4)"
    )
    show(lc.Artifact.filter(records=study1, size__gt=1e4).to_dataframe())
    heading('in: lc.Artifact.filter(suffix__in=[".jpg", ".fastq.gz"])')
    show(lc.Artifact.filter(suffix__in=[".jpg", ".fastq.gz"]).to_dataframe())
    for order in ("created_at", "-created_at", "key", "-key"):
        heading(f'order by: lc.Artifact.filter().order_by("{order}")')
        show(lc.Artifact.filter().order_by(order).to_dataframe())
    heading('contains: lc.Transform.filter(description__contains="search")')
    show(lc.Transform.filter(description__contains="search").to_dataframe().head(5))
    heading('icontains: lc.Transform.filter(description__icontains="Search")')
    show(lc.Transform.filter(description__icontains="Search").to_dataframe().head(5))
    heading('startswith: lc.Transform.filter(description__startswith="Query")')
    show(lc.Transform.filter(description__startswith="Query").to_dataframe())
    heading('or: lc.Artifact.filter(lc.Q(suffix=".jpg") | lc.Q(suffix=".fastq.gz"))')
    show(
        lc.Artifact.filter(
            lc.Q(suffix=".jpg") | lc.Q(suffix=".fastq.gz")
        ).to_dataframe()
    )
    heading('negate: lc.Artifact.filter(~lc.Q(suffix=".jpg"))')
    show(lc.Artifact.filter(~lc.Q(suffix=".jpg")).to_dataframe())

    lc.finish()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--storage", default=None, help="where to create the catalog")
    args = parser.parse_args()
    main(args.storage or tempfile.mkdtemp(prefix="lakecat-guide-") + "/catalog")
    sys.exit(0)
