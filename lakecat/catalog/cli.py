"""The `lakecat` command: create, inspect, query and maintain a catalog from a shell.

    lakecat init --storage PATH [--modules bio] [--name N] [--user HANDLE]
    lakecat info
    lakecat view [--limit 7] [--registry NAME ...]
    lakecat search REGISTRY TEXT [--field F] [--limit 20]
    lakecat get REGISTRY UID_OR_ID
    lakecat filter REGISTRY key=value ... [--order-by F] [--limit N]
    lakecat optimize [--vacuum-hours H]

with `--catalog ROOT` (else `$LAKECAT_CATALOG` or the remembered catalog) and
`--json` anywhere on the line. Each command is one short function over the Python
API; this module adds what a shell needs: typed values for `key=value` lookups
(read from the field's dtype where the key names a column), registry names typed
loosely (`artifact`, `bt.CellType`), tables or JSON on stdout, and expected errors
as one line on stderr with exit code 1 (catalog errors) or 2 (usage errors).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from lakecat.engine import errors

if TYPE_CHECKING:
    import pandas as pd

    from lakecat.catalog.instance import Catalog
    from lakecat.catalog.queryset import QuerySet
    from lakecat.catalog.record import SQLRecord
    from lakecat.schemas import RegistrySchema, SchemaIndex

__all__ = ["main"]

PROG = "lakecat"
EXIT_ERROR = 1
EXIT_USAGE = 2
#: the conventional exit code of a process stopped by Ctrl-C
EXIT_INTERRUPTED = 130

#: prefixes a registry name may carry, as LaminDB users write them (`bt.CellType`)
MODULE_PREFIXES = {
    "core": "core",
    "ln": "core",
    "bio": "bio",
    "bt": "bio",
    "bionty": "bio",
}

NO_CATALOG = (
    "no catalog connected: run `lakecat init --storage PATH`, pass --catalog ROOT "
    "or set LAKECAT_CATALOG"
)

INT = re.compile(r"[+-]?\d+")
FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
BOOLS = {"true": True, "false": False}
#: the one spelling of a missing value; `key__isnull=true` says the same
NULL = "null"

#: the dtype a date-part transform turns a column into
TRANSFORM_DTYPES = {"date": "date", "year": "int", "month": "int", "day": "int"}
#: comparators whose value is text as typed, whatever the column (`null` included)
TEXT_COMPARATORS = frozenset(
    {"contains", "icontains", "startswith", "istartswith", "endswith", "iendswith",
     "regex", "iregex", "iexact", "has_key"}
)  # fmt: skip


class UsageError(Exception):
    """The command line itself is wrong (exit code 2)."""


# the entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `lakecat` command line; returns the exit code."""
    arguments = _normalize_argv(list(sys.argv[1:] if argv is None else argv))
    traceback = "--traceback" in arguments
    try:
        args = _parser().parse_args(arguments)
        COMMANDS[args.command](args)
    except SystemExit as done:  # --help and --version
        return done.code if isinstance(done.code, int) else 0
    except UsageError as error:
        return _fail(error, EXIT_USAGE, traceback)
    except (errors.LakecatError, ValueError, TypeError) as error:
        # the API raises ValueError and TypeError for bad input, as LaminDB does
        return _fail(error, EXIT_ERROR, traceback)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader (`| head`) went away: point stdout at nothing, so that the
        # flush at exit does not fail again on the closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    return 0


def _fail(error: Exception, code: int, traceback: bool) -> int:
    if traceback:
        raise error
    message = str(error).strip().replace("\n", "; ")
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def _normalize_argv(argv: list[str]) -> list[str]:
    """`--order-by -size` → `--order-by=-size`: argparse reads `-size` as an option."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--order-by" and re.match(r"-[A-Za-z_]", arg):
            out[-1] = f"--order-by={arg}"
        else:
            out.append(arg)
    return out


# the parser


class _Parser(argparse.ArgumentParser):
    """argparse, raising instead of exiting so `main()` owns exit codes and output."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _count(text: str) -> int:
    if not INT.fullmatch(text) or int(text) < 0:
        msg = f"expected a count (0, 1, 2, …), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _hours(text: str) -> float:
    try:
        hours = float(text)
    except ValueError:
        hours = -1.0
    if not hours >= 0:
        msg = f"expected a number of hours (e.g. 0 or 168), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return hours


