"""billing.http.router: which route answers a request, as API Gateway and Powertools matched it."""

from __future__ import annotations

from billing.http import make_app
from billing.http.router import Request
from billing.routes import api, progress


def _event(method: str, raw_path: str, stage: str = "$default") -> dict:
    return {"rawPath": raw_path, "requestContext": {"http": {"method": method}, "stage": stage}, "headers": {}}


def test_a_named_stage_prefix_is_not_part_of_the_route():
    assert Request(_event("GET", "/prod/orders/SO-1", "prod")).path == "/orders/SO-1"
    assert Request(_event("GET", "/orders/SO-1")).path == "/orders/SO-1"
    assert Request(_event("GET", "/production/x", "prod")).path == "/production/x"  # not the stage's prefix


def test_a_route_is_its_method_and_its_whole_path():
    app = make_app(progress)
    for method, path in [("GET", "/orders/SO-1/progress-billings"), ("POST", "/orders/SO-1/progress-billings/"),
                         ("POST", "/orders/SO-1/progress-billings/x"), ("HEAD", "/orders/SO-1")]:  # fmt: skip
        answer = app.resolve(_event(method, path), None)
        assert answer["statusCode"] == 404, (method, path)


def test_every_declared_route_is_found_by_its_own_path():
    for route in api.routes + progress.routes:
        concrete = route.path.replace("<job_id>", "SO-1").replace("<record_id>", "R-1").replace("<invoice_id>", "I-1")
        match = route.regex.match(concrete)
        assert match is not None and all(v in ("SO-1", "R-1", "I-1") for v in match.groupdict().values())
