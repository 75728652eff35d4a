"""The ``eventwriter`` command: inspect, validate and export log dirs.

    eventwriter inspect LOGDIR        runs, tags, kinds, counts and step ranges
    eventwriter validate LOGDIR       exit 0 if every event file is sound, 1 if not
    eventwriter validate --tensorboard [--json] LOGDIR
                                      also what TensorBoard will drop: exit 3 if it loses data
    eventwriter export LOGDIR --format csv|jsonl [-o FILE|-]
    eventwriter export LOGDIR --format parquet -o FILE   (needs pyarrow: eventwriter[parquet])

Exit status: 0 success; 1 a corrupt record was found, or something named like an event
file could not be read (a FIFO, socket, device, dangling symlink or symlink loop, a file
deleted after the listing, an I/O or permission error) or a subdirectory could not be
listed; 2 a usage error, or a log dir or output file that cannot be opened; 3 (validate
--tensorboard) sound files of which TensorBoard will not show everything
(eventwriter.validate).

Each entry that is not read is reported on stderr with its path and reason, and the other
files are still read: ``inspect`` and ``validate`` print their results for the rest, and
``export`` writes every other file's scalars. A FIFO is never opened, so nothing hangs. A
directory named like an event file is only noted (exit status unchanged): it is searched
for runs like any other directory.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from eventwriter.errors import DamagedRecordWarning, RecordError
from eventwriter.proto.event_pb2 import Event
from eventwriter.reader import ScalarPoint, SkippedEntry, find_event_files, iter_events, value_kind
from eventwriter.storage.remote import is_url
from eventwriter.validate import validate

__all__ = ["main"]

_EVENT_KINDS = {
    "graph_def": "graph",
    "meta_graph_def": "meta_graph",
    "tagged_run_metadata": "run_metadata",
    "session_log": "session_log",
    "log_message": "log_message",
}


@dataclass
class _TagStats:
    kind: str
    count: int = 0
    first_step: int = 0
    last_step: int = 0

    def add(self, step: int) -> None:
        if self.count == 0:
            self.first_step = self.last_step = step
        self.first_step = min(self.first_step, step)
        self.last_step = max(self.last_step, step)
        self.count += 1


@dataclass
class _RunStats:
    events: int = 0
    tags: dict[str, _TagStats] = field(default_factory=dict)

    def add(self, event: Event) -> None:
        self.events += 1
        what = event.WhichOneof("what")
        if what == "summary":
            for value in event.summary.value:
                stats = self.tags.get(value.tag)
                if stats is None:
                    kind = value_kind(value, value.metadata.plugin_data.plugin_name)
                    stats = self.tags[value.tag] = _TagStats(kind)
                stats.add(event.step)
        elif what in _EVENT_KINDS:
            name = event.tagged_run_metadata.tag if what == "tagged_run_metadata" else ""
            key = f"({_EVENT_KINDS[what]}{': ' + name if name else ''})"
            self.tags.setdefault(key, _TagStats(_EVENT_KINDS[what])).add(event.step)

    def write(self, out: TextIO) -> None:
        """One line per tag: its kind, count and step range."""
        width = max((len(tag) for tag in self.tags), default=0)
        for tag, stats in sorted(self.tags.items()):
            steps = (
                f"{stats.first_step}"
                if stats.first_step == stats.last_step
                else f"{stats.first_step}..{stats.last_step}"
            )
            print(f"  {tag:<{width}}  {stats.kind:<14} {stats.count:>8}  steps {steps}", file=out)


def _report_skipped(command: str, skipped: Sequence[SkippedEntry]) -> int:
    """Print each entry on stderr; return how many of them left something unread."""
    unread = 0
    for entry in skipped:
        if entry.searched:
            print(f"eventwriter {command}: note: {entry.path}: {entry.reason}", file=sys.stderr)
        else:
            print(f"eventwriter {command}: skipped {entry.path}: {entry.reason}", file=sys.stderr)
            unread += 1
    return unread


def _inspect(logdir: str, out: TextIO) -> int:
    skipped: list[SkippedEntry] = []
    runs = find_event_files(logdir, skipped=skipped)
    status = 1 if _report_skipped("inspect", skipped) else 0
    if not runs:
        print(f"{logdir}: no event files", file=out)
        return status
    for run, paths in runs.items():
        stats = _RunStats()
        for path in paths:
            try:
                for event in iter_events(path):
                    stats.add(event)
            except RecordError as exc:
                print(f"warning: {exc}; the rest of this file is skipped, as TensorBoard does", file=out)
                status = 1
            except OSError as exc:  # gone since the listing, unreadable, an I/O error
                _report_skipped("inspect", [SkippedEntry.from_error(path, exc)])
                status = 1
        print(f"run {run!r}: {len(paths)} file(s), {stats.events} event(s)", file=out)
        stats.write(out)
        directory = os.path.dirname(paths[0]) if os.path.isfile(logdir) else os.path.join(logdir, run)
        status |= _write_embeddings(directory, out)
    return status


def _write_embeddings(run_dir: str, out: TextIO) -> int:
    """List the projector's embeddings of a run: tag, step, shape, metadata, sprite; 1 if
    its config cannot be read."""
    from google.protobuf import text_format

    from eventwriter.proto.projector_config_pb2 import ProjectorConfig

    path = os.path.join(run_dir, "projector_config.pbtxt")
    if not os.path.isfile(path):
        return 0
    try:
        with open(path, encoding="utf-8") as handle:
            config = text_format.Parse(handle.read(), ProjectorConfig())
    except (OSError, UnicodeDecodeError, text_format.ParseError) as exc:
        print(f"  projector: {path} cannot be read: {exc}", file=out)
        return 1
    print(f"  projector: {len(config.embeddings)} embedding(s)", file=out)
    for info in config.embeddings:
        tag, _, step = info.tensor_name.rpartition(":")
        shape = " x ".join(map(str, info.tensor_shape)) or _tsv_shape(os.path.join(run_dir, info.tensor_path))
        line = f"    {tag or info.tensor_name!r} step {int(step) if step.isdigit() else step}: {shape}"
        if info.metadata_path:
            line += f", metadata {_metadata_columns(os.path.join(run_dir, info.metadata_path))}"
        if info.sprite.image_path:
            width, height = info.sprite.single_image_dim[:2] if len(info.sprite.single_image_dim) >= 2 else ("?", "?")
            line += f", sprite {info.sprite.image_path} ({width}x{height} thumbnails)"
        print(line, file=out)
    return 0


def _tsv_shape(path: str) -> str:
    """ "rows x columns" of a tensor's TSV file (the config need not give the shape)."""
    try:
        with open(path, encoding="utf-8") as handle:
            rows = [line for line in handle if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        return f"tensor file cannot be read ({exc})"
    return f"{len(rows)} x {len(rows[0].split(chr(9))) if rows else 0}"


def _metadata_columns(path: str) -> str:
    """The metadata file's columns as the projector reads them (a header row when there is
    more than one column)."""
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline().rstrip("\n")
    except (OSError, UnicodeDecodeError) as exc:
        return f"(cannot be read: {exc})"
    columns = first.split("\t")
    return f"{len(columns)} columns ({', '.join(columns)})" if len(columns) > 1 else "1 column"


def _scalars(logdir: str) -> tuple[dict[str, Any], int]:
    """Every scalar of the log dir (eventwriter.tables), what was left out reported on
    stderr; and how many entries or records were left out."""
    from eventwriter.tables import scalar_arrays_of

    skipped: list[SkippedEntry] = []
    found = find_event_files(logdir, skipped=skipped)  # FileNotFoundError before any output
    unreadable: list[SkippedEntry] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DamagedRecordWarning)
        columns = scalar_arrays_of(found, skipped=unreadable)
    unread = _report_skipped("export", skipped + unreadable)
    for warning in caught:
        print(f"eventwriter export: {warning.message}", file=sys.stderr)
    return columns, unread + len(caught)