def _module(text: str) -> str:
    from lakecat.schemas import MODULES

    for name in text.split(","):
        if name.strip() and name.strip() not in (*MODULES, "bionty"):
            msg = f"unknown module {name.strip()!r}; available: {', '.join(MODULES)}"
            raise argparse.ArgumentTypeError(msg)
    return text


def _global_options(parser: _Parser, defaults: tuple[Any, Any, Any]) -> None:
    """`--catalog`, `--json`, `--traceback`: accepted before and after the command."""
    catalog, as_json, traceback = defaults
    parser.add_argument("--catalog", metavar="ROOT", default=catalog,
                        help="catalog root (default: $LAKECAT_CATALOG or the remembered one)")  # fmt: skip
    parser.add_argument("--json", action="store_true", default=as_json,
                        help="print JSON instead of tables")  # fmt: skip
    parser.add_argument("--traceback", action="store_true", default=traceback,
                        help="show the full traceback of an error")  # fmt: skip


def _parser() -> _Parser:
    from lakecat import __version__

    parser = _Parser(prog=PROG, description="A metadata catalog on Delta Lake tables.")
    _global_options(parser, (None, False, False))
    parser.add_argument("--version", action="version", version=f"lakecat {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, summary: str) -> _Parser:
        sub = commands.add_parser(name, help=summary, description=summary)
        # SUPPRESS: an option not given after the command keeps its value from before
        _global_options(sub, (argparse.SUPPRESS,) * 3)
        return sub

    init = command(
        "init", "Create a catalog (or connect to the one there) and remember it."
    )
    init.add_argument("--storage", required=True, metavar="PATH",
                      help="a folder, gs://bucket/prefix or s3://bucket/prefix")  # fmt: skip
    init.add_argument("--modules", action="append", type=_module, metavar="M[,M]",
                      help="extra modules, e.g. bio")  # fmt: skip
    init.add_argument("--name", help="catalog name (default: the last path component)")
    init.add_argument("--user", metavar="HANDLE", help="the catalog user's handle")

    command("info", "Show the catalog's identity and each registry's rows and version.")

    view = command("view", "Show the newest records of every non-empty registry.")
    view.add_argument("--limit", type=_count, default=7, help="rows per registry (7)")
    view.add_argument(
        "--registry", nargs="+", metavar="NAME", help="only these registries"
    )

    search = command("search", "Rank a registry's records by how well they match TEXT.")
    search.add_argument("registry", metavar="REGISTRY")
    search.add_argument("text", metavar="TEXT")
    search.add_argument("--field", action="append", metavar="F",
                        help="field to search (repeatable; default: all text fields)")  # fmt: skip
    search.add_argument("--limit", type=_count, default=20, help="most results (20)")

    get = command("get", "Show one record by id or uid (or uid prefix).")
    get.add_argument("registry", metavar="REGISTRY")
    get.add_argument("idlike", metavar="UID_OR_ID", help="digits are an id, else a uid")

    filter_ = command("filter", "Records matching field lookups such as size__gt=1000.")
    filter_.add_argument("registry", metavar="REGISTRY")
    filter_.add_argument("lookups", nargs="*", metavar="KEY=VALUE",
                         help="lookups as in Registry.filter(); lists: key__in=a,b; "
                         "ranges: key__range=lo,hi; null: key=null")  # fmt: skip
    filter_.add_argument("--order-by", action="append", metavar="F",
                         help="order by field F, -F for descending (repeatable or F1,F2)")  # fmt: skip
    filter_.add_argument("--limit", type=_count, help="most records (default: all)")

    optimize = command("optimize", "Compact, checkpoint and vacuum every table.")
    optimize.add_argument("--vacuum-hours", type=_hours, metavar="H",
                          help="keep removed files this long (default 168)")  # fmt: skip
    return parser


# commands


def _init(args: argparse.Namespace) -> None:
    import lakecat as lc

    modules = [m.strip() for value in args.modules or () for m in value.split(",")]
    catalog = lc.init(
        storage=args.storage,
        modules=[m for m in modules if m],
        name=args.name,
        user=args.user,
    )
    if args.json:
        _emit_json(_identity(catalog))
        return
    print(
        f"catalog {catalog.name!r} at {catalog.root} (modules: {', '.join(catalog.modules)})"
    )


def _identity(catalog: Catalog) -> dict[str, Any]:
    return {
        "root": catalog.root,
        "name": catalog.name,
        "uid": catalog.uid,
        "modules": list(catalog.modules),
        "format_version": catalog.identity.get("format_version"),
    }


def _info(args: argparse.Namespace) -> None:
    catalog = _catalog(args.catalog)
    registries = {
        qualified: {
            "table": schema.table,
            "rows": catalog.frame(schema.table).height,
            "version": catalog.tables.version(schema.table),
        }
        for qualified, schema in catalog.index.registries.items()
    }
    if args.json:
        _emit_json({**_identity(catalog), "registries": registries})
        return
    identity = _identity(catalog)
    identity["modules"] = ", ".join(identity["modules"])
    print(_aligned([(k.replace("_", " "), v) for k, v in identity.items()]))
    print()
    rows = [(name, r["rows"], r["version"]) for name, r in registries.items()]
    print(_aligned(rows, header=("registry", "rows", "version")))


def _view(args: argparse.Namespace) -> None:
    from lakecat.catalog.discovery import VIEW_SKIP, view

    catalog = _catalog(args.catalog)
    chosen = [resolve_registry(catalog, name)._schema for name in args.registry or ()]
    modules = list(dict.fromkeys(s.module for s in chosen)) or list(catalog.modules)
    names = {s.name for s in chosen} or None
    if not args.json:
        view(limit=args.limit, modules=modules, registries=names)
        return
    from lakecat.catalog.record import REGISTRY_CLASSES

    # the order of `view()`: module by module, registries by name
    schemas = sorted(
        (s for s in catalog.index.registries.values() if s.module in modules),
        key=lambda s: (modules.index(s.module), s.name),
    )
    shown: dict[str, list[dict[str, Any]]] = {}
    for schema in schemas:
        if schema.name in VIEW_SKIP or (names is not None and schema.name not in names):
            continue
        qs = REGISTRY_CLASSES[schema.qualified_name].filter()
        if schema.has_updated_at:
            qs = qs.order_by("-updated_at")
        rows = _records(qs[: args.limit])
        if rows:
            shown[schema.qualified_name] = rows
    _emit_json(shown)


def _search(args: argparse.Namespace) -> None:
    catalog = _catalog(args.catalog)
    model = resolve_registry(catalog, args.registry)
    _show(model.search(args.text, field=args.field, limit=args.limit), args.json)


def _get(args: argparse.Namespace) -> None:
    catalog = _catalog(args.catalog)
    model = resolve_registry(catalog, args.registry)
    idlike: int | str = int(args.idlike) if args.idlike.isdigit() else args.idlike
    try:
        record = model.get(idlike)
    except errors.DoesNotExist:
        what = "id" if isinstance(idlike, int) else "uid"
        msg = f"no {model._schema.name} with {what} {args.idlike}"
        raise errors.DoesNotExist(msg) from None
    (row,) = _records(model.objects.filter(id=record.id))
    if args.json:
        _emit_json(row)
        return
    print(_aligned(list(row.items())))


def _filter(args: argparse.Namespace) -> None:
    catalog = _catalog(args.catalog)
    model = resolve_registry(catalog, args.registry)
    lookups = parse_lookups(catalog.index, model._schema, args.lookups)
    qs = model.filter(**lookups)
    order = [f.strip() for value in args.order_by or () for f in value.split(",")]
    if order:
        qs = qs.order_by(*[f for f in order if f])
    if args.limit is not None:
        qs = qs[: args.limit]
    _show(qs, args.json)


def _optimize(args: argparse.Namespace) -> None:
    import lakecat as lc

    _catalog(args.catalog)
    reports = lc.optimize(vacuum_hours=args.vacuum_hours)
    if args.json:
        _emit_json(reports)
        return
    header = ("table", "files before", "compacted", "vacuumed", "files after")
    rows = [
        (t, r["files_before"], r.get("compacted", 0), r["vacuumed"], r["files_after"])
        for t, r in reports.items()
    ]
    # a compaction that kept conflicting with other writers is skipped, not an error
    skipped = {t: r["skipped"] for t, r in reports.items() if "skipped" in r}
    if skipped:
        header += ("skipped",)
        rows = [(*row, skipped.get(row[0], "")) for row in rows]
    print(_aligned(rows, header=header))


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "init": _init,
    "info": _info,
    "view": _view,
    "search": _search,
    "get": _get,
    "filter": _filter,
    "optimize": _optimize,
}


