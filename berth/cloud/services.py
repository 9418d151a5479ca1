"""Every cloud domain service over one shared context: what the app, the CLI, seeding, the stack
and the tests hold (``build_service`` in ``app.py`` makes one)."""

from __future__ import annotations

from dataclasses import dataclass, field

from berth.cloud.auth.service import AuthService
from berth.cloud.console.service import ConsoleService
from berth.cloud.context import CloudContext
from berth.cloud.events.service import EventsService
from berth.cloud.fleet.service import FleetPolicy, FleetService
from berth.cloud.locations.service import LocationsService
from berth.cloud.lockers.service import LockersService
from berth.cloud.partners.service import PartnersService
from berth.cloud.reservations.service import ReservationsService
from berth.cloud.tokens.service import TokensService
from berth.cloud.tower_sync import outcomes
from berth.cloud.tower_sync.service import TowerSyncService
from berth.cloud.towers.service import TowersService
from berth.cloud.webhooks.policy import WebhookPolicy
from berth.cloud.webhooks.service import WebhooksService
from berth.events.bus import EventBus
from berth.storage import Database


@dataclass
class CloudServices:
    ctx: CloudContext
    webhook_policy: WebhookPolicy
    fleet_policy: FleetPolicy
    auth: AuthService = field(init=False)
    partners: PartnersService = field(init=False)
    towers: TowersService = field(init=False)
    lockers: LockersService = field(init=False)
    reservations: ReservationsService = field(init=False)
    tokens: TokensService = field(init=False)
    tower_sync: TowerSyncService = field(init=False)
    events: EventsService = field(init=False)
    locations: LocationsService = field(init=False)
    webhooks: WebhooksService = field(init=False)
    fleet: FleetService = field(init=False)
    console: ConsoleService = field(init=False)

    def __post_init__(self) -> None:
        self.auth = AuthService(self.ctx)
        self.partners = PartnersService(self.ctx)
        self.towers = TowersService(self.ctx)
        self.lockers = LockersService(self.ctx)
        self.reservations = ReservationsService(self.ctx)
        self.tokens = TokensService(self.ctx)
        self.tower_sync = TowerSyncService(self.ctx)
        self.events = EventsService(self.ctx)
        self.locations = LocationsService(self.ctx)
        self.webhooks = WebhooksService(self.ctx, self.webhook_policy)
        self.fleet = FleetService(self.ctx, self.fleet_policy, self.tower_sync)
        self.console = ConsoleService(self.ctx, self.partners, self.webhooks)

    def sweep(self) -> None:
        """What the clock does: expiries, parcels not collected in time, silent towers."""
        self.lockers.sweep()
        self.lockers.sweep_overdue()
        outcomes.sweep_offline(self.ctx)

    def ping(self) -> bool:
        """Whether the database answers now (the readiness probe)."""
        return self.ctx.db.ping()

    @property
    def db(self) -> Database:
        return self.ctx.db

    @property
    def bus(self) -> EventBus:
        return self.ctx.bus
