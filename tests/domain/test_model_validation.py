"""The domain edge: every bad input is rejected with an error naming the field and the value.

Each rejection asserts on pydantic's ``errors()``: the location names the field,
and the message or the recorded input carries the offending value.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import mgrs
import pytest
import shapely
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from deconfliction.domain import geo
from deconfliction.domain.model import (
    Area,
    Asset,
    EquipmentType,
    Movement,
    Observation,
    Party,
    PositionReport,
    Site,
    Unit,
)
from tests.support.clock import FIXED_NOW

pytestmark = pytest.mark.unit

CTX = {"now": FIXED_NOW}
SQUARE = [[[36.0, 48.0], [36.1, 48.0], [36.1, 48.1], [36.0, 48.1], [36.0, 48.0]]]


def iso(t: datetime) -> str:
    return t.isoformat()


def valid() -> dict[type[BaseModel], dict[str, Any]]:
    """One valid payload per model, as JSON would bring it."""
    return {
        Party: {"id": "ndf", "name": "Northland", "kind": "military", "contact": "net N-1"},
        Unit: {
            "id": "u1",
            "party_id": "ndf",
            "name": "Drone team",
            "roles": ["drone_team"],
            "aor": {"type": "Polygon", "coordinates": SQUARE},
            "aor_start": iso(FIXED_NOW - timedelta(hours=1)),
            "aor_end": iso(FIXED_NOW + timedelta(hours=1)),
        },
        EquipmentType: {
            "id": "t1",
            "name": "Wheeled launcher",
            "variant_of": "t0",
            "profile": {
                "mobility": "wheeled",
                "axles": 4,
                "features": ["radar", "launcher"],
                "size_class": "large",
            },
            "max_speed_kmh": 60,
            "sidc": "SFGPEWMAS-MP---",
            "confusable_with": [{"type_id": "t9", "cue": "rails behind the cab"}],
        },
        Asset: {
            "id": "a1",
            "party_id": "ndf",
            "type_id": "t1",
            "callsign": "Blue-7",
            "releasable_to": ["wma"],
            "max_speed_kmh": 55,
        },
        PositionReport: {
            "asset_id": "a1",
            "time": iso(FIXED_NOW - timedelta(minutes=1)),
            "position": {"lat": 48.05, "lon": 36.05},
            "cep_m": 15,
            "speed_kmh": 40,
            "course_deg": 90,
        },
        Movement: {
            "id": "m1",
            "asset_id": "a1",
            "route": {"type": "LineString", "coordinates": [[36.0, 48.0], [36.2, 48.1]]},
            "corridor_m": 500,
            "start": iso(FIXED_NOW - timedelta(hours=1)),
            "end": iso(FIXED_NOW + timedelta(hours=3)),
        },
        Area: {
            "id": "ar1",
            "party_id": "ohr",
            "kind": "protected",
            "geometry": {"type": "Polygon", "coordinates": SQUARE},
            "start": iso(FIXED_NOW - timedelta(days=1)),
            "end": iso(FIXED_NOW + timedelta(days=1)),
        },
        Site: {
            "id": "s1",
            "party_id": "ohr",
            "kind": "hospital",
            "position": {"lat": 48.2, "lon": 36.6},
            "radius_m": 300,
            "releasable_to": ["*"],
        },
        Observation: {
            "unit_id": "u1",
            "time": iso(FIXED_NOW),
            "position": {"lat": 48.05, "lon": 36.05},
            "cep_m": 50,
            "observed": {"mobility": "wheeled", "features": ["radar"], "certainty": "probable"},
            "note": "radar vehicle?",
        },
    }


def payload(model: type[BaseModel], **changes: Any) -> dict[str, Any]:
    data = valid()[model]
    data.update(changes)
    return data


def rejected(model: type[BaseModel], data: Any, *, as_json: bool = False) -> list[ErrorDetails]:
    with pytest.raises(ValidationError) as info:
        if as_json:
            model.model_validate_json(data, context=CTX)
        else:
            model.model_validate(data, context=CTX)
    return info.value.errors()


def error_at(errors: list[ErrorDetails], *loc: str | int) -> ErrorDetails:
    found = [e for e in errors if e["loc"] == loc]
    assert found, f"no error at {loc}; got {[(e['loc'], e['msg']) for e in errors]}"
    return found[0]


# --- the valid payloads are valid (so every rejection below is about one thing) ---------


@pytest.mark.parametrize("model", list(valid()), ids=lambda m: m.__name__)
def test_valid_payloads_validate_and_round_trip(model: type[BaseModel]) -> None:
    obj = model.model_validate(valid()[model], context=CTX)
    dumped = obj.model_dump(mode="json")
    again = model.model_validate(dumped, context=CTX)
    assert again == obj
    assert again.model_dump(mode="json") == dumped
    assert model.model_validate_json(obj.model_dump_json(), context=CTX) == obj


def test_times_are_normalised_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    report = PositionReport.model_validate(
        payload(PositionReport, time=iso(datetime(2026, 3, 1, 13, 59, tzinfo=plus2))), context=CTX
    )
    assert report.time == datetime(2026, 3, 1, 11, 59, tzinfo=UTC)
    assert report.time.utcoffset() == timedelta(0)


# --- latitude and longitude ---------------------------------------------------------------

POINT_MODELS = [PositionReport, Site, Observation]


@pytest.mark.parametrize("model", POINT_MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("lat", [90.000001, -90.000001, 91, -1000, 1e300])
def test_latitude_outside_range_is_rejected(model: type[BaseModel], lat: float) -> None:
    point = {"lat": lat, "lon": 36.0}
    err = error_at(rejected(model, payload(model, position=point)), "position")
    assert "position.lat" in err["msg"]
    assert "[-90, 90]" in err["msg"]
    assert repr(lat) in err["msg"]
    assert err["input"] == point


@pytest.mark.parametrize("model", POINT_MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("lon", [180.000001, -180.000001, 360, -200])
def test_longitude_outside_range_is_rejected(model: type[BaseModel], lon: float) -> None:
    point = {"lat": 48.0, "lon": lon}
    err = error_at(rejected(model, payload(model, position=point)), "position")
    assert "position.lon" in err["msg"]
    assert "[-180, 180]" in err["msg"]
    assert repr(lon) in err["msg"]
    assert err["input"] == point


@pytest.mark.parametrize(("lat", "lon"), [(90, 180), (-90, -180), (90.0, -180.0), (0, 0)])
def test_the_bounds_themselves_are_accepted(lat: float, lon: float) -> None:
    report = PositionReport.model_validate(
        payload(PositionReport, position={"lat": lat, "lon": lon}), context=CTX
    )
    assert (report.position.lat, report.position.lon) == (lat, lon)


def test_a_huge_integer_latitude_is_rejected_not_crashed() -> None:
    big = "1" + "0" * 400
    text = json.dumps(payload(PositionReport)).replace('"lat": 48.05', f'"lat": {big}')
    err = error_at(rejected(PositionReport, text, as_json=True), "position")
    assert "position.lat" in err["msg"]
    assert "400 digits" in err["msg"]


@pytest.mark.parametrize(
    "position",
    [{"lat": "48.1", "lon": 36.0}, {"lat": True, "lon": 36.0}, {"lat": None, "lon": 36.0}],
)
def test_a_coordinate_must_be_a_number(position: dict[str, Any]) -> None:
    err = error_at(rejected(PositionReport, payload(PositionReport, position=position)), "position")
    assert "position.lat" in err["msg"]
    assert "must be a number" in err["msg"]
    assert repr(position["lat"]) in err["msg"]


@pytest.mark.parametrize(
    "position",
    [{"lat": 48.0}, {"lon": 36.0}, {"lat": 48.0, "lon": 36.0, "alt": 100.0}, [48.0, 36.0], "48,36"],
)
def test_a_point_needs_exactly_lat_and_lon_or_mgrs(position: Any) -> None:
    err = error_at(rejected(PositionReport, payload(PositionReport, position=position)), "position")
    assert err["msg"].startswith("Value error, position:")
    assert err["input"] == position


@pytest.mark.parametrize(
    ("field", "model"),
    [("geometry", Area), ("aor", Unit)],
)
@pytest.mark.parametrize(("bad", "which"), [((36.0, 95.0), "lat"), ((190.0, 48.0), "lon")])
def test_polygon_coordinates_outside_range_are_rejected(
    field: str, model: type[BaseModel], bad: tuple[float, float], which: str
) -> None:
    ring = [list(bad), [36.1, 48.0], [36.1, 48.1], list(bad)]
    geom = {"type": "Polygon", "coordinates": [ring]}
    err = error_at(rejected(model, payload(model, **{field: geom})), field)
    assert f"{field}.coordinates.{which}" in err["msg"]
    assert repr(bad[1] if which == "lat" else bad[0]) in err["msg"]
    assert err["input"] == geom


def test_route_coordinates_outside_range_are_rejected() -> None:
    route = {"type": "LineString", "coordinates": [[36.0, 48.0], [36.0, -91.5]]}
    err = error_at(rejected(Movement, payload(Movement, route=route)), "route")
    assert "route.coordinates.lat" in err["msg"]
    assert "-91.5" in err["msg"]


# --- NaN and infinities -------------------------------------------------------------------

NON_FINITE = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("value", NON_FINITE, ids=repr)
@pytest.mark.parametrize("axis", ["lat", "lon"])
def test_non_finite_coordinates_are_rejected(value: float, axis: str) -> None:
    point = {"lat": 48.0, "lon": 36.0, axis: value}
    err = error_at(rejected(PositionReport, payload(PositionReport, position=point)), "position")
    assert f"position.{axis}" in err["msg"]
    assert "finite" in err["msg"]
    assert repr(value) in err["msg"]


NUMBER_FIELDS: list[tuple[type[BaseModel], str]] = [
    (PositionReport, "cep_m"),
    (PositionReport, "speed_kmh"),
    (PositionReport, "course_deg"),
    (Observation, "cep_m"),
    (Movement, "corridor_m"),
    (Site, "radius_m"),
    (EquipmentType, "max_speed_kmh"),
    (Asset, "max_speed_kmh"),
]


@pytest.mark.parametrize("value", NON_FINITE, ids=repr)
@pytest.mark.parametrize(("model", "field"), NUMBER_FIELDS, ids=lambda x: getattr(x, "__name__", x))
def test_non_finite_numbers_are_rejected(model: type[BaseModel], field: str, value: float) -> None:
    err = error_at(rejected(model, payload(model, **{field: value})), field)
    assert err["type"] in ("finite_number", "less_than_equal", "greater_than_equal", "less_than")
    assert err["input"] == value or (math.isnan(value) and math.isnan(err["input"]))


JSON_TOKENS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@pytest.mark.parametrize("token", list(JSON_TOKENS))
@pytest.mark.parametrize(("model", "field"), NUMBER_FIELDS, ids=lambda x: getattr(x, "__name__", x))
def test_json_nan_and_infinity_are_rejected(model: type[BaseModel], field: str, token: str) -> None:
    text = json.dumps(payload(model, **{field: 12345.0})).replace("12345.0", token)
    assert token in text
    err = error_at(rejected(model, text, as_json=True), field)
    expected = JSON_TOKENS[token]
    assert err["input"] == expected or (math.isnan(expected) and math.isnan(err["input"]))


@pytest.mark.parametrize("token", list(JSON_TOKENS))
@pytest.mark.parametrize("axis", ["lat", "lon"])
def test_json_nan_and_infinity_in_a_position_are_rejected(token: str, axis: str) -> None:
    data = payload(PositionReport, position={"lat": 11111.0, "lon": 22222.0})
    text = json.dumps(data).replace("11111.0" if axis == "lat" else "22222.0", token)
    text = text.replace("11111.0", "48.0").replace("22222.0", "36.0")
    err = error_at(rejected(PositionReport, text, as_json=True), "position")
    assert f"position.{axis}" in err["msg"]
    assert "finite" in err["msg"]


@pytest.mark.parametrize("token", list(JSON_TOKENS))
def test_json_nan_and_infinity_in_a_polygon_are_rejected(token: str) -> None:
    text = json.dumps(payload(Area)).replace("48.1", token, 1)
    err = error_at(rejected(Area, text, as_json=True), "geometry")
    assert "geometry.coordinates.lat" in err["msg"]
    assert "finite" in err["msg"]


# --- negative quantities ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (PositionReport, "cep_m"),
        (Observation, "cep_m"),
        (PositionReport, "speed_kmh"),
        (EquipmentType, "max_speed_kmh"),
        (Asset, "max_speed_kmh"),
        (Movement, "corridor_m"),
        (Site, "radius_m"),
    ],
    ids=lambda x: getattr(x, "__name__", x),
)
@pytest.mark.parametrize("value", [-1, -0.001, -1e9])
def test_negative_quantities_are_rejected(model: type[BaseModel], field: str, value: float) -> None:
    err = error_at(rejected(model, payload(model, **{field: value})), field)
    assert err["type"] == "greater_than_equal"
    assert err["input"] == value


def test_zero_cep_and_speed_are_accepted() -> None:
    report = PositionReport.model_validate(
        payload(PositionReport, cep_m=0, speed_kmh=0), context=CTX
    )
    assert report.cep_m == 0
    assert report.speed_kmh == 0


@pytest.mark.parametrize("course", [-0.5, 360, 400])
def test_course_outside_0_360_is_rejected(course: float) -> None:
    err = error_at(
        rejected(PositionReport, payload(PositionReport, course_deg=course)), "course_deg"
    )
    assert err["input"] == course


# --- windows ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "start_field", "end_field"),
    [(Area, "start", "end"), (Movement, "start", "end"), (Unit, "aor_start", "aor_end")],
    ids=lambda x: getattr(x, "__name__", x),
)
def test_a_window_that_ends_before_it_starts_is_rejected(
    model: type[BaseModel], start_field: str, end_field: str
) -> None:
    start = FIXED_NOW
    end = FIXED_NOW - timedelta(seconds=1)
    data = payload(model, **{start_field: iso(start), end_field: iso(end)})
    err = error_at(rejected(model, data), end_field)
    assert end_field in err["msg"]
    assert "before it starts" in err["msg"]
    assert iso(end) in err["msg"] and iso(start) in err["msg"]
    assert err["input"] == iso(end)


@pytest.mark.parametrize(
    ("model", "start_field", "end_field"),
    [(Area, "start", "end"), (Movement, "start", "end"), (Unit, "aor_start", "aor_end")],
    ids=lambda x: getattr(x, "__name__", x),
)
def test_a_window_compares_instants_not_wall_clocks(
    model: type[BaseModel], start_field: str, end_field: str
) -> None:
    # 13:00+02:00 is 11:00Z: before a start of 12:00Z, though its wall clock reads later.
    end = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=2)))
    data = payload(model, **{start_field: iso(FIXED_NOW), end_field: iso(end)})
    error_at(rejected(model, data), end_field)
    # An empty window (start == end) is a window.
    same = model.model_validate(
        payload(model, **{start_field: iso(FIXED_NOW), end_field: iso(FIXED_NOW)})
    )
    assert same.active_at(FIXED_NOW)  # type: ignore[attr-defined]


def test_a_unit_aor_window_is_optional_on_either_side() -> None:
    unit = Unit.model_validate(payload(Unit, aor_start=None, aor_end=iso(FIXED_NOW)))
    assert unit.active_at(FIXED_NOW - timedelta(days=365))
    assert not unit.active_at(FIXED_NOW + timedelta(seconds=1))


# --- times without a zone -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (PositionReport, "time"),
        (Observation, "time"),
        (Movement, "start"),
        (Movement, "end"),
        (Area, "start"),
        (Area, "end"),
        (Unit, "aor_start"),
        (Unit, "aor_end"),
    ],
    ids=lambda x: getattr(x, "__name__", x),
)
def test_a_time_without_a_zone_is_rejected(model: type[BaseModel], field: str) -> None:
    naive = "2026-03-01T11:59:00"
    err = error_at(rejected(model, payload(model, **{field: naive})), field)
    assert err["type"] == "timezone_aware"
    assert err["input"] == naive


def test_a_naive_datetime_object_is_rejected_too() -> None:
    naive = datetime(2026, 3, 1, 11, 59)
    err = error_at(rejected(PositionReport, payload(PositionReport, time=naive)), "time")
    assert err["type"] == "timezone_aware"


# --- reports from the future ----------------------------------------------------------------


@pytest.mark.parametrize("ahead_s", [30.001, 31, 3600])
def test_a_report_more_than_30_s_ahead_is_rejected(ahead_s: float) -> None:
    t = iso(FIXED_NOW + timedelta(seconds=ahead_s))
    err = error_at(rejected(PositionReport, payload(PositionReport, time=t)), "time")
    assert "more than 30 s in the future" in err["msg"]
    assert t in err["msg"]
    assert err["input"] == t


@pytest.mark.parametrize("ahead_s", [29, 30, 0, -86400])
def test_a_report_up_to_30_s_ahead_is_accepted(ahead_s: float) -> None:
    t = FIXED_NOW + timedelta(seconds=ahead_s)
    report = PositionReport.model_validate(payload(PositionReport, time=iso(t)), context=CTX)
    assert report.time == t


def test_the_future_limit_holds_across_zones() -> None:
    # 31 s ahead of FIXED_NOW, written in UTC+05:30.
    t = (FIXED_NOW + timedelta(seconds=31)).astimezone(timezone(timedelta(hours=5, minutes=30)))
    error_at(rejected(PositionReport, payload(PositionReport, time=iso(t))), "time")


def test_without_a_context_the_clock_is_the_real_one() -> None:
    ahead = datetime.now(UTC) + timedelta(minutes=5)
    with pytest.raises(ValidationError):
        PositionReport.model_validate(payload(PositionReport, time=iso(ahead)))
    PositionReport.model_validate(payload(PositionReport, time=iso(datetime.now(UTC))))


def test_a_bad_item_in_a_report_list_is_named_by_its_index() -> None:
    items = [payload(PositionReport) for _ in range(3)]
    items[2]["cep_m"] = -5
    with pytest.raises(ValidationError) as info:
        TypeAdapter(list[PositionReport]).validate_python(items, context=CTX)
    err = error_at(info.value.errors(), 2, "cep_m")
    assert err["input"] == -5


# --- the controlled vocabulary ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "path", "data_of"),
    [
        (
            EquipmentType,
            ("profile", "mobility"),
            lambda w: payload(EquipmentType, profile={"mobility": w}),
        ),
        (
            EquipmentType,
            ("profile", "features", 1),
            lambda w: payload(
                EquipmentType, profile={"mobility": "wheeled", "features": ["radar", w]}
            ),
        ),
        (
            EquipmentType,
            ("profile", "size_class"),
            lambda w: payload(EquipmentType, profile={"mobility": "wheeled", "size_class": w}),
        ),
        (
            Observation,
            ("observed", "mobility"),
            lambda w: payload(Observation, observed={"mobility": w}),
        ),
        (
            Observation,
            ("observed", "features", 0),
            lambda w: payload(Observation, observed={"features": [w]}),
        ),
    ],
    ids=["mobility", "feature", "size_class", "observed-mobility", "observed-feature"],
)
@pytest.mark.parametrize("word", ["hovercraft", "Radar", "laser_dazzler", "x"])
def test_an_unknown_word_is_rejected_naming_it(
    model: type[BaseModel], path: tuple[str | int, ...], data_of: Any, word: str
) -> None:
    err = error_at(rejected(model, data_of(word)), *path)
    assert f"unknown word {word!r}" in err["msg"]
    assert err["input"] == word


def test_unknown_word_message_lists_the_known_words() -> None:
    err = error_at(
        rejected(Observation, payload(Observation, observed={"mobility": "hover"})),
        "observed",
        "mobility",
    )
    assert "known: air, foot, static, tracked, watercraft, wheeled" in err["msg"]


@pytest.mark.parametrize("certainty", ["maybe", "CERTAIN", ""])
def test_certainty_is_probable_or_certain(certainty: str) -> None:
    err = error_at(
        rejected(Observation, payload(Observation, observed={"certainty": certainty})),
        "observed",
        "certainty",
    )
    assert err["input"] == certainty


# --- polygons and routes --------------------------------------------------------------------


def polygon(*rings: Any) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


BAD_POLYGONS = {
    "self-intersecting bow tie": (
        polygon([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]),
        "Self-intersection",
    ),
    "self-touching ring": (
        polygon([[0, 0], [2, 0], [1, 1], [2, 2], [0, 2], [1, 1], [0, 0]]),
        "invalid Polygon",
    ),
    "zero area": (polygon([[0, 0], [1, 0], [2, 0], [0, 0]]), "invalid Polygon"),
    "hole outside its shell": (
        polygon(
            [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]],
            [[5, 5], [6, 5], [6, 6], [5, 6], [5, 5]],
        ),
        "invalid Polygon",
    ),
    "unclosed ring": (polygon([[0, 0], [1, 0], [1, 1], [0, 1]]), "must be closed"),
    "ring of three positions": (polygon([[0, 0], [1, 0], [0, 0]]), "four or more positions"),
    "no rings": (polygon(), "exterior ring"),
    "position of one number": (polygon([[0], [1, 0], [1, 1], [0]]), "a position is [lon, lat]"),
    "coordinates not arrays": ({"type": "Polygon", "coordinates": "0,0 1,1"}, "must be arrays"),
    "a point, not a polygon": ({"type": "Point", "coordinates": [0, 0]}, "got 'Point'"),
    "not GeoJSON": ("POLYGON((0 0, 1 0, 1 1, 0 0))", "must be a GeoJSON Polygon"),
}


@pytest.mark.parametrize("name", list(BAD_POLYGONS))
@pytest.mark.parametrize(("model", "field"), [(Area, "geometry"), (Unit, "aor")])
def test_a_bad_polygon_is_rejected(model: type[BaseModel], field: str, name: str) -> None:
    geom, reason = BAD_POLYGONS[name]
    err = error_at(rejected(model, payload(model, **{field: geom})), field)
    assert err["msg"].startswith(f"Value error, {field}")
    assert reason in err["msg"]
    assert err["input"] == geom


def test_a_valid_multipolygon_and_a_polygon_with_a_hole_are_accepted() -> None:
    shell = [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]
    hole = [[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]
    area = Area.model_validate(payload(Area, geometry=polygon(shell, hole)))
    assert not shapely.contains_xy(area.shape, 1.5, 1.5)
    assert shapely.contains_xy(area.shape, 3, 3)
    multi = {
        "type": "MultiPolygon",
        "coordinates": [[shell], [[[10, 0], [11, 0], [11, 1], [10, 0]]]],
    }
    assert Area.model_validate(payload(Area, geometry=multi)).shape.geom_type == "MultiPolygon"


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        ({"type": "LineString", "coordinates": [[36.0, 48.0]]}, "at least two positions"),
        ({"type": "LineString", "coordinates": []}, "at least two positions"),
        ({"type": "LineString", "coordinates": [[36.0, 48.0], [36.0, 48.0]]}, "two distinct"),
        ({"type": "Polygon", "coordinates": SQUARE}, "must be a GeoJSON LineString"),
        ({"type": "LineString"}, "coordinates must be arrays"),
    ],
    ids=["one point", "no points", "one point twice", "a polygon", "no coordinates"],
)
def test_a_bad_route_is_rejected(route: dict[str, Any], reason: str) -> None:
    err = error_at(rejected(Movement, payload(Movement, route=route)), "route")
    assert err["msg"].startswith("Value error, route")
    assert reason in err["msg"]
    assert err["input"] == route


# --- unknown keys ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", list(valid()), ids=lambda m: m.__name__)
def test_an_unknown_key_is_rejected(model: type[BaseModel]) -> None:
    err = error_at(rejected(model, payload(model, colour="blue")), "colour")
    assert err["type"] == "extra_forbidden"
    assert err["input"] == "blue"


@pytest.mark.parametrize(
    ("model", "field", "inner"),
    [
        (EquipmentType, "profile", {"mobility": "wheeled", "wheels": 8}),
        (Observation, "observed", {"mobility": "wheeled", "colour": "green"}),
        (EquipmentType, "confusable_with", [{"type_id": "t9", "cue": "c", "score": 0.9}]),
    ],
)
def test_an_unknown_nested_key_is_rejected(model: type[BaseModel], field: str, inner: Any) -> None:
    errors = rejected(model, payload(model, **{field: inner}))
    assert any(e["type"] == "extra_forbidden" and e["loc"][0] == field for e in errors)


# --- identifiers ----------------------------------------------------------------------------

BAD_IDS = ["", "a b", "-a", ".a", "_a", "a/b", "a#b", "ä", "a\nb", "a" * 65, "*", 5, None]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
@pytest.mark.parametrize(
    ("model", "field"),
    [
        (Party, "id"),
        (Unit, "id"),
        (Unit, "party_id"),
        (Asset, "type_id"),
        (PositionReport, "asset_id"),
        (Observation, "unit_id"),
        (Movement, "asset_id"),
        (Site, "party_id"),
    ],
    ids=lambda x: getattr(x, "__name__", x),
)
def test_a_bad_identifier_is_rejected(model: type[BaseModel], field: str, bad: Any) -> None:
    err = error_at(rejected(model, payload(model, **{field: bad})), field)
    assert err["type"] in (
        "string_pattern_mismatch",
        "string_too_short",
        "string_too_long",
        "string_type",
    )
    assert err["input"] == bad


@pytest.mark.parametrize("good", ["a", "A-1._:x", "a" * 64, "0", "urn:x:1"])
def test_good_identifiers_are_accepted(good: str) -> None:
    assert Party.model_validate(payload(Party, id=good)).id == good


@pytest.mark.parametrize("model", [Asset, Movement, Area, Site], ids=lambda m: m.__name__)
def test_releasable_to_takes_every_party_or_party_ids(model: type[BaseModel]) -> None:
    every = model.model_validate(payload(model, releasable_to=["*"]))
    assert getattr(every, "releasable_to", None) == ["*"]
    some = model.model_validate(payload(model, releasable_to=["ndf", "wma"]))
    assert getattr(some, "releasable_to", None) == ["ndf", "wma"]
    for bad in ("**", "*x", "a b", ""):
        err = error_at(
            rejected(model, payload(model, releasable_to=["ndf", bad])), "releasable_to", 1
        )
        assert err["input"] == bad


# --- MGRS -----------------------------------------------------------------------------------


def test_an_mgrs_reference_is_the_centre_of_its_square_plus_its_half_diagonal() -> None:
    report = PositionReport.model_validate(
        payload(PositionReport, position={"mgrs": "37UDB1234"}), context=CTX
    )
    p = report.position
    # A 1 km square: half its diagonal is ~707 m.
    assert 707 <= p.extra_radius_m <= 710
    # The centre converts back to the same square ...
    assert mgrs.MGRS().toMGRS(p.lat, p.lon, MGRSPrecision=2) == "37UDB1234"
    # ... and sits at its middle: as far from the south-west corner (the 1 m square
    # 37UDB 12000 34000) as from the north-east one (37UDB 12999 34999), ~707 m each.
    sw = mgrs.MGRS().toLatLon("37UDB1200034000")
    ne = mgrs.MGRS().toLatLon("37UDB1299934999")
    assert geo.geodesic_m(p.lat, p.lon, *sw) == pytest.approx(707.1, abs=2.0)
    assert geo.geodesic_m(p.lat, p.lon, *ne) == pytest.approx(707.1, abs=2.0)
    # The square's radius reaches the check through the 99 % factor.
    assert geo.r99(report.effective_cep_m) == pytest.approx(geo.r99(15) + p.extra_radius_m)


@pytest.mark.parametrize(
    ("ref", "square_m"),
    [
        ("37UDB", 100_000),
        ("37UDB12", 10_000),
        ("37UDB1234", 1_000),
        ("37UDB123456", 100),
        ("37UDB12345678", 10),
        ("37UDB1234567890", 1),
        ("37u db 1234 5678", 10),
    ],
)
def test_mgrs_extra_radius_is_half_the_diagonal_at_every_precision(ref: str, square_m: int) -> None:
    p = Observation.model_validate(payload(Observation, position={"mgrs": ref})).position
    half_diagonal = square_m * math.sqrt(2) / 2
    assert half_diagonal <= p.extra_radius_m <= half_diagonal * 1.002 + 1.0
    precision = {100_000: 0, 10_000: 1, 1_000: 2, 100: 3, 10: 4, 1: 5}[square_m]
    back = mgrs.MGRS().toMGRS(p.lat, p.lon, MGRSPrecision=precision)
    assert back == ref.replace(" ", "").upper()


@pytest.mark.parametrize(
    "ref",
    ["hello", "37UDB123", "99ZZZ", "", "37UDB12345678901", "37UZZ1234", "37", "37IDB12"],
)
@pytest.mark.parametrize("model", POINT_MODELS, ids=lambda m: m.__name__)
def test_garbage_mgrs_is_rejected_naming_position_mgrs(model: type[BaseModel], ref: str) -> None:
    err = error_at(rejected(model, payload(model, position={"mgrs": ref})), "position")
    assert "position.mgrs" in err["msg"]
    assert f"not an MGRS reference: {ref!r}" in err["msg"]
    assert err["input"] == {"mgrs": ref}


@pytest.mark.parametrize("value", [None, 37, ["37UDB"]])
def test_mgrs_must_be_a_string(value: Any) -> None:
    err = error_at(rejected(Site, payload(Site, position={"mgrs": value})), "position")
    assert "position.mgrs" in err["msg"]


def test_mgrs_and_lat_lon_together_are_rejected() -> None:
    position = {"mgrs": "37UDB1234", "lat": 1.0, "lon": 2.0}
    err = error_at(rejected(Site, payload(Site, position=position)), "position")
    assert "exactly lat and lon, or mgrs" in err["msg"]


# --- the antimeridian -----------------------------------------------------------------------

ACROSS = polygon([[179.0, -1.0], [-179.0, -1.0], [-179.0, 1.0], [179.0, 1.0], [179.0, -1.0]])


@pytest.mark.parametrize(("model", "field"), [(Area, "geometry"), (Unit, "aor")])
def test_a_polygon_across_the_antimeridian_is_split_within_range(
    model: type[BaseModel], field: str
) -> None:
    obj = model.model_validate(payload(model, **{field: ACROSS}))
    stored = getattr(obj, field)
    assert stored["type"] == "MultiPolygon"
    lons = [pt[0] for part in stored["coordinates"] for ring in part for pt in ring]
    assert min(lons) >= -180 and max(lons) <= 180
    assert {-180.0, 180.0} <= set(lons)
    shape = shapely.geometry.shape(stored)
    assert shapely.contains_xy(shape, 179.5, 0.0)
    assert shapely.contains_xy(shape, -179.5, 0.0)
    assert not shapely.contains_xy(shape, 0.0, 0.0)
    assert not shapely.contains_xy(shape, 178.5, 0.0)
    assert not shapely.contains_xy(shape, -178.5, 0.0)
    # 2 degrees of longitude wide, not 358.
    assert shape.area == pytest.approx(2.0 * 2.0)
    # The stored form is already normal: validating it again changes nothing.
    assert model.model_validate(obj.model_dump(mode="json")) == obj


def test_distances_to_a_split_polygon_are_short_across_the_seam() -> None:
    area = Area.model_validate(payload(Area, geometry=ACROSS))
    lats, lons = geo.chords(area.shape)
    # 0.5 deg north of the polygon, on either side of the seam: ~55 km, not ~20,000 km.
    for lon in (179.9, -179.9, 180.0, -180.0):
        d = geo.distance_to_geometry_m(1.5, lon, area.shape, lats, lons)
        assert d == pytest.approx(0.5 * math.pi / 180 * geo.EARTH_RADIUS_M, rel=1e-3)
    assert geo.distance_to_geometry_m(0.0, 180.0, area.shape, lats, lons) == 0.0


def test_a_route_across_the_antimeridian_is_split_within_range() -> None:
    route = {"type": "LineString", "coordinates": [[179.5, 10.0], [-179.5, 10.5]]}
    movement = Movement.model_validate(payload(Movement, route=route))
    assert movement.route["type"] == "MultiLineString"
    lons = [pt[0] for line in movement.route["coordinates"] for pt in line]
    assert min(lons) >= -180 and max(lons) <= 180
    # About 1 degree of longitude long, not 359.
    assert movement.route_shape.length == pytest.approx(math.hypot(1.0, 0.5))