# catalogs and registries


def _catalog(root: str | None) -> Catalog:
    """The catalog at `root` for this process only, else the remembered one."""
    from lakecat.catalog import instance

    if root is not None:
        # a one-off --catalog must not become the remembered catalog
        return instance.connect(root, remember=False)
    try:
        return instance.current()
    except errors.StorageError:
        if os.environ.get("LAKECAT_CATALOG") or instance.settings_path().exists():
            raise
        raise errors.StorageError(NO_CATALOG) from None


def resolve_registry(catalog: Catalog, name: str) -> type[SQLRecord]:
    """The record class for `Artifact`, `artifact`, `bt.CellType` or `celltype`."""
    from lakecat.catalog.record import FULL_INDEX, REGISTRY_CLASSES

    prefix, _, bare = name.strip().rpartition(".")
    module = MODULE_PREFIXES.get(prefix.lower()) if prefix else None
    if prefix and module is None:
        msg = f"unknown module prefix {prefix!r} in {name!r}; use bt. or bio. for bio registries"
        raise UsageError(msg)
    matches = [
        schema
        for schema in FULL_INDEX.registries.values()
        if schema.name.lower() == bare.lower() and module in (None, schema.module)
    ]
    if matches and matches[0].module in catalog.modules:
        return REGISTRY_CLASSES[matches[0].qualified_name]
    if matches:
        msg = (
            f"registry {matches[0].qualified_name} belongs to module "
            f"{matches[0].module!r}, which catalog {catalog.name!r} does not have"
        )
        raise UsageError(msg)
    valid = list(catalog.index.registries)
    by_bare = {qualified.rpartition(".")[2].lower(): qualified for qualified in valid}
    close = difflib.get_close_matches(bare.lower(), list(by_bare), n=1)
    hint = f" Did you mean {by_bare[close[0]]!r}?" if close else ""
    msg = f"unknown registry {name!r}; valid names: {', '.join(valid)}.{hint}"
    raise UsageError(msg)


