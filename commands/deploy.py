"""``triage deploy build | up | status | down | rollout | sign | keygen``: regional bundles and the local fleet.

The command reads flags and prints; what happens to bundles is ``triage.deploy`` and what happens
to processes is ``commands.fleet``, so each can be tested without a parser.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from commands._console import Subcommands, err
from commands.tables import print_table

if TYPE_CHECKING:
    import argparse

    from commands.fleet import ReplicaStatus
    from triage.config import DeployConfig
    from triage.deploy.regions import Fleet

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    """Add deploy to the ``triage`` parser."""
    p = sub.add_parser("deploy", help="regional bundles, a local fleet, rolling updates")
    p.add_argument("action", choices=["build", "up", "status", "down", "rollout", "sign", "keygen"])
    p.add_argument("--file", default=None, help="regions file (default [deploy] regions: deploy/regions.toml)")
    p.add_argument("--region", default=None, help="build/rollout: one region")
    p.add_argument("--regions", default=None, help="up: comma-separated regions (default: all)")
    p.add_argument("--bundle", default=None, help="rollout: the new bundle; sign: the bundle to sign as a new release")
    p.add_argument("--key-id", default="release", help="keygen: the new key's name")
    p.add_argument("--gate-timeout", type=float, default=60.0, help="rollout: seconds a replica has to pass")
    p.add_argument("--model-dir", default=None, help="up: cloud model folder (default: the cached build)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_deploy)


def _cmd_deploy(args: argparse.Namespace) -> int:
    from commands import fleet as fleet_ops
    from triage.config import load_config
    from triage.deploy.regions import load_regions

    config = load_config().deploy
    if args.action == "keygen":
        return _keygen(args.key_id)
    fleet = load_regions(Path(args.file or config.regions))
    if args.action == "sign":
        return _sign(args, fleet, config)
    if args.action == "build":
        return _build(args, fleet, config)
    if args.action == "rollout":
        return _rollout(args, fleet, config)
    if args.action == "down":
        fleet_ops.down(fleet)
        err.print("fleet stopped")
        return 0
    if args.action == "up":
        names = args.regions.split(",") if args.regions else sorted(fleet.regions)
        statuses = fleet_ops.up(fleet, names, config.signing_key, args.model_dir or "")
    else:
        statuses = fleet_ops.status(fleet)
    _print_statuses(statuses, args.json)
    return 0 if all(st.ready for st in statuses) else 1


def _build(args: argparse.Namespace, fleet: Fleet, config: DeployConfig) -> int:
    """One signed bundle per region (or the one ``--region``), each restricted to its languages."""
    from commands.fleet import signing_key
    from triage.deploy.bundles import build_region_bundle, bundle_size

    key, _ = signing_key(fleet, config.signing_key)
    regions = [args.region] if args.region else sorted(fleet.regions)
    for name in regions:
        bundle = build_region_bundle(fleet, name, key)
        err.print(f"[green]{name}[/green]: {bundle} ({bundle_size(bundle) / 1e6:.2f} MB, "
                  f"languages {', '.join(fleet.region(name).languages)}, signed by {key.key_id} ({key.alg}))")
    return 0


def _sign(args: argparse.Namespace, fleet: Fleet, config: DeployConfig) -> int:
    """A new release of an existing build: how an older bundle is rolled back to on purpose."""
    from commands.fleet import signing_key
    from triage.bundle.signing import sign_bundle

    if not args.bundle:
        raise ValueError("sign needs --bundle PATH")
    key, _ = signing_key(fleet, config.signing_key)
    signature = sign_bundle(Path(args.bundle), key)
    err.print(f"[green]signed[/green] {args.bundle} as release {signature.release} by {key.key_id} ({key.alg})")
    return 0


def _keygen(key_id: str) -> int:
    """An Ed25519 pair: the private line for the signer's [deploy] signing_key, the public one for
    every edge's [edge] bundle_keys."""
    from triage.bundle.signing import generate_ed25519

    private, public = generate_ed25519(key_id)
    print(f"# [deploy] signing_key (the signer only; keep it secret)\nTRIAGE_DEPLOY__SIGNING_KEY='{private}'")
    print(f"# [edge] bundle_keys (every edge; public)\nTRIAGE_EDGE__BUNDLE_KEYS='{public}'")
    return 0


def _rollout(args: argparse.Namespace, fleet: Fleet, config: DeployConfig) -> int:
    """The result as JSON on stdout (for scripts), the verdict on stderr; 1 when a gate failed."""
    import msgspec

    from commands.fleet import rollout, signing_key

    if not (args.region and args.bundle):
        raise ValueError("rollout needs --region and --bundle")
    key, _ = signing_key(fleet, config.signing_key)
    result = rollout(fleet, args.region, Path(args.bundle), key, gate_timeout_s=args.gate_timeout)
    print(msgspec.json.format(msgspec.json.encode(result)).decode())
    if result.failed:
        err.print(f"[red]rollout stopped at {result.failed}[/red]: {result.reason} "
                  f"({'rolled back' if result.rolled_back else 'ROLLBACK FAILED: check the replica'})")
        return 1
    err.print(f"[green]rolled out[/green] to {', '.join(result.updated)}")
    return 0


def _print_statuses(statuses: list[ReplicaStatus], as_json: bool) -> None:
    if as_json:
        import msgspec

        print(msgspec.json.format(msgspec.json.encode(statuses)).decode())
        return
    print_table("fleet", ("name", "kind", "region", "address", "pid", "restarts", "ready", "build"),
                ((st.name, st.kind, st.region, st.address, str(st.pid), str(st.restarts), "yes" if st.ready else "NO",
                  st.build_key[:12]) for st in statuses))
