"""Locations through the API: operators create them and place towers; a partner sees only the
locations of its towers, searches them by area and distance, and asks what is free and fits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from berth.cli.main import app as cli
from berth.cloud.locations import repository as repo
from berth.domain.geo import bounding_box
from berth.kit.settings import get_settings
from tests.cloud.conftest import Cloud, make_cloud

ADMIN = "/api/v1/admin/locations"
API = "/api/v1/locations"
HAUPTBAHNHOF = (52.5251, 13.3694)


def op(cloud: Cloud) -> dict[str, str]:
    return cloud.headers("operator", "operator")


def new_location(cloud: Cloud, **fields: Any) -> dict[str, Any]:
    body = {"name": "Somewhere", "latitude": 48.1372, "longitude": 11.5756,
            "timezone": "Europe/Berlin", **fields}
    r = cloud.http.post(ADMIN, json=body, headers=op(cloud))
    assert r.status_code == 201, r.text
    return r.json()


def test_operator_creates_a_location_with_address_hours_and_zone(cloud: Cloud) -> None:
    hours = {"monday": [{"open": "08:00", "close": "12:00"}, {"open": "13:00", "close": "24:00"}]}
    loc = new_location(cloud, address={"street": "Marienplatz 1", "postal_code": "80331",
                                       "city": "München", "country": "DE"},
                       opening_hours=hours)
    assert loc["address"]["city"] == "München"
    assert loc["opening_hours"]["monday"][1] == {"open": "13:00", "close": "24:00"}
    assert loc["opening_hours"]["sunday"] == []
    listed = cloud.http.get(ADMIN, headers=op(cloud)).json()
    assert loc in listed and len(listed) == 5  # the demo city's four, and this one


@pytest.mark.parametrize("fields", [
    {"timezone": "Mars/Olympus"},
    {"timezone": "../etc/passwd"},
    {"latitude": 91},
    {"longitude": -180.5},
    {"opening_hours": {"monday": [{"open": "20:00", "close": "08:00"}]}},
    {"opening_hours": {"monday": [{"open": "8:00", "close": "12:00"}]}},
    {"opening_hours": {"funday": []}},
])
def test_bad_locations_are_refused(cloud: Cloud, fields: dict[str, Any]) -> None:
    body = {"name": "x", "latitude": 1.0, "longitude": 1.0, "timezone": "UTC", **fields}
    r = cloud.http.post(ADMIN, json=body, headers=op(cloud))
    assert r.status_code == 422, r.text


def test_only_operators_manage_locations(cloud: Cloud) -> None:
    body = {"name": "x", "latitude": 1.0, "longitude": 1.0, "timezone": "UTC"}
    assert cloud.http.post(ADMIN, json=body, headers=cloud.headers()).status_code == 403


def test_a_tower_stands_in_one_location_at_a_time(cloud: Cloud) -> None:
    first, second = cloud.seed["location_ids"][:2]
    assert cloud.service.locations.tower_ids(first) == [cloud.tower_id]
    r = cloud.http.put(f"{ADMIN}/{second}/towers/{cloud.tower_id}", headers=op(cloud))
    assert r.status_code == 204
    assert cloud.service.locations.tower_ids(first) == []
    assert cloud.service.locations.tower_ids(second) == [cloud.tower_id]
    missing = cloud.http.put(f"{ADMIN}/999/towers/{cloud.tower_id}", headers=op(cloud))
    assert missing.json()["code"] == "LOCATION_NOT_FOUND"
    no_tower = cloud.http.put(f"{ADMIN}/{second}/towers/{'0' * 16}", headers=op(cloud))
    assert no_tower.json()["code"] == "TOWER_NOT_FOUND"


def test_partners_see_only_locations_of_their_towers(cloud: Cloud) -> None:
    home = cloud.seed["location_ids"][0]
    mine = cloud.http.get(f"{API}/", headers=cloud.headers()).json()
    assert [loc["id"] for loc in mine] == [home]
    assert mine[0]["name"] == "Hauptbahnhof"
    assert cloud.http.get(f"{API}/", headers=cloud.headers("other")).json() == []
    for path in ("lockers", "availability"):
        r = cloud.http.get(f"{API}/{home}/{path}", headers=cloud.headers("other"))
        assert r.status_code == 404 and r.json()["code"] == "LOCATION_NOT_FOUND"
        # a location without any of the partner's towers does not exist for it either
        empty = cloud.seed["location_ids"][1]
        assert cloud.http.get(f"{API}/{empty}/{path}", headers=cloud.headers()).status_code == 404
    lat, lon = HAUPTBAHNHOF
    other = cloud.http.get(f"{API}/closest", params={"lat": lat, "lon": lon},
                           headers=cloud.headers("other"))
    assert other.json() == []


def test_listing_pages_with_skip_and_limit(cloud: Cloud) -> None:
    partner = cloud.service.partners.partner_id("demo")
    towers = [cloud.service.towers.create_tower(f"t{i}") for i in range(3)]
    for i, tower in enumerate(towers):
        cloud.service.towers.assign_tower(tower.id, partner)
        cloud.service.locations.place_tower(cloud.seed["location_ids"][i + 1], tower.id)
    every = [loc["id"] for loc in cloud.http.get(f"{API}/", headers=cloud.headers()).json()]
    assert every == sorted(cloud.seed["location_ids"])
    page = cloud.http.get(f"{API}/", params={"skip": 1, "limit": 2}, headers=cloud.headers())
    assert [loc["id"] for loc in page.json()] == every[1:3]


def _all_demo_locations_visible(cloud: Cloud) -> None:
    partner = cloud.service.partners.partner_id("demo")
    for location_id in cloud.seed["location_ids"][1:]:
        tower = cloud.service.towers.create_tower(f"at {location_id}")
        cloud.service.towers.assign_tower(tower.id, partner)
        cloud.service.locations.place_tower(location_id, tower.id)


def test_closest_is_nearest_first_with_distances_within_the_radius(cloud: Cloud) -> None:
    _all_demo_locations_visible(cloud)
    at_alex = {"lat": 52.5219, "lon": 13.4132}
    r = cloud.http.get(f"{API}/closest", params={**at_alex, "radius": 4000},
                       headers=cloud.headers())
    found = r.json()
    assert [loc["name"] for loc in found] == ["Alexanderplatz", "Kreuzberg Markthalle",
                                              "Potsdamer Platz", "Hauptbahnhof"]
    assert found[0]["distance_m"] == 0
    assert 2950 < found[3]["distance_m"] < 3020  # Alexanderplatz to the main station: ~2985 m
    within = cloud.http.get(f"{API}/closest", params={**at_alex, "radius": 2900},
                            headers=cloud.headers()).json()
    assert [loc["name"] for loc in within][-1] == "Potsdamer Platz"  # not the station
    near = cloud.http.get(f"{API}/closest", params={**at_alex, "radius": 4000, "limit": 1},
                          headers=cloud.headers()).json()
    assert [loc["name"] for loc in near] == ["Alexanderplatz"]


def test_in_area_finds_what_lies_between_the_corners(cloud: Cloud) -> None:
    _all_demo_locations_visible(cloud)
    r = cloud.http.get(f"{API}/in-area", params={"start": "52.53,13.36", "end": "52.50,13.40"},
                       headers=cloud.headers())
    assert r.status_code == 200, r.text
    assert {loc["name"] for loc in r.json()} == {"Hauptbahnhof", "Potsdamer Platz"}


@pytest.mark.parametrize(("path", "params", "status"), [
    ("closest", {"lat": 91, "lon": 0}, 422),
    ("closest", {"lat": 0, "lon": 181}, 422),
    ("closest", {"lat": 0, "lon": 0, "radius": 0}, 422),
    ("closest", {"lat": 0, "lon": 0, "radius": -5}, 422),
    ("closest", {"lat": 0, "lon": 0, "radius": 1e9}, 422),
    ("closest", {"lat": "nan", "lon": 0}, 422),
    ("in-area", {"start": "52.5", "end": "52.4,13.3"}, 400),
    ("in-area", {"start": "north,east", "end": "52.4,13.3"}, 400),
    ("in-area", {"start": "95,13", "end": "52.4,13.3"}, 400),
    ("in-area", {"start": "nan,13", "end": "52.4,13.3"}, 400),
    ("in-area", {"start": "1,2,3", "end": "52.4,13.3"}, 400),
])
def test_bad_search_input_is_a_clear_4xx(cloud: Cloud, path: str, params: dict[str, Any],
                                         status: int) -> None:
    r = cloud.http.get(f"{API}/{path}", params=params, headers=cloud.headers())
    assert r.status_code == status, r.text
    if status == 400:
        assert r.json()["code"] == "COORDINATES_INVALID"


def test_location_lockers_are_those_of_the_partners_towers_there(cloud: Cloud) -> None:
    home = cloud.seed["location_ids"][0]
    r = cloud.http.get(f"{API}/{home}/lockers", headers=cloud.headers())
    assert [lk["id"] for lk in r.json()] == cloud.locker_ids()
    # another partner's tower at the same location stays hidden from demo
    other = cloud.service.towers.create_tower("other's")
    cloud.service.towers.assign_tower(other.id, cloud.service.partners.partner_id("other"))
    cloud.service.locations.place_tower(home, other.id)
    assert len(cloud.http.get(f"{API}/{home}/lockers", headers=cloud.headers()).json()) == 16


def test_availability_counts_free_lockers_overall_and_by_type(cloud: Cloud) -> None:
    home = cloud.seed["location_ids"][0]
    locker = cloud.locker_ids()[0]  # an xlarge one
    r = cloud.http.post(f"{cloud.lockers_url()}/{locker}/reservations", json={"duration": 300},
                        headers=cloud.headers())
    assert r.status_code == 201, r.text
    a = cloud.http.get(f"{API}/{home}/availability", headers=cloud.headers()).json()
    assert (a["available"], a["total"]) == (15, 16)
    by_type = {t["type"]: (t["available"], t["total"]) for t in a["by_type"]}
    assert by_type == {"small": (5, 5), "medium": (3, 3), "large": (4, 4), "xlarge": (3, 4)}
    assert a["fitting_types"] is None and a["by_type"][0]["fits"] is None
    cloud.clock.advance(301)  # the reservation runs out: free again, though not yet swept
    cloud._tokens.clear()  # so has the access token
    again = cloud.http.get(f"{API}/{home}/availability", headers=cloud.headers()).json()
    assert again["available"] == 16


def _at(cloud: Cloud, when: datetime) -> None:
    cloud.clock.now = when
    cloud._tokens.clear()  # access tokens are issued at the clock's time


def test_open_now_follows_the_hours_in_the_locations_own_timezone(cloud: Cloud) -> None:
    partner = cloud.service.partners.partner_id("demo")
    loc = new_location(cloud, timezone="America/New_York",
                       opening_hours={"friday": [{"open": "09:00", "close": "17:00"}]})
    tower = cloud.service.towers.create_tower("nyc")
    cloud.service.towers.assign_tower(tower.id, partner)
    cloud.service.locations.place_tower(loc["id"], tower.id)
    url = f"{API}/{loc['id']}/availability"
    # Friday 2030-03-01 14:30 UTC is 09:30 in New York (EST): open; 22:00 UTC is 17:00: closed.
    _at(cloud, datetime(2030, 3, 1, 14, 30, tzinfo=UTC))
    assert cloud.http.get(url, headers=cloud.headers()).json()["open_now"] is True
    _at(cloud, datetime(2030, 3, 1, 22, 0, tzinfo=UTC))
    assert cloud.http.get(url, headers=cloud.headers()).json()["open_now"] is False
    _at(cloud, datetime(2030, 3, 1, 13, 59, tzinfo=UTC))  # 08:59 local: not yet
    assert cloud.http.get(url, headers=cloud.headers()).json()["open_now"] is False
    home = cloud.seed["location_ids"][0]  # no hours: always open
    assert cloud.http.get(f"{API}/{home}/availability",
                          headers=cloud.headers()).json()["open_now"] is True


def test_fit_check_answers_which_types_take_the_item_and_how_many_are_free(cloud: Cloud) -> None:
    home = cloud.seed["location_ids"][0]
    url = f"{API}/{home}/availability"
    # 500 x 400 x 350 mm: too tall for small (150) and medium (300) in any rotation? medium is
    # 450 x 300 x 600 -> sorted 300, 450, 600 against 350, 400, 500: 350 > 300, no. large:
    # 450 x 450 x 600 -> 450, 450, 600: fits. xlarge fits.
    item = {"width": 500, "height": 400, "depth": 350}
    a = cloud.http.get(url, params=item, headers=cloud.headers()).json()
    assert a["fitting_types"] == ["large", "xlarge"]
    assert a["fitting_available"] == 8
    fits = {t["type"]: (t["fits"], t["fitting_available"]) for t in a["by_type"]}
    assert fits["medium"] == (False, 0) and fits["large"] == (True, 4)
    # laid flat, a long thin parcel fits a small locker (450 x 150 x 600) by rotation
    flat = cloud.http.get(url, params={"width": 100, "height": 590, "depth": 440},
                          headers=cloud.headers()).json()
    assert "small" in flat["fitting_types"]
    huge = cloud.http.get(url, params={"width": 700, "height": 700, "depth": 700},
                          headers=cloud.headers()).json()
    assert (huge["fitting_types"], huge["fitting_available"]) == ([], 0)


def test_fit_check_respects_a_lockers_load_limit(cloud: Cloud) -> None:
    partner = cloud.service.partners.partner_id("demo")
    loc = new_location(cloud)
    tower = cloud.service.towers.create_tower("weights")
    cloud.service.towers.assign_tower(tower.id, partner)
    cloud.service.locations.place_tower(loc["id"], tower.id)
    lockers = [{"name": "light", "type": "large", "maxWeight": 5000,
                "dimensions": {"width": 400, "height": 400, "depth": 400}},
               {"name": "strong", "type": "xlarge",
                "dimensions": {"width": 400, "height": 400, "depth": 400}}]
    r = cloud.http.post(f"/api/v1/admin/towers/{tower.id}/lockers", json={"lockers": lockers},
                        headers=op(cloud))
    assert r.status_code == 201, r.text
    url = f"{API}/{loc['id']}/availability"
    item = {"width": 300, "height": 300, "depth": 300}
    assert cloud.http.get(url, params={**item, "weight": 4000},
                          headers=cloud.headers()).json()["fitting_types"] == ["large", "xlarge"]
    assert cloud.http.get(url, params={**item, "weight": 6000},
                          headers=cloud.headers()).json()["fitting_types"] == ["xlarge"]


@pytest.mark.parametrize("params", [{"width": 100}, {"width": 100, "height": 100},
                                    {"weight": 100}])
def test_an_incomplete_item_is_refused(cloud: Cloud, params: dict[str, int]) -> None:
    home = cloud.seed["location_ids"][0]
    r = cloud.http.get(f"{API}/{home}/availability", params=params, headers=cloud.headers())
    assert r.status_code == 400 and r.json()["code"] == "ITEM_INCOMPLETE"


def _sqlite_plan(cloud: Cloud, query: Any) -> str:
    with cloud.service.db.read() as conn:
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        plan = conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    return " | ".join(str(row[-1]) for row in plan)


def test_search_seeks_the_latitude_longitude_index_on_sqlite(cloud: Cloud) -> None:
    details = _sqlite_plan(cloud, repo.box_query(1, bounding_box(*HAUPTBAHNHOF, 2000)))
    assert "SEARCH locations USING INDEX ix_locations_lat_lon (latitude>? AND latitude<?)" in \
        details, details
    assert "SCAN locations" not in details


def test_a_locations_lockers_are_read_by_key_not_by_scanning_the_partners_towers(
        cloud: Cloud) -> None:
    details = _sqlite_plan(cloud, repo.location_lockers_query(1, 1))
    assert "SCAN" not in details.replace("SCAN CONSTANT", ""), details
    assert "ix_location_towers_location" in details, details
    # not every tower of the partner first (what a join from tower_partners does)
    assert "ix_tower_partners_partner" not in details, details


def test_cli_creates_lists_and_places(cloud: Cloud, sqlite_url: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    url = sqlite_url
    runner = CliRunner()
    made = runner.invoke(cli, ["cloud", "locations", "create", "Depot", "--lat", "52.4",
                               "--lon", "13.5", "--timezone", "Europe/Berlin", "--city",
                               "Berlin", "--db", url])
    assert made.exit_code == 0, made.output
    new_id = int(made.output.split()[-1])
    listed = runner.invoke(cli, ["cloud", "locations", "list", "--db", url])
    assert "Depot" in listed.output and "Hauptbahnhof" in listed.output
    placed = runner.invoke(cli, ["cloud", "locations", "add-tower", str(new_id), cloud.tower_id,
                                 "--db", url])
    assert placed.exit_code == 0, placed.output
    assert cloud.service.locations.tower_ids(new_id) == [cloud.tower_id]
    bad = runner.invoke(cli, ["cloud", "locations", "create", "X", "--lat", "1", "--lon", "1",
                              "--timezone", "Nowhere/Land", "--db", url])
    assert bad.exit_code != 0 and "timezone" in bad.output
    windows = runner.invoke(cli, ["cloud", "locations", "windows", str(new_id),
                                  "--dropoff-window", "900", "--collection-window", "86400",
                                  "--db", url])
    assert windows.exit_code == 0, windows.output
    assert "900 s" in windows.output and "86400 s" in windows.output
    cleared = runner.invoke(cli, ["cloud", "locations", "windows", str(new_id),
                                  "--collection-window", "0", "--db", url])
    assert "drop-off window 900 s, collection window none" in cleared.output
    [depot] = [loc for loc in cloud.service.locations.all_locations() if loc.id == new_id]
    assert (depot.dropoff_window, depot.collection_window) == (900, None)
    made = runner.invoke(cli, ["cloud", "locations", "create", "Kiosk", "--lat", "52.4",
                               "--lon", "13.5", "--timezone", "Europe/Berlin",
                               "--dropoff-window", "600", "--db", url])
    [kiosk] = [loc for loc in cloud.service.locations.all_locations()
               if loc.id == int(made.output.split()[-1])]
    assert kiosk.dropoff_window == 600
    missing = runner.invoke(cli, ["cloud", "locations", "windows", "9999",
                                  "--dropoff-window", "60", "--db", url])
    assert missing.exit_code != 0 and "9999" in missing.output
    get_settings.cache_clear()


def test_search_uses_the_latitude_longitude_index_on_postgresql(postgres_url: str,
                                                                tmp_path: Path) -> None:
    from bench.cloud_locations import bulk_locations

    for cloud in make_cloud(postgres_url, tmp_path / "data"):
        partner = cloud.service.partners.partner_id("demo")
        bulk_locations(cloud.service, partner, 5000, first_id=100)
        query = repo.box_query(partner, bounding_box(51.0, 10.0, 2000))
        with cloud.service.db.write() as conn:
            conn.execute(text("ANALYZE"))
        with cloud.service.db.read() as conn:
            compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
            plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")))
        assert "ix_locations_lat_lon" in plan, plan
        assert "Seq Scan on locations" not in plan, plan
