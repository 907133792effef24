"""OpenAPI declarations of the triage routes (dispatch/http/incidents.py)
and of the desk's map snapshot (GET /ops/hexagons, in pages.py)."""

from __future__ import annotations

from dispatch.core.lifecycle import STATUSES
from dispatch.core.model import OPERATOR_ROLES, OPS_VIEW_ROLES, UNIT_ADMIN_ROLES, UNIT_STATUSES
from dispatch.http.incidents import REPORT_ROLES, UNIT_ROLES
from dispatch.http.openapi_schemas import CATEGORY, STATUS
from dispatch.http.openapi_spec import (
    ANY_OBJ,
    BOOL,
    INT,
    NUM,
    STR,
    TIME,
    Op,
    arr,
    enum,
    null,
    obj,
    ref,
    text,
)

_INCIDENT_FILTERS = {
    "status": enum((*STATUSES, "open", "all")),
    "sector": STR,
    "category": CATEGORY,
    "since": TIME,
    "limit": {"type": "string", "pattern": "^[0-9]{1,6}$"},
}
_INCIDENT_PATCH = obj(
    {},
    {
        "status": STATUS,
        "priority": {"type": "number", "minimum": 0, "maximum": 1000},
        "unpin": BOOL,
        "unit": null(INT),
        "note": text(1000, 1),
    },
    closed=True,
)
_CONFLICT = {409: ("a closed incident, or a change the lifecycle or the units forbid", None)}
_WINDOW = {"since": TIME, "until": TIME}
_TIMES = obj({"n": INT, "median_s": null(NUM), "p90_s": null(NUM)})
_STATS = obj(
    {
        "since": TIME,
        "until": TIME,
        "alerts": INT,
        "incidents": INT,
        "counts": arr(obj({"sector": null(STR), "category": STR, "day": STR, "count": INT})),
        "time_to_acknowledge": _TIMES,
        "time_to_resolve": _TIMES,
        "solidarity_share": null(NUM),
        "per_sector": arr(ANY_OBJ),
        "per_day": arr(ANY_OBJ),
    }
)
_HANDOVER_ROW = {"allOf": [ref("IncidentDetail"), obj({"age_s": NUM})]}
_HANDOVER = obj({"sector": null(STR), "since": STR, "open": arr(_HANDOVER_ROW), "done": arr(ref("IncidentDetail"))})
_HEXAGONS = obj(
    {
        "type": {"const": "FeatureCollection"},
        "res": INT,
        "seq": INT,
        "features": arr(ANY_OBJ),
        "alerts": arr(arr({}, minItems=4, maxItems=4)),
    }
)

OPERATIONS: dict[str, Op] = {
    "GET /api/incidents": Op("incidents, by priority", OPS_VIEW_ROLES, arr(ref("Incident")), query=_INCIDENT_FILTERS),
    "GET /api/incidents/{incident_id}": Op(
        "one incident with its history and alerts", OPS_VIEW_ROLES, ref("IncidentDetail")
    ),
    "PATCH /api/incidents/{incident_id}": Op(
        "an operator changes an incident", OPERATOR_ROLES, ref("Incident"), body=_INCIDENT_PATCH, more=_CONFLICT
    ),
    "POST /api/incidents/{incident_id}/merge": Op(
        "merge incidents into this one",
        OPERATOR_ROLES,
        ref("Incident"),
        body=obj({"incidents": arr(INT, minItems=1)}, closed=True),
        more=_CONFLICT,
    ),
    "POST /api/incidents/{incident_id}/split": Op(
        "split some alerts into a new incident",
        OPERATOR_ROLES,
        ref("Incident"),
        status=201,
        body=obj({"alerts": arr(INT, minItems=1)}, closed=True),
        more=_CONFLICT,
    ),
    "GET /api/units": Op("patrol units, by name", UNIT_ROLES, arr(ref("Unit"))),
    "POST /api/units": Op(
        "create a patrol unit",
        UNIT_ADMIN_ROLES,
        ref("Unit"),
        status=201,
        body=obj({"name": text(64, 1)}, closed=True),
        more={409: ("a unit of that name exists (duplicate_unit)", None)},
    ),
    "PATCH /api/units/{unit_id}": Op(
        "set a unit's status",
        UNIT_ROLES,
        ref("Unit"),
        body=obj({"status": enum(UNIT_STATUSES)}, closed=True),
        more={409: ("a unit assigned to an incident (unit_engaged)", None)},
    ),
    "GET /api/stats": Op("statistics of a window", REPORT_ROLES, _STATS, query=_WINDOW),
    "GET /api/stats.csv": Op("the statistics' counts as CSV", REPORT_ROLES, STR, media="text/csv", query=_WINDOW),
    "GET /api/handover": Op("the shift hand-over", OPS_VIEW_ROLES, _HANDOVER, query={"sector": STR}),
    "GET /ops/hexagons": Op(
        "open alerts bucketed into H3 cells, and the seq they are consistent with",
        OPS_VIEW_ROLES,
        _HEXAGONS,
        query={"res": STR},
    ),
}
