"""Site files: the demo site, derived lockers, and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from berth.gateway.site import SiteError, load_site, parse_site

GOOD = {
    "attributes": ["low"],
    "locker_types": [{"slug": "s", "name": "S", "width": 10, "height": 10, "depth": 10}],
    "bank_types": [{"key": "b", "friendly_name": "B",
                    "associations": {1: "s", 2: {"type": "s", "attributes": ["low"],
                                                 "channel": 5}}}],
    "banks": [{"name": "A", "bank_type": "b", "controller": {"id": "c1", "channels": 8}},
              {"name": "B", "bank_type": "b",
               "controller": {"id": "c2", "channels": 8, "protocol": "kerong",
                              "url": "tcp://10.0.0.5:5000", "address": 3}}],
}


def test_demo_site_has_three_banks_and_enough_lockers() -> None:
    site = load_site()
    assert len(site.spec.banks) == 3 and len(site.lockers) >= 30
    assert {t.slug for t in site.type_specs} == {"small", "medium", "large"}
    assert set(site.attribute_bits) == {"low", "high"}
    assert {(c.protocol, c.url) for c in site.controllers} == {("kerong", "sim://demo")}


def test_lockers_are_derived_from_bank_types(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(GOOD))
    site = load_site(path)
    assert [(lk.id, lk.bank_id, lk.bank_locker_number, lk.channel, lk.controller_id,
             lk.attributes) for lk in site.lockers] == [
        (1, 1, 1, 1, "c1", ()), (2, 1, 2, 5, "c1", ("low",)),
        (3, 2, 1, 1, "c2", ()), (4, 2, 2, 5, "c2", ("low",))]
    spec = site.controllers[1]
    assert (spec.protocol, spec.url, spec.address, spec.channels) == (
        "kerong", "tcp://10.0.0.5:5000", 3, 8)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["locker_types"][0].update(width=-1), "locker_types.0.width"),
    (lambda d: d["locker_types"][0].update(height=1000), "locker_types.0.height"),
    (lambda d: d["bank_types"][0]["associations"].update({3: "nope"}), "unknown locker type"),
    (lambda d: d["bank_types"][0]["associations"].update({3: {"type": "s",
                                                              "attributes": ["x"]}}),
     "unknown attribute 'x'"),
    (lambda d: d["banks"][1].update(bank_type="zzz"), "unknown bank type"),
    (lambda d: d["banks"][1]["controller"].update(id="c1"), "duplicate controller id"),
    (lambda d: d["banks"][0]["controller"].update(channels=2), "exceed controller"),
    (lambda d: d["bank_types"][0]["associations"].update({3: {"type": "s", "channel": 5}}),
     "duplicate channel"),
    (lambda d: d.update(colour="red"), "colour"),
    (lambda d: d.update(banks=[]), "banks"),
])
def test_invalid_sites_are_refused_with_clear_errors(change, message: str) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    change(data)
    with pytest.raises(SiteError) as err:
        parse_site(data, "site.yaml")
    assert message in str(err.value) and "site.yaml" in str(err.value)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="cannot read"):
        load_site(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("banks: [unclosed")
    with pytest.raises(SiteError, match="not valid YAML"):
        load_site(bad)