# values of `key=value` lookups


def parse_lookups(
    index: SchemaIndex, schema: RegistrySchema, items: Sequence[str]
) -> dict[str, Any]:
    """`["size__gt=10", "suffix__in=.jpg,.png"]` → keyword lookups with typed values."""
    from lakecat.engine.lookups import Lookup

    lookups: dict[str, Any] = {}
    for item in items:
        key, equals, text = item.partition("=")
        if not equals or not key:
            msg = f"lookups are written key=value (e.g. suffix=.jpg), got {item!r}"
            raise UsageError(msg)
        lookup = Lookup.parse(key, text)
        if lookup.comparator in TEXT_COMPARATORS:
            lookups[key] = text
            continue
        dtype = _target_dtype(index, schema.qualified_name, lookup.path)
        if lookup.transform is not None and dtype is not None:
            dtype = TRANSFORM_DTYPES[lookup.transform]
        if lookup.comparator == "isnull":
            dtype = "bool"
        if lookup.comparator in ("in", "range"):
            values = [_value(schema, key, dtype, part) for part in text.split(",")]
            if lookup.comparator == "range" and len(values) != 2:
                msg = f"{schema.name} `{key}` takes two values lo,hi, got {text!r}"
                raise errors.FieldValueError(msg, registry=schema.name, field=key)
            lookups[key] = values
        else:
            lookups[key] = _value(schema, key, dtype, text)
    return lookups