def _export(logdir: str, fmt: str, out: TextIO) -> int:
    columns, left_out = _scalars(logdir)
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(["run", "tag", "step", "wall_time", "value"])
    rows = zip(*(columns[key].tolist() for key in ("run", "tag", "step", "wall_time", "value")))
    for run, tag, step, wall_time, value in rows:
        if writer is not None:
            writer.writerow([run, tag, step, repr(wall_time), repr(value)])
        else:
            out.write(json.dumps(ScalarPoint(run, tag, step, wall_time, value).as_dict()) + "\n")
    return 1 if left_out else 0


def _export_parquet(logdir: str, output: str) -> int:
    """Every scalar into a Parquet file (run and tag dictionary-encoded)."""
    if output == "-":
        print("eventwriter export: --format parquet writes a file: give -o FILE", file=sys.stderr)
        return 2
    try:
        pyarrow = importlib.import_module("pyarrow")
        parquet = importlib.import_module("pyarrow.parquet")
    except ImportError:
        print("eventwriter export: --format parquet needs pyarrow: pip install 'eventwriter[parquet]'", file=sys.stderr)
        return 2
    columns, left_out = _scalars(logdir)

    def names(codes: str, categories: str) -> object:
        return pyarrow.DictionaryArray.from_arrays(
            pyarrow.array(columns[codes], type=pyarrow.int32()),
            pyarrow.array(list(columns[categories]), pyarrow.string()),
        )

    table = pyarrow.table(
        {
            "run": names("_run_code", "_run_names"),
            "tag": names("_tag_code", "_tag_names"),
            "step": columns["step"],
            "wall_time": columns["wall_time"],
            "value": columns["value"],
        }
    )
    parquet.write_table(table, output)
    return 1 if left_out else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eventwriter", description="Inspect, validate and export TensorBoard log dirs."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="list runs, tags, kinds, counts and step ranges")
    inspect.add_argument("logdir")
    validate = commands.add_parser(
        "validate", help="check every record of every event file, and what TensorBoard will show of them"
    )
    validate.add_argument("logdir")
    validate.add_argument(
        "--tensorboard",
        action="store_true",
        help="also tell, per run and tag, what each of TensorBoard's loaders and its projector will drop, "
        "cut or replace (exit status 3 if data will not be shown)",
    )
    validate.add_argument("--json", action="store_true", help="print the results as one JSON document")
    export = commands.add_parser("export", help="write all scalars as CSV, JSON lines or Parquet")
    export.add_argument("logdir")
    export.add_argument("--format", choices=["csv", "jsonl", "parquet"], default="csv")
    export.add_argument("-o", "--output", default="-", help="output file, '-' for stdout (default)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "inspect":
            return _inspect(args.logdir, sys.stdout)
        if args.command == "validate":
            return validate(args.logdir, sys.stdout, tensorboard=args.tensorboard, as_json=args.json)
        if args.format == "parquet":
            return _export_parquet(args.logdir, args.output)
        if args.output == "-":
            return _export(args.logdir, args.format, sys.stdout)
        find_event_files(args.logdir)
        with open(args.output, "w", newline="", encoding="utf-8") as out:
            return _export(args.logdir, args.format, out)
    except BrokenPipeError as exc:  # the reader of our output went away (| head): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(getattr(exc, "status", 0))  # validate's verdict, known before it printed
    except (OSError, ImportError) as exc:
        return _failed(args, str(exc))
    except Exception as exc:  # a remote file system's own errors (no credentials, say)
        if not is_url(args.logdir):
            raise
        return _failed(args, f"{type(exc).__name__}: {exc}")


def _failed(args: argparse.Namespace, message: str) -> int:
    """A usage error, or a log dir that cannot be read: exit status 2, the message on
    stderr (and, for validate --json, as a JSON document too)."""
    print(f"eventwriter {args.command}: {message}", file=sys.stderr)
    if args.command == "validate" and args.json:
        print(json.dumps({"logdir": args.logdir, "status": "error", "exit_status": 2, "error": message}))
    return 2


if __name__ == "__main__":  # python -m eventwriter.cli
    sys.exit(main())
