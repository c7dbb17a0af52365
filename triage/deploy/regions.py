"""``deploy/regions.toml``: regions, their languages, replicas, ports, cloud endpoints and channel."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import msgspec

from triage.config import is_postgres_url

__all__ = ["CloudPool", "Fleet", "FleetConfig", "Region", "RegionsError", "load_regions"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


class RegionsError(ValueError):
    """The regions file is invalid; the message names the region, the field and the fix."""


class Region(msgspec.Struct, forbid_unknown_fields=True):
    languages: list[str]
    """ISO 639-1 codes served by this region; its bundle holds only these."""
    replicas: int = 1
    host: str = "127.0.0.1"
    base_port: int = 8100
    """Replica ``i`` listens on ``base_port + i``."""
    cloud: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1:50051"])
    """Cloud core endpoints (``host:port``); the first is used, the rest are fallbacks for operators."""
    tls_ca: str = ""
    channel: Literal["stable", "canary"] = "stable"

    def ports(self) -> list[int]:
        return [self.base_port + i for i in range(self.replicas)]


class CloudPool(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 50051
    replicas: int = 1
    memory: str = "sqlite:///var/memory.db"
    tls_cert: str = ""
    tls_key: str = ""


class FleetConfig(msgspec.Struct, forbid_unknown_fields=True):
    catalog: str = "intents/storefront"
    bundle_dir: str = "var/bundles"
    state_dir: str = "var/fleet"


class Fleet(msgspec.Struct, forbid_unknown_fields=True):
    regions: dict[str, Region]
    fleet: FleetConfig = msgspec.field(default_factory=FleetConfig)
    cloud: CloudPool = msgspec.field(default_factory=CloudPool)

    def region(self, name: str) -> Region:
        if name not in self.regions:
            raise RegionsError(f"unknown region {name!r}; regions.toml defines: {', '.join(sorted(self.regions))}")
        return self.regions[name]


def _validate(fleet: Fleet, path: Path) -> None:
    taken: dict[int, str] = {}
    for extra in range(fleet.cloud.replicas):
        taken[fleet.cloud.port + extra] = "cloud"
    if fleet.cloud.replicas > 1 and not is_postgres_url(fleet.cloud.memory):
        raise RegionsError(f"{path}: [cloud] replicas = {fleet.cloud.replicas} needs a postgresql:// memory URL "
                           "(SQLite is for one replica)")
    for name, region in fleet.regions.items():
        where = f"{path}: [regions.{name}]"
        if not _NAME.match(name):
            raise RegionsError(f"{where}: region names are lower-case letters, digits and dashes (e.g. eu-west)")
        if not region.languages:
            raise RegionsError(f"{where}.languages is empty: list the ISO 639-1 codes this region serves")
        if any(not re.fullmatch(r"[a-z]{2}", lang) for lang in region.languages):
            raise RegionsError(f"{where}.languages: use two-letter ISO 639-1 codes, got {region.languages}")
        if not 1 <= region.replicas <= 64:
            raise RegionsError(f"{where}.replicas = {region.replicas}: use 1 to 64")
        if not region.cloud:
            raise RegionsError(f"{where}.cloud is empty: give at least one cloud core host:port")
        for endpoint in region.cloud:
            if not re.fullmatch(r"[\w.-]+:\d{1,5}", endpoint):
                raise RegionsError(f"{where}.cloud: {endpoint!r} is not host:port")
        for port in region.ports():
            if not 1024 <= port <= 65535:
                raise RegionsError(f"{where}.base_port: port {port} is outside 1024-65535")
            if port in taken:
                raise RegionsError(f"{where}: port {port} is also used by {taken[port]}; move base_port")
            taken[port] = f"region {name}"


def load_regions(path: Path) -> Fleet:
    path = Path(path)
    try:
        fleet = msgspec.toml.decode(path.read_bytes(), type=Fleet)
    except FileNotFoundError as exc:
        raise RegionsError(f"{path} not found: copy deploy/regions.toml and edit it") from exc
    except msgspec.ValidationError as exc:
        raise RegionsError(f"{path}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise RegionsError(f"{path}: not valid TOML ({exc})") from exc
    _validate(fleet, path)
    return fleet