def _bool(text: str) -> bool:
    return BOOLS[text.lower()]


def _int(text: str) -> int:
    if not INT.fullmatch(text):
        raise ValueError(text)
    return int(text)


def _datetime(text: str) -> datetime:
    # `Z` is not understood by `fromisoformat` before Python 3.11
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)


#: dtype → (parser of one value, what the parser expects, for error messages)
VALUE_PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "str": (str, "text"),
    "int": (_int, "an integer"),
    "float": (float, "a number"),
    "bool": (_bool, "true or false"),
    "datetime": (_datetime, "an ISO datetime such as 2025-01-31 or 2025-01-31T12:00"),
    "date": (date.fromisoformat, "an ISO date such as 2025-01-31"),
}


def _literal(text: str) -> Any:
    """A value whose field is unknown here (relation, JSON key, feature): guess."""
    if text.lower() == NULL:
        return None
    if text.lower() in BOOLS:
        return BOOLS[text.lower()]
    if INT.fullmatch(text):
        return int(text)
    if FLOAT.fullmatch(text):
        return float(text)
    return text


def _target_dtype(
    index: SchemaIndex, registry: str, path: tuple[str, ...]
) -> str | None:
    """The dtype of the column a path ends on, across relations; None at a relation,
    inside a JSON column, or at a name that is no field (a feature, or a mistake)."""
    for position, part in enumerate(path):
        schema = index.registry(registry)
        field = schema.field(part)
        last = position == len(path) - 1
        if field is not None:
            return field.dtype if last and field.dtype != "json" else None
        relation = index.relations[registry].get(part)
        if relation is None or last:
            return None
        registry = relation.target
    return None


def _value(schema: RegistrySchema, key: str, dtype: str | None, text: str) -> Any:
    if dtype is None:
        return _literal(text)
    if text.lower() == NULL:
        return None
    parse, expected = VALUE_PARSERS[dtype]
    try:
        return parse(text)
    except (KeyError, ValueError):
        msg = f"{schema.name} `{key}` takes {expected}, got {text!r}"
        raise errors.FieldValueError(msg, registry=schema.name, field=key) from None


# output


def _emit_json(value: Any) -> None:
    import orjson

    text = orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()
    sys.stdout.write(text + "\n")


def _records(qs: QuerySet) -> list[dict[str, Any]]:
    """The rows of a queryset as plain dicts, JSON columns decoded."""
    import orjson

    schema = qs.model._schema
    json_columns = [f.name for f in schema.fields if f.dtype == "json"]
    rows = qs.to_polars().to_dicts()
    for row in rows:
        for name in json_columns:
            if isinstance(row.get(name), str):
                row[name] = orjson.loads(row[name])
    return rows


def _frame_text(frame: pd.DataFrame) -> str:
    import pandas as pd

    options = ("display.max_columns", None, "display.width", 10_000)
    with pd.option_context(*options, "display.max_colwidth", 50):
        return frame.to_string()


def _aligned(rows: list[tuple[Any, ...]], header: tuple[str, ...] | None = None) -> str:
    """Rows as columns padded to their widest cell; numbers right-aligned."""
    table = [header, *rows] if header else rows
    if not table:
        return ""
    cells = [[_cell(v) for v in row] for row in table]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    numeric = [all(isinstance(row[i], int) for row in rows) for i in range(len(widths))]
    lines = [
        "  ".join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(row, widths, numeric, strict=True)
        ).rstrip()
        for row in cells
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, (dict, list)):
        import orjson

        return orjson.dumps(value).decode()
    return str(value)


def _show(qs: QuerySet, as_json: bool) -> None:
    """Print a queryset as records (JSON) or as a table indexed by id."""
    if as_json:
        _emit_json(_records(qs))
        return
    frame = qs.to_dataframe()
    if frame.empty:
        print(f"no {qs.model._schema.name} records")
        return
    print(_frame_text(frame))
