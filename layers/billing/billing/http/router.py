"""The HTTP API's own resolver: routes, their parameters, and the request and response of API Gateway
HTTP API (payload 2.0), without Powertools' event handler on the request path (docs/benchmarks.md:
it and its OpenAPI validation cost a cold start more than the whole of this module).

A route is a function registered on a ``Router`` with its method, path (``/orders/<job_id>``) and what
the OpenAPI document says of it (``billing.http.openapi`` builds that document from these same
declarations, through Powertools, at build time). Its parameters say where their values come from:
``Annotated[str, Path(...)]``, ``Annotated[int, Query(ge=1)]``, or a request model (the body). They are
checked on each request before the route runs: every problem is collected, each naming its field, and
answered 422 ``VALIDATION_ERROR`` by ``billing.http.resolver``.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from functools import cached_property
from typing import Any, Literal, Union

from ..errors import BadRequest
from ..validate import Rule, ValidationError, scalar_rules

# What may stand for a path parameter: as Powertools matches it (RFC 3986's unreserved and sub-delims,
# and what API Gateway passes through), so that an id the pattern refuses is a 422, not a 404.
_SEGMENT = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"
_PARAM = re.compile(r"<(\w+)>")
_INT = re.compile(r"[+-]?[0-9]{1,18}")
# Unicode's White_Space, what pydantic trims around a number (Python's ``strip()`` also takes \x1c-\x1f)
_WHITE_SPACE = (
    " \t\n\x0b\x0c\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
# What an operation's responses say (OpenAPI's Response Object, a model standing for a schema).
OpenAPIResponse = dict[str, Any]


class Param:
    """Where a parameter comes from and what it must be (the subset of OpenAPI's constraints the
    routes use); ``openapi`` passes the same keywords to Powertools' ``Path``/``Query``/``Body``.
    (Plain classes here, not dataclasses: making a dataclass costs every cold start its generated code.)"""

    where: typing.ClassVar[str] = ""

    def __init__(
        self,
        *,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        ge: int | None = None,
        le: int | None = None,
        alias: str | None = None,
        examples: list[Any] | None = None,
    ) -> None:
        self.min_length, self.max_length, self.pattern = min_length, max_length, pattern
        self.ge, self.le, self.alias, self.examples = ge, le, alias, examples

    def keywords(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}

    def rules(self) -> list[Rule]:
        """The checks of its constraints, as a request model's field has them (``billing.validate``)."""
        names = ("min_length", "max_length", "pattern", "ge", "le")
        return scalar_rules({k: v for k, v in self.keywords().items() if k in names})


class Path(Param):
    where = "path"


class Query(Param):
    where = "query"


class Body(Param):
    where = "body"


class Invalid(Exception):
    """What is wrong with a request's parameters or body: ``billing.validate``'s errors (``loc``, ``msg``)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


class Response:
    """An HTTP answer; ``event()`` is what the function returns to API Gateway."""

    def __init__(
        self,
        status_code: int,
        content_type: str,
        body: str,
        headers: dict[str, str] | None = None,
        base64_encoded: bool = False,
    ) -> None:
        self.status_code, self.content_type, self.body = status_code, content_type, body
        self.headers, self.base64_encoded = headers, base64_encoded

    def event(self) -> dict[str, Any]:
        return {
            "statusCode": self.status_code,
            "body": self.body,
            "isBase64Encoded": self.base64_encoded,
            "headers": {"Content-Type": self.content_type, **(self.headers or {})},
            "cookies": [],
        }


class Request:
    """The request being answered, read from the event as the routes need it."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.raw_event = event
        self.headers: dict[str, str] = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        http = (event.get("requestContext") or {}).get("http") or {}
        self.http_method = str(http.get("method") or "").upper()
        self.path = _without_stage(str(event.get("rawPath") or http.get("path") or "/"), event)
        self.query_string_parameters: dict[str, str] = event.get("queryStringParameters") or {}
        self._body: Any = _UNREAD

    @property
    def body(self) -> str | None:
        return self.raw_event.get("body")

    @property
    def json_body(self) -> Any:
        """The body as JSON (None without a body); 400 ``BAD_REQUEST`` when it is not JSON."""
        if self._body is _UNREAD:
            text = self.body
            try:
                self._body = json.loads(text) if text else None
            except ValueError:
                raise BadRequest("the request body is not valid JSON") from None
        return self._body


_UNREAD = object()


def _without_stage(path: str, event: dict[str, Any]) -> str:
    """The path the routes are written for: a named stage's prefix (``/prod/orders``) removed, as
    API Gateway's ``$default`` stage has none."""
    stage = str((event.get("requestContext") or {}).get("stage") or "$default")
    if stage != "$default" and path.startswith(f"/{stage}/"):
        return path[len(stage) + 1 :]
    return path


