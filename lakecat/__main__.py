"""`python -m lakecat`: the `lakecat` command line."""

from lakecat.catalog.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
