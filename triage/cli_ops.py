"""The operator commands of ``triage``: deploy, distill, replay and report (kept apart from cli.py,
which holds the parser and the everyday commands)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    import argparse

__all__ = ["cmd_deploy", "cmd_distill", "cmd_replay", "cmd_report"]

_err = Console(stderr=True)

def _print_cost_report(report: object, as_json: bool, title: str) -> None:
    import msgspec

    data = msgspec.to_builtins(report)
    if as_json:
        print(json.dumps(data, indent=2))
        return
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in data.items():
        table.add_row(key, json.dumps(value))
    Console().print(table)


def cmd_report(args: argparse.Namespace) -> int:
    from edge_node.report import report_from_ledger
    from edge_node.store import EdgeStore
    from triage.config import load_config

    async def run() -> object:
        store = EdgeStore(args.store)
        await store.open()
        try:
            return report_from_ledger(await store.ledger(), load_config().cost)
        finally:
            await store.close()

    _print_cost_report(asyncio.run(run()), args.json, f"cost report from {args.store}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from edge_node.replay import read_traffic, replay
    from triage.config import load_config

    traffic = read_traffic(Path(args.data), args.turns)
    if args.limit:
        traffic = traffic[: args.limit]
    config = load_config()
    report, unanswered = asyncio.run(replay(args.url, traffic, config.cost, args.storefront,
                                            args.concurrency, args.timeout))
    if not args.then_distill:
        _print_cost_report(report, args.json, f"triage replay {args.data} ({len(traffic)} conversations)")
    else:
        import msgspec

        from triage.catalog import load_catalog
        from triage.learning.loop import distill_and_reload, resolve_from_labels

        if not (args.cloud and args.catalog and args.admin_token):
            raise ValueError("--then-distill needs --cloud, --catalog and --admin-token")
        token = args.cloud_token or config.edge.cloud_token
        if args.agent_from_labels:
            labels = {row.text: row.label for rows in traffic for row in rows if row.label}
            answers = load_catalog(Path(args.answers_from or args.catalog))
            count = resolve_from_labels(args.cloud, token, args.storefront, labels, answers)
            _err.print(f"resolved {count} escalations from the traffic's labels")
        edge_http = args.url.replace("ws://", "http://").replace("wss://", "https://").rsplit("/v1/", 1)[0]
        changes = distill_and_reload(args.cloud, token, Path(args.catalog), Path(args.bundle_out), edge_http,
                                     args.admin_token)
        _err.print(f"distilled {sum(c.kind != 'skipped' for c in changes)} changes; edge reloaded")
        second, unanswered_2 = asyncio.run(replay(args.url, traffic, config.cost, args.storefront,
                                                  args.concurrency, args.timeout))
        unanswered += unanswered_2
        both = {"pass_1": msgspec.to_builtins(report), "pass_2": msgspec.to_builtins(second)}
        if args.json:
            print(json.dumps(both, indent=2))
        else:
            from rich.table import Table

            table = Table(title=f"triage replay {args.data}: two passes with a distill step between")
            for col in ("pass", "edge share", "accuracy", "cost / 1k conv.", "all-cloud / 1k conv."):
                table.add_column(col)
            for name, r in both.items():
                table.add_row(name, str(r["edge_share"]), str(r["accuracy"]), str(r["cost_per_1k_conversations"]),
                              str(r["all_cloud_cost_per_1k_conversations"]))
            Console().print(table)
    if unanswered:
        _err.print(f"[red]{unanswered} messages got no final answer within {args.timeout} s[/red]")
        return 1
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    import msgspec

    from triage.config import load_config
    from triage.deploy import fleet as fleet_ops
    from triage.deploy.regions import load_regions

    config = load_config().deploy
    fleet = load_regions(Path(args.file or config.regions))
    if args.action == "build":
        from triage.deploy.bundles import build_region_bundle, bundle_size

        key_id, key, _ = fleet_ops.signing_key(fleet, config.signing_key)
        regions = [args.region] if args.region else sorted(fleet.regions)
        for name in regions:
            bundle = build_region_bundle(fleet, name, key_id, key)
            _err.print(f"[green]{name}[/green]: {bundle} ({bundle_size(bundle) / 1e6:.2f} MB, "
                       f"languages {', '.join(fleet.region(name).languages)}, signed by {key_id})")
        return 0
    if args.action == "up":
        names = args.regions.split(",") if args.regions else sorted(fleet.regions)
        statuses = fleet_ops.up(fleet, names, config.signing_key, args.model_dir or "")
    elif args.action == "status":
        statuses = fleet_ops.status(fleet)
    elif args.action == "down":
        fleet_ops.down(fleet)
        _err.print("fleet stopped")
        return 0
    else:
        if not (args.region and args.bundle):
            raise ValueError("rollout needs --region and --bundle")
        result = fleet_ops.rollout(fleet, args.region, Path(args.bundle), gate_timeout_s=args.gate_timeout)
        print(msgspec.json.format(msgspec.json.encode(result)).decode())
        if result.failed:
            _err.print(f"[red]rollout stopped at {result.failed}[/red]: {result.reason} "
                       f"({'rolled back' if result.rolled_back else 'ROLLBACK FAILED: check the replica'})")
            return 1
        _err.print(f"[green]rolled out[/green] to {', '.join(result.updated)}")
        return 0
    if args.json:
        print(msgspec.json.format(msgspec.json.encode(statuses)).decode())
    else:
        from rich.table import Table

        table = Table(title="fleet")
        for col in ("name", "kind", "region", "address", "pid", "restarts", "ready", "build"):
            table.add_column(col)
        for st in statuses:
            table.add_row(st.name, st.kind, st.region, st.address, str(st.pid), str(st.restarts),
                          "yes" if st.ready else "NO", st.build_key[:12])
        Console().print(table)
    return 0 if all(st.ready for st in statuses) else 1


def cmd_distill(args: argparse.Namespace) -> int:
    from triage.catalog import load_catalog
    from triage.config import load_config
    from triage.learning.distill import apply_to_folder, catalog_diff, fetch_resolutions, propose

    folder = Path(args.catalog)
    catalog = load_catalog(folder)
    token = args.token or load_config().edge.cloud_token
    resolutions = fetch_resolutions(getattr(args, "from"), token, args.tenant or catalog.storefront.id)
    after, changes = propose(catalog, resolutions)
    for change in changes:
        _err.print(f"{change.kind:8} {change.intent:24} {change.lang}  {change.text[:70]!r}  ({change.source})")
    learned = [c for c in changes if c.kind != "skipped"]
    if not learned:
        _err.print("nothing to learn")
        return 0
    print(catalog_diff(folder, after), end="")
    if not args.apply:
        _err.print(f"{len(learned)} changes proposed; review the diff, then run again with --apply")
        return 0
    apply_to_folder(after, folder)
    load_catalog(folder)  # the written catalog must load, or nothing is claimed
    _err.print(f"[green]applied[/green] {len(learned)} changes to {folder}")
    if args.out:
        from triage.bundle.build import build_bundle

        bundle = build_bundle(folder, Path(args.out))
        signing = load_config().deploy.signing_key
        if signing:  # fleets that require signed bundles take it as is
            from triage.bundle.signing import parse_keys, sign_bundle

            (key_id, key), = parse_keys(signing).items()
            sign_bundle(bundle, key_id, key)
        _err.print(f"[green]bundle ready[/green] at {bundle}{' (signed)' if signing else ''}: roll it out with "
                   "`triage deploy rollout` or point `triage edge --bundle` at it")
    return 0

