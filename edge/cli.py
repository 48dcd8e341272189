"""The `specimen-edge` command."""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2

from edge import __version__
from edge.audit.command import add_audit_command
from edge.config import Settings, load_settings
from edge.config_files import ConfigError
from edge.engine_cli import add_engine_commands
from edge.image_files import image_files
from edge.logline import OneLineFormatter

EXIT_ACCEPTED, EXIT_RETAKE, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2, 3

log = logging.getLogger("specimen-edge")


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    # file names may hold newlines and escape sequences: every message stays one line
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])


def _settings(args: argparse.Namespace, overrides: dict[str, Any]) -> Settings:
    return load_settings(args.config, overrides)


def cmd_check(args: argparse.Namespace) -> int:
    from edge.pipeline import FramePipeline
    from edge.progress import CheckProgress
    from edge.verdict import summary_line

    overrides: dict[str, Any] = {}
    if args.profile:
        overrides["profile"] = args.profile
    if args.backend:
        overrides["segmenter"] = {"backend": args.backend}
    settings = _settings(args, overrides)
    files, missing = image_files(args.paths, settings.watch.extensions)
    # the bar is for a person watching; --progress forces it (e.g. under `script` or a CI log)
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    progress = CheckProgress(len(files), sys.stderr, enabled=show_progress)
    for raw in missing:
        print(f"specimen-edge check: {raw}: no such file or folder", file=sys.stderr)
        progress.count("error", ["missing"])
    if not files and not missing:
        print("specimen-edge check: no image files found", file=sys.stderr)
        return EXIT_USAGE
    masks_dir = Path(args.masks) if args.masks else None
    if masks_dir is not None:
        masks_dir.mkdir(parents=True, exist_ok=True)
    pipeline = FramePipeline(settings)
    outcome = {"accept": 0, "retake": 0, "error": len(missing)}
    try:
        with progress:
            for path in files:
                try:
                    judgement = pipeline.judge(path.absolute(), want_class_map=masks_dir is not None)
                except FileNotFoundError:
                    progress.clear()
                    print(f"specimen-edge check: {path}: removed before it could be read", file=sys.stderr)
                    outcome["error"] += 1
                    progress.advance("error", ["removed"])
                    continue
                verdict = judgement.verdict
                outcome[verdict["verdict"]] += 1
                progress.before_output(sys.stdout)
                if args.json:
                    sys.stdout.write(json.dumps(verdict, separators=(",", ":")) + "\n")
                    sys.stdout.flush()
                else:
                    print(summary_line(verdict))
                if masks_dir is not None and judgement.class_map is not None:
                    cv2.imwrite(str(masks_dir / f"{path.stem}.classes.png"), judgement.class_map)
                progress.advance(verdict["verdict"], [r["check"] for r in verdict["reasons"]])
    finally:
        pipeline.close()
    progress.finish()
    if outcome["error"]:
        return EXIT_UNREADABLE
    return EXIT_RETAKE if outcome["retake"] else EXIT_ACCEPTED


def cmd_run(args: argparse.Namespace) -> int:
    from edge.daemon import Daemon

    overrides: dict[str, Any] = {}
    if args.watch:
        overrides.setdefault("watch", {})["folder"] = args.watch
    if args.station:
        overrides["station"] = args.station
    if args.state_dir:
        overrides["state_dir"] = args.state_dir
    if args.mqtt:
        overrides["mqtt"] = {"url": args.mqtt, "enabled": True}
    if args.no_mqtt:
        overrides["mqtt"] = {"enabled": False}
    if args.http:
        overrides["http"] = {"enabled": True, "listen": args.http}
    settings = _settings(args, overrides)
    return Daemon(settings).run_forever()


def cmd_alerts(args: argparse.Namespace) -> int:
    from edge.alerts import follow_alerts

    overrides: dict[str, Any] = {}
    if args.mqtt:
        overrides["mqtt"] = {"url": args.mqtt}
    settings = _settings(args, overrides)
    return follow_alerts(settings, args.station, args.json)


def cmd_report(args: argparse.Namespace) -> int:
    from edge.report import write_report

    overrides: dict[str, Any] = {"state_dir": args.state_dir} if args.state_dir else {}
    state_dir = Path(_settings(args, overrides).state_dir).expanduser()
    try:
        write_report(state_dir, sys.stdout, as_json=args.json)
    except (OSError, sqlite3.Error) as exc:
        print(f"specimen-edge report: cannot read the journal in {state_dir}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_ACCEPTED


def cmd_demo(args: argparse.Namespace) -> int:
    from edge.demo import run_demo

    return run_demo(keep=args.keep)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="specimen-edge", description=__doc__)
    parser.add_argument("--version", action="version", version=f"specimen-edge {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="judge image files or folders once and print their verdicts")
    check.add_argument("--config", help="station configuration (YAML)")
    check.add_argument("--profile", help="profile to judge by (overrides the configuration)")
    check.add_argument("--json", action="store_true", help="one JSON verdict per line on stdout")
    check.add_argument("--masks", metavar="DIR", help="write each frame's class map as DIR/<stem>.classes.png")
    check.add_argument("--backend", choices=["onnxruntime", "tensorrt", "auto"],
                       help="inference backend (overrides segmenter.backend)")
    check.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar and a summary table on stderr (default: when stderr is a terminal)")
    check.add_argument("paths", nargs="+", metavar="PATH")
    check.set_defaults(func=cmd_check)

    run = sub.add_parser("run", help="watch a hot folder and judge every frame as it lands")
    run.add_argument("--config", help="station configuration (YAML); built-in defaults without it")
    run.add_argument("--watch", metavar="DIR", help="hot folder")
    run.add_argument("--station", metavar="NAME", help="station name (MQTT subtree)")
    run.add_argument("--mqtt", metavar="URL", help="broker, mqtt://[user:pass@]host:port or mqtts://...")
    run.add_argument("--no-mqtt", action="store_true", help="run without a broker (verdicts.jsonl only)")
    run.add_argument("--state-dir", metavar="DIR", help="journal, outbox and verdicts.jsonl")
    run.add_argument("--http", metavar="HOST:PORT", help="serve the station screen and /metrics there")
    run.set_defaults(func=cmd_run)

    alerts = sub.add_parser("alerts", help="print retake alerts as they arrive")
    alerts.add_argument("--config", help="station configuration (YAML) for the broker settings")
    alerts.add_argument("--mqtt", metavar="URL", help="broker, mqtt://[user:pass@]host:port or mqtts://...")
    alerts.add_argument("--station", metavar="NAME", help="only this station (default: every station)")
    alerts.add_argument("--json", action="store_true", help="one alert verdict per line on stdout")
    alerts.set_defaults(func=cmd_alerts)

    report = sub.add_parser("report", help="which checks the operators override most (from the journal)")
    report.add_argument("--config", help="station configuration (YAML) naming the state folder")
    report.add_argument("--state-dir", metavar="DIR", help="the station's state folder (journal)")
    report.add_argument("--json", action="store_true", help="one JSON array of checks on stdout")
    report.set_defaults(func=cmd_report)

    demo = sub.add_parser("demo", help="a self-contained demonstration on generated sample frames")
    demo.add_argument("--keep", action="store_true", help="keep the demo's temporary folder")
    demo.set_defaults(func=cmd_demo)

    add_audit_command(sub)
    add_engine_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors already; keep --help at 0
        return int(exc.code or 0)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"specimen-edge: configuration error:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
