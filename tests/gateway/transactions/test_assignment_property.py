"""Property test through the real repositories: whatever is assigned fits and honours every rule."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from berth.domain.matching import (
    Item,
    MatchError,
    MatchingStrategy,
    MatchRequest,
    fits,
    plan_search,
)
from berth.gateway.catalog.repository import CatalogRepository
from berth.gateway.doors.repository import DoorRepository
from berth.gateway.lockers.repository import LockerRepository
from berth.gateway.service import MIGRATIONS
from berth.gateway.site import parse_site
from berth.gateway.transactions.repository import TransactionRepository
from berth.gateway.transactions.schemas import CreateCommand
from berth.kit.clock import utcnow
from berth.storage import migrate
from berth.storage.engine import Database

ATTRS = ["low", "high", "wide"]
dims = st.integers(min_value=2, max_value=40).map(float)


@st.composite
def sites(draw: st.DrawFn) -> dict:
    n_types = draw(st.integers(1, 4))
    types = [{"slug": f"t{i}", "name": f"T{i}", "width": draw(dims), "height": draw(dims),
              "depth": draw(dims)} for i in range(n_types)]
    n_lockers = draw(st.integers(1, 10))
    assoc = {n: {"type": f"t{draw(st.integers(0, n_types - 1))}",
                 "attributes": draw(st.lists(st.sampled_from(ATTRS), unique=True, max_size=2))}
             for n in range(1, n_lockers + 1)}
    return {"attributes": ATTRS, "locker_types": types,
            "bank_types": [{"key": "b", "friendly_name": "B", "associations": assoc}],
            "banks": [{"name": "A", "bank_type": "b",
                       "controller": {"id": "c", "channels": n_lockers}}]}


requests = st.builds(
    MatchRequest,
    preferred_type=st.none() | st.sampled_from(["t0", "t1", "t2", "t3"]),
    preferred_attributes=st.lists(st.sampled_from(ATTRS), unique=True, max_size=2).map(tuple),
    item=st.none() | st.builds(Item, dims, dims, dims),
    allow_fallback=st.booleans(), attributes_required=st.booleans(),
    strategy=st.sampled_from(list(MatchingStrategy)))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(site_data=sites(), reqs=st.lists(requests, min_size=1, max_size=12),
       out=st.sets(st.integers(1, 10)), broken=st.sets(st.integers(1, 10)))
def test_assignments_fit_and_respect_flags(site_data: dict, reqs: list[MatchRequest],
                                           out: set[int], broken: set[int]) -> None:
    site = parse_site(site_data)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'p.db'}")
        try:
            migrate.upgrade(db, MIGRATIONS)
            CatalogRepository(db, site, utcnow).sync_site()
            for locker_id in out & set(site.lockers_by_id):
                LockerRepository(db, utcnow).set_service(locker_id, True, "BROKEN_LOCK", None)
            for locker_id in broken & set(site.lockers_by_id):
                DoorRepository(db, utcnow).set_fault(locker_id, "DOOR_DID_NOT_OPEN", "jammed")
            store = TransactionRepository(db, utcnow)
            usable = set(site.lockers_by_id) - out - broken
            taken: set[int] = set()
            types = {t.type_id: t for t in site.type_specs}
            ids = itertools.count()
            for req in reqs:
                try:
                    tiers = plan_search(req, site.type_specs, site.attribute_bits)
                except MatchError:
                    continue
                (outcome,) = store.create_batch([CreateCommand(f"p{next(ids)}", tuple(tiers),
                                                               "{}")])
                wanted = sum(site.attribute_bits[a] for a in req.preferred_attributes)

                def eligible(lk, req=req, wanted=wanted):  # type: ignore[no-untyped-def]
                    t = types[lk.type_id]
                    return (lk.id in usable and lk.id not in taken
                            and fits(req.item, t, req.strategy)
                            and (not req.attributes_required or lk.attr_mask & wanted == wanted)
                            and (req.preferred_type is None or req.allow_fallback
                                 or t.slug == req.preferred_type))

                candidates = [lk for lk in site.lockers if eligible(lk)]
                if req.preferred_type is not None:
                    pref = site.type_specs[site.type_ids[req.preferred_type] - 1]
                    candidates = [lk for lk in candidates
                                  if types[lk.type_id].size_key >= pref.size_key]
                if outcome.kind == "no_locker":
                    assert candidates == []
                    continue
                assert outcome.kind == "created" and outcome.record is not None
                got = site.lockers_by_id[outcome.record.locker_id]
                assert got in candidates
                # smallest fitting type among the candidates
                assert types[got.type_id].size_key == min(types[c.type_id].size_key
                                                          for c in candidates)
                taken.add(got.id)
        finally:
            db.dispose()
