"""``triage distill | replay``: the learning loop, from resolved escalations back to the edge.

``distill`` turns what agents resolved in the cloud into catalog changes and a new bundle;
``replay`` plays traffic through a running stack and prices it, and with ``--then-distill``
measures one turn of the loop: play, distill, reload the edge, play the same traffic again.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

from commands._console import Subcommands, err
from commands.tables import print_report, print_table

if TYPE_CHECKING:
    import argparse

    from commands.clients.replay import ReplayRow
    from edge_node.report import CostReport
    from triage.config import CloudConfig, Config, CostConfig

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    """Add distill and replay to the ``triage`` parser."""
    p = sub.add_parser("distill", help="turn resolved escalations into catalog changes and a new bundle")
    p.add_argument("--from", required=True, help="cloud core host:port")
    p.add_argument("--catalog", required=True)
    p.add_argument("--tenant", default=None, help="default: the catalog's storefront id")
    p.add_argument("--token", default=None, help="a cloud admin token (default: the first of [cloud] admin_tokens)")
    p.add_argument("--apply", action="store_true", help="write the changes (default: print the diff only)")
    p.add_argument("--out", default=None, help="with --apply: build the new bundle here")
    p.set_defaults(run=_cmd_distill)

    p = sub.add_parser("replay", help="drive a running stack with a traffic file and report cost and latency")
    p.add_argument("--url", default="ws://127.0.0.1:8080/v1/chat")
    p.add_argument("--data", required=True, help="JSONL rows {text[, conversation]}")
    p.add_argument("--turns", type=int, default=3, help="messages per conversation when rows carry no conversation")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--limit", type=int, default=0, help="play only the first N conversations")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one final answer")
    p.add_argument("--storefront", default="demo")
    p.add_argument("--json", action="store_true")
    p.add_argument("--then-distill", action="store_true",
                   help="after the first pass: distill resolutions into --catalog, reload the edge, replay again")
    p.add_argument("--cloud", default=None, help="--then-distill: cloud core host:port")
    p.add_argument("--cloud-token", default=None,
                   help="--then-distill: a cloud admin token (default: the first of [cloud] admin_tokens)")
    p.add_argument("--catalog", default=None, help="--then-distill: the catalog folder to distill into")
    p.add_argument("--bundle-out", default="var/bundle-distilled", help="--then-distill: where the new bundle goes")
    p.add_argument("--admin-token", default=None, help="--then-distill: the edge's [edge] admin_token")
    p.add_argument("--agent-from-labels", action="store_true",
                   help="--then-distill: resolve open escalations with the traffic's labels (measurement runs)")
    p.add_argument("--answers-from", default=None, help="catalog with the shop's written answers (default --catalog)")
    p.set_defaults(run=_cmd_replay)


def _cmd_distill(args: argparse.Namespace) -> int:
    from triage.catalog import load_catalog
    from triage.config import load_config
    from triage.learning.distill import apply_to_folder, catalog_diff, fetch_resolutions, propose

    folder = Path(args.catalog)
    catalog = load_catalog(folder)
    token = args.token or _admin_token(load_config().cloud)
    resolutions = fetch_resolutions(getattr(args, "from"), token, args.tenant or catalog.storefront.id)
    after, changes = propose(catalog, resolutions)
    for change in changes:
        err.print(f"{change.kind:8} {change.intent:24} {change.lang}  {change.text[:70]!r}  ({change.source})")
    learned = [c for c in changes if c.kind != "skipped"]
    if not learned:
        err.print("nothing to learn")
        return 0
    print(catalog_diff(folder, after), end="")
    if not args.apply:
        err.print(f"{len(learned)} changes proposed; review the diff, then run again with --apply")
        return 0
    apply_to_folder(after, folder)
    load_catalog(folder)  # the written catalog must load, or nothing is claimed
    err.print(f"[green]applied[/green] {len(learned)} changes to {folder}")
    if args.out:
        _build_learned_bundle(folder, Path(args.out))
    return 0


def _build_learned_bundle(folder: Path, out: Path) -> None:
    """The bundle of the changed catalog, signed when the fleet signs, so it can be rolled out as is."""
    from triage.bundle.build import build_bundle
    from triage.config import load_config

    bundle = build_bundle(folder, out)
    signing = load_config().deploy.signing_key
    if signing:
        from triage.bundle.signing import parse_signing_key, sign_bundle

        sign_bundle(bundle, parse_signing_key(signing))
    err.print(f"[green]bundle ready[/green] at {bundle}{' (signed)' if signing else ''}: roll it out with "
              "`triage deploy rollout` or point `triage edge --bundle` at it")


def _cmd_replay(args: argparse.Namespace) -> int:
    from commands.clients.replay import read_traffic
    from triage.config import load_config

    traffic = read_traffic(Path(args.data), args.turns)
    if args.limit:
        traffic = traffic[: args.limit]
    config = load_config()
    report, unanswered = _play(args, traffic, config.cost)
    if not args.then_distill:
        print_report(report, args.json, f"triage replay {args.data} ({len(traffic)} conversations)")
    else:
        _distill_step(args, traffic, config)
        second, unanswered_2 = _play(args, traffic, config.cost)
        unanswered += unanswered_2
        _print_passes(args, report, second)
    if unanswered:
        err.print(f"[red]{unanswered} messages got no final answer within {args.timeout} s[/red]")
        return 1
    return 0


def _play(args: argparse.Namespace, traffic: list[list[ReplayRow]], cost: CostConfig) -> tuple[CostReport, int]:
    """One pass of the traffic: the cost report and how many messages went unanswered."""
    from commands.clients.replay import replay

    return asyncio.run(replay(args.url, traffic, cost, args.storefront, args.concurrency, args.timeout))


def _distill_step(args: argparse.Namespace, traffic: list[list[ReplayRow]], config: Config) -> None:
    """Between the passes: optionally resolve escalations from the labels, then distill and hot-reload the edge."""
    from commands.clients.replay import edge_http_base
    from triage.catalog import load_catalog
    from triage.learning.loop import distill_and_reload, resolve_from_labels

    if not (args.cloud and args.catalog and args.admin_token):
        raise ValueError("--then-distill needs --cloud, --catalog and --admin-token")
    token = args.cloud_token or _admin_token(config.cloud)
    if args.agent_from_labels:
        labels = {row.text: row.label for rows in traffic for row in rows if row.label}
        answers = load_catalog(Path(args.answers_from or args.catalog))
        count = resolve_from_labels(args.cloud, token, args.storefront, labels, answers)
        err.print(f"resolved {count} escalations from the traffic's labels")
    changes = distill_and_reload(args.cloud, token, Path(args.catalog), Path(args.bundle_out), edge_http_base(args.url),
                                 args.admin_token)
    err.print(f"distilled {sum(c.kind != 'skipped' for c in changes)} changes; edge reloaded")


def _print_passes(args: argparse.Namespace, first: CostReport, second: CostReport) -> None:
    """The two passes side by side: what one distill step bought in edge share, accuracy and cost."""
    import msgspec

    both = {"pass_1": msgspec.to_builtins(first), "pass_2": msgspec.to_builtins(second)}
    if args.json:
        print(json.dumps(both, indent=2))
        return
    print_table(f"triage replay {args.data}: two passes with a distill step between",
                ("pass", "edge share", "accuracy", "cost / 1k conv.", "all-cloud / 1k conv."),
                ((name, str(r["edge_share"]), str(r["accuracy"]), str(r["cost_per_1k_conversations"]),
                  str(r["all_cloud_cost_per_1k_conversations"])) for name, r in both.items()))


def _admin_token(cloud: CloudConfig) -> str:
    """Resolutions and the escalation inbox need an admin token: an edge's service token is refused there."""
    tokens = [token for token, credential in cloud.credentials().items() if credential.role == "admin"]
    if not tokens:
        raise ValueError("listing and resolving escalations needs a cloud admin token: pass --token or set "
                         "[cloud] admin_tokens (TRIAGE_CLOUD__ADMIN_TOKENS)")
    return tokens[0]
