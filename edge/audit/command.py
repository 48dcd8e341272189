"""`specimen-edge audit`: the command line. Ray and pyarrow are imported only when it runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_DONE, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXTRA_MISSING = ("specimen-edge audit: needs Ray and pyarrow, which the station does not install; "
                 "install the extra with: pip install 'specimen-edge[audit]'")


def add_audit_command(subparsers: Any) -> None:
    audit = subparsers.add_parser(
        "audit", help="judge a whole collection of existing frames on Ray, into Parquet and a summary",
        description="Judge every frame under the sources with the same pipeline as `check`, on a local Ray or "
                    "a Ray cluster; one Parquet row per frame in DIR, then DIR/summary.md and DIR/summary.html. "
                    "Exit 0 when every listed frame has its row (whatever the verdicts), 1 when Ray or its workers "
                    "could not be started, 2 on a usage or configuration error, 130 when interrupted (--resume "
                    "goes on from there).")
    audit.add_argument("sources", nargs="*", metavar="SOURCE",
                       help="a folder (read recursively), a text file listing paths, a glob, or an image file")
    audit.add_argument("--out", metavar="DIR", required=True, help="results folder (Parquet files and the summary)")
    audit.add_argument("--ray", metavar="ADDRESS",
                       help="join a running cluster: 'auto', HOST:PORT or ray://HOST:10001 (default: a local Ray)")
    audit.add_argument("--workers", type=int, metavar="N",
                       help="worker processes, each with its own segmenter (default: one per CPU of the cluster)")
    audit.add_argument("--batch-size", type=int, default=16, metavar="N",
                       help="frames per call to a worker and per Parquet part (default: 16)")
    audit.add_argument("--profile", help="profile to judge by (overrides the configuration)")
    audit.add_argument("--config", help="station configuration (YAML)")
    audit.add_argument("--backend", choices=["onnxruntime", "tensorrt", "auto"],
                       help="inference backend (overrides segmenter.backend)")
    audit.add_argument("--resume", action="store_true",
                       help="DIR holds an earlier run: judge only frames without a row (new or changed files)")
    audit.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar and a table of verdicts on stderr (default: when stderr is a terminal)")
    audit.add_argument("--show", metavar="PATH", action="append",
                       help="print the stored verdict of PATH (as `check --json` does) from DIR and exit")
    audit.set_defaults(func=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    from edge.config import load_settings

    try:
        from edge.audit.sources import SourceError, expand_sources
        from edge.audit.store import ResultStore
    except ImportError as exc:
        return _missing_extra(exc)
    out = Path(args.out)
    if args.show:
        return _show(ResultStore(out), args.show)
    if not args.sources:
        print("specimen-edge audit: give at least one SOURCE (or --show PATH)", file=sys.stderr)
        return EXIT_USAGE
    if args.workers is not None and args.workers < 1 or args.batch_size < 1:
        print("specimen-edge audit: --workers and --batch-size must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    overrides: dict[str, Any] = {}
    if args.profile:
        overrides["profile"] = args.profile
    if args.backend:
        overrides["segmenter"] = {"backend": args.backend}
    settings = load_settings(args.config, overrides)
    if ResultStore(out).has_results() and not args.resume:
        print(f"specimen-edge audit: {out} already holds results; add --resume to judge only what is new or "
              "changed, or choose another folder", file=sys.stderr)
        return EXIT_USAGE
    try:
        frames = expand_sources(args.sources, settings.watch)
    except SourceError as exc:
        print(f"specimen-edge audit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        from edge.audit.runner import WorkersFailed, run_audit
    except ImportError as exc:
        return _missing_extra(exc)
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    try:
        run = run_audit(frames, settings, out, address=args.ray, workers=args.workers, resume=args.resume,
                        batch_size=args.batch_size, show_progress=show_progress)
    except (ConnectionError, TimeoutError) as exc:
        print(f"specimen-edge audit: cannot reach Ray at {args.ray or 'a local instance'}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except WorkersFailed as exc:
        print(f"specimen-edge audit: {exc}\nwhat was judged is kept in {out}; --resume goes on from there",
              file=sys.stderr)
        return EXIT_FAILED
    if run.interrupted:
        print(f"specimen-edge audit: interrupted after {run.judged} frames; run again with --resume to judge "
              "the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"specimen-edge audit: {run.judged} frames judged in {run.elapsed_s:.1f} s on {run.workers} workers; "
          f"summary in {out / 'summary.md'} and {out / 'summary.html'}", file=sys.stderr)
    return EXIT_DONE


def _show(store: Any, paths: list[str]) -> int:
    missing = 0
    for raw in paths:
        verdict = store.verdict_json(str(Path(raw).absolute()))
        if verdict is None:
            print(f"specimen-edge audit: {raw}: no row in {store.folder}", file=sys.stderr)
            missing += 1
        else:
            sys.stdout.write(verdict + "\n")
    return EXIT_USAGE if missing else EXIT_DONE


def _missing_extra(exc: ImportError) -> int:
    if (exc.name or "").split(".")[0] not in ("ray", "pyarrow"):
        raise exc
    print(EXTRA_MISSING, file=sys.stderr)
    return EXIT_USAGE