class Route:
    """One operation: what it answers and what the OpenAPI document says of it."""

    def __init__(
        self,
        method: str,
        path: str,
        fn: Callable[..., Response],
        *,
        summary: str,
        operation_id: str,
        tags: list[str],
        responses: dict[int, Any],
    ) -> None:
        self.method, self.path, self.fn = method, path, fn
        self.summary, self.operation_id, self.tags, self.responses = summary, operation_id, tags, responses
        self._params: list[_Spec] | None = None

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """The path as a pattern, compiled when first matched (a cold start matches a few routes, not all)."""
        return re.compile("^" + _PARAM.sub(lambda m: f"(?P<{m[1]}>{_SEGMENT})", self.path) + "$")

    def params(self) -> list[_Spec]:
        """The function's parameters, read from its annotations when the route is first called."""
        if self._params is None:
            hints = typing.get_type_hints(self.fn, include_extras=True)
            self._params = [_spec(p, hints[p.name]) for p in inspect.signature(self.fn).parameters.values()]
        return self._params


class Router:
    """Routes of one function; ``current_event``, ``lambda_context`` and ``context`` are the request's
    while it is answered (``App`` sets them)."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.current_event: Request = Request({})
        self.lambda_context: Any = None
        self.context: dict[str, Any] = {}

    def route(self, path: str, method: str, **how: Any) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
        def register(fn: Callable[..., Response]) -> Callable[..., Response]:
            self.routes.append(Route(method.upper(), path, fn, **how))
            return fn

        return register


class _Spec(typing.NamedTuple):
    name: str
    where: str  # "path", "query" or "body"
    key: str  # the name in the request (a query parameter's alias)
    base: Any  # the type, without ``None`` and the metadata
    default: Any  # inspect.Parameter.empty: required
    rules: list[Rule]  # its constraints' checks (a path or query parameter's)


def _spec(p: inspect.Parameter, hint: Any) -> _Spec:
    base, meta = hint, ()  # type: tuple[Any, tuple[Any, ...]]
    if typing.get_origin(hint) is typing.Annotated:
        base, *rest = typing.get_args(hint)
        meta = tuple(rest)
    param = next((m for m in meta if isinstance(m, Param)), Body())
    args = typing.get_args(base)
    if typing.get_origin(base) in (Union, types.UnionType) and type(None) in args:
        (base,) = [a for a in args if a is not type(None)]
    return _Spec(p.name, param.where, param.alias or p.name, base, p.default, param.rules())


def arguments(route: Route, request: Request, path_values: dict[str, str]) -> dict[str, Any]:
    """The route function's arguments from the request, or ``Invalid`` naming every bad one."""
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for spec in route.params():
        if spec.where == "body":
            raw = request.json_body
            sent = raw is not None
        else:
            source = path_values if spec.where == "path" else request.query_string_parameters
            sent = spec.key in source
            raw = source.get(spec.key)
        loc: tuple[Any, ...] = (spec.where, spec.key)
        if not sent:
            if spec.default is inspect.Parameter.empty:
                errors.append({"loc": (spec.where,) if spec.where == "body" else loc, "msg": "Field required"})
            else:
                values[spec.name] = spec.default
            continue
        try:
            values[spec.name] = _body(spec, raw) if spec.where == "body" else _scalar(spec, str(raw), loc)
        except Invalid as e:
            errors += e.errors
    if errors:
        raise Invalid(errors)
    return values


def _body(spec: _Spec, raw: Any) -> Any:
    try:
        return spec.base.model_validate(raw)
    except ValidationError as e:
        raise Invalid([{"loc": ("body", *err["loc"]), "msg": err["msg"]} for err in e.errors()]) from None


def _scalar(spec: _Spec, text: str, loc: tuple[Any, ...]) -> Any:
    """A path or query value as its type (str, int or one of a Literal's strings), with the messages
    of ``billing.validate``, so that the answer reads as every other validation error does."""
    base = spec.base

    def bad(msg: str) -> Invalid:
        return Invalid([{"loc": loc, "msg": msg}])

    if typing.get_origin(base) is Literal:
        choices = [f"'{c}'" for c in typing.get_args(base)]
        if text not in typing.get_args(base):
            raise bad(f"Input should be {' or '.join(filter(None, [', '.join(choices[:-1]), choices[-1]]))}")
        return text
    value: Any = text
    if base is int:
        digits = text.strip(_WHITE_SPACE)
        if not _INT.fullmatch(digits):
            raise bad("Input should be a valid integer, unable to parse string as an integer")
        value = int(digits)
    for rule in spec.rules:
        problem = rule(value)
        if problem:
            raise bad(problem[1])
    return value
