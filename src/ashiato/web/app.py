"""The local web UI over one case: ``ashiato serve CASE``.

Pages: the findings dashboard, the filtered timeline (keyset pages, never the whole
table), an entity page per host, user and address, the original record behind any
row, the report, exports, and a form to add analyst notes. Every view answers as JSON
too (``/api/...`` or ``?format=json``), with the same data; every error is
``{"ok": false, "error": ..., "status": ...}``.

Safety: log content is attacker-controlled, so templates autoescape and the CSP allows
no inline script; the evidence is only read. It binds to 127.0.0.1 and then answers
only to loopback host names (DNS rebinding); on any other address a token is required
on every request (``Authorization: Bearer``, ``X-Ashiato-Token``, or the cookie set on
a first visit with ``?token=``). Forms carry a per-process CSRF token and cross-site
posts are refused.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
import secrets
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote_to_bytes, urlencode, urlsplit

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, PackageLoader, pass_context, select_autoescape
from starlette.exceptions import HTTPException

from ashiato.case import Case
from ashiato.errors import AshiatoError, CaseError, QueryError
from ashiato.exports import iso
from ashiato.report import export as export_mod
from ashiato.report.charts import all_charts
from ashiato.report.html import utc_text, when_text
from ashiato.report.series import parse_iso as series_parse
from ashiato.report.text import LANGS, labels, tampering_kind, vector_type, verdict
from ashiato.timeline import Filters, parse_time
from ashiato.web.store import PAGE_DEFAULT, Store

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
TOKEN_COOKIE = "ashiato_token"  # noqa: S105 - a cookie name, not a secret
LANG_COOKIE = "ashiato_lang"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
STATIC = Path(__file__).resolve().parent / "static"
REPORT_CSS = Path(__file__).resolve().parent.parent / "report" / "templates" / "report.css"
FILTER_KEYS = ("from", "to", "host", "user", "ip", "dataset", "q")
MAX_BODY = 256 * 1024
log = logging.getLogger("ashiato.web")


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                PackageLoader("ashiato.web", "templates"),
                PackageLoader("ashiato.report", "templates"),
            ]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["utc"] = utc_text
    # times as a person reads them: the case's zone with UTC beside (report/html.py)
    env.filters["when"] = pass_context(
        lambda ctx, v: when_text(v, str(ctx.get("case_tz") or "UTC"))
    )
    env.filters["q"] = lambda v: quote(str(v), safe="")
    return env


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def json_response(data: dict[str, Any], status: int = 200) -> Response:
    body = orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, status_code=status, media_type="application/json")


def error_payload(status: int, message: str) -> dict[str, Any]:
    return {"ok": False, "error": message, "status": status}


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/") or request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _lang(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in LANGS:
        return str(asked)
    accept = request.headers.get("accept-language", "").lower()
    return "ja" if accept.startswith("ja") else "en"


def _safe_next(value: str | None, fallback: str = "/timeline") -> str:
    """Only a path on this server (no scheme, no host, no //) is followed after a post."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return fallback
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return fallback
    return value


def create_app(
    case: Case,
    *,
    token: str | None = None,
    allowed_hosts: Sequence[str] | None = LOOPBACK_NAMES,
) -> FastAPI:
    """The app for one case. ``allowed_hosts`` None accepts any Host header (use it only
    with a token); the default answers loopback names only."""
    store = Store(case)
    csrf = secrets.token_urlsafe(24)
    name = case.root.resolve().name
    app = FastAPI(title="ashiato", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.csrf = csrf
    hosts = {h.lower() for h in allowed_hosts} if allowed_hosts is not None else None

    # -- rendering -----------------------------------------------------------------------

    def url(path: str, **params: Any) -> str:
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        return path + ("?" + urlencode(clean) if clean else "")

    def page(request: Request, template: str, status: int = 200, **ctx: Any) -> Response:
        lang = _lang(request)
        from ashiato import i18n
        from ashiato.report.html import when_text

        for key in ("f", "e"):  # findings and an entity: their sentences in ``lang``
            if isinstance(ctx.get(key), dict):
                ctx[key] = i18n.localise(ctx[key], lang, lambda v: when_text(v, case.tz))
        html = (
            _environment()
            .get_template(template)
            .render(
                t=labels(lang),
                lang=lang,
                case_name=name,
                case_tz=case.tz,
                csrf=csrf,
                url=url,
                request_path=request.url.path,
                current=str(request.url.path)
                + (f"?{request.url.query}" if request.url.query else ""),
                verdict=lambda v: verdict(lang, v),
                vtype=lambda v: vector_type(lang, v),
                tkind=lambda v: tampering_kind(lang, v),
                **ctx,
            )
        )
        response = HTMLResponse(html, status_code=status)
        if request.query_params.get("lang") in LANGS:
            response.set_cookie(
                LANG_COOKIE, request.query_params["lang"], samesite="strict", httponly=True
            )
        return response

    def fail(request: Request, status: int, message: str) -> Response:
        if wants_json(request):
            return json_response(error_payload(status, message), status)
        return page(request, "error.html.j2", status, code=status, message=message)

    # -- errors: one shape ------------------------------------------------------------------

    @app.exception_handler(HttpError)
    async def _http_error(request: Request, exc: HttpError) -> Response:
        return fail(request, exc.status, exc.message)

    @app.exception_handler(HTTPException)
    async def _starlette_error(request: Request, exc: HTTPException) -> Response:
        message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, exc.detail)
        return fail(request, exc.status_code, str(message))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("query", "body"))
        return fail(request, 400, f"bad value for {where or 'request'}: {first.get('msg', '')}")

    @app.exception_handler(AshiatoError)
    async def _ashiato_error(request: Request, exc: AshiatoError) -> Response:
        status = 409 if isinstance(exc, CaseError) else 400
        return fail(request, status, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s", request.url.path, exc_info=exc)
        return fail(request, 500, f"internal error ({type(exc).__name__})")

    # -- every request: host check, token, CSRF, headers -------------------------------------

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        host = (request.headers.get("host") or "").lower()
        bare = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if hosts is not None and bare not in hosts:
            # plain JSON: nothing about the case for a page that isn't ours
            message = "this server answers to its loopback address only"
            return _harden(json_response(error_payload(400, message), 400))
        bad = unreadable_address(request.scope)
        if bad is not None:
            return _harden(json_response(error_payload(400, bad), 400))
        if _declared_length(request) > MAX_BODY:  # refused before a byte of it is read
            return _harden(fail(request, 413, "the request body is too large"))
        if token is not None:
            given = request.query_params.get("token")
            if given is not None and hmac.compare_digest(given.encode(), token.encode()):
                if request.method == "GET":
                    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                    target = request.url.path + ("?" + urlencode(rest) if rest else "")
                    response: Response = RedirectResponse(target, status_code=303)
                    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
                    return _harden(response)
            elif not _has_token(request, token):
                message = (
                    "a token is required: open the URL printed by `ashiato serve` "
                    "(it carries ?token=)"
                )
                return _harden(json_response(error_payload(401, message), 401))
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("origin") or request.headers.get("referer")
            if origin and urlsplit(origin).netloc.lower() != host:
                return _harden(fail(request, 403, "cross-site request refused"))
        try:
            response = await call_next(request)
        except Exception as exc:  # anything unhandled still gets the one error shape
            log.error("unexpected error on %s", request.url.path, exc_info=exc)
            response = fail(request, 500, f"internal error ({type(exc).__name__})")
        return _harden(response)

    # -- pages --------------------------------------------------------------------------------

    def dashboard(request: Request) -> Response:
        f = store.findings()
        if f is None:
            raise HttpError(
                404, "this case has not been investigated yet: run `ashiato investigate CASE`"
            )
        data = store.series()
        if wants_json(request):
            return json_response({"ok": True, "case": name, "findings": f, "charts": data})
        lang = _lang(request)
        from ashiato.report.incidents import view as incident_view

        return page(
            request,
            "dashboard.html.j2",
            f=f,
            charts=all_charts(data, f, lang, case.tz),
            inc=incident_view(f, lang),
        )

    app.add_api_route("/", dashboard, methods=["GET"])
    app.add_api_route("/api/findings", dashboard, methods=["GET"])

    def timeline(
        request: Request,
        after: str | None = None,
        before: str | None = None,
        limit: int = PAGE_DEFAULT,
        order: str = "asc",
    ) -> Response:
        qp = request.query_params
        values = {k: (qp.get(k) or "").strip() for k in FILTER_KEYS}
        filters = _filters(values)
        result = store.timeline(
            filters, after=after or None, before=before or None, limit=limit, order=order
        )
        rows = [_row(r) for r in result.rows]
        if wants_json(request):
            return json_response(
                {
                    "ok": True,
                    "filters": {k: v for k, v in values.items() if v},
                    "order": result.order,
                    "limit": result.limit,
                    "rows": rows,
                    "next": result.next,
                    "prev": result.prev,
                }
            )
        base = {k: v for k, v in values.items() if v}
        return page(
            request,
            "timeline.html.j2",
            rows=rows,
            values=values,
            next_url=url(
                "/timeline",
                **base,
                order=order,
                limit=limit if limit != PAGE_DEFAULT else None,
                after=result.next,
            )
            if result.next
            else None,
            prev_url=url(
                "/timeline",
                **base,
                order=order,
                limit=limit if limit != PAGE_DEFAULT else None,
                before=result.prev,
            )
            if result.prev
            else None,
            first_url=url("/timeline", **base, order=order) if (after or before) else None,
            flip_url=url("/timeline", **base, order="desc" if order == "asc" else "asc"),
            order=order,
            datasets=_datasets(store),
            export_csv=url("/export/timeline", **base, format="csv"),
            export_jsonl=url("/export/timeline", **base, format="jsonl"),
        )

    app.add_api_route("/timeline", timeline, methods=["GET"])
    app.add_api_route("/api/timeline", timeline, methods=["GET"])

    def record(request: Request, ref: str) -> Response:
        try:
            shown = store.record(ref)
        except QueryError as exc:
            if str(exc).startswith(("no evidence", "no record")):
                raise HttpError(404, str(exc)) from exc
            raise
        if not shown["events"] and shown["original"] is None:
            raise HttpError(404, f"no event at {ref} in this case")
        if wants_json(request):
            return json_response({"ok": True, **shown})
        shown["events"] = [
            {k: iso(v) if isinstance(v, datetime) else v for k, v in ev.items()}
            for ev in shown["events"]
        ]
        first = shown["events"][0] if shown["events"] else {}
        ts = series_parse(first.get("@timestamp"))
        around = (ts - timedelta(minutes=10)) if isinstance(ts, datetime) else None
        return page(
            request,
            "record.html.j2",
            shown=shown,
            first=first,
            note_time=iso(ts) if isinstance(ts, datetime) else "",
            next_url=url(
                "/timeline",
                host=first.get("host.name"),
                **{"from": iso(around) if around else None},
            ),
        )

    app.add_api_route("/record/{ref:path}", record, methods=["GET"])
    app.add_api_route("/api/record/{ref:path}", record, methods=["GET"])

    def entity(kind: str) -> Callable[[Request, str], Response]:
        def view(request: Request, name: str) -> Response:
            name = name.strip()
            if not name or len(name) > 512:
                raise HttpError(400, f"bad {kind} name")
            data = _entity(store, kind, name)
            if wants_json(request):
                return json_response({"ok": True, **data})
            return page(request, "entity.html.j2", e=data)

        return view

    for kind in ("host", "user", "ip"):
        app.add_api_route(f"/{kind}/{{name:path}}", entity(kind), methods=["GET"])
        app.add_api_route(f"/api/{kind}/{{name:path}}", entity(kind), methods=["GET"])

    def report(request: Request, format: str = "html", download: bool = False) -> Response:
        from ashiato.report.html import render, render_json
        from ashiato.report.markdown import render_markdown

        f = store.findings()
        if f is None:
            raise HttpError(404, "this case has not been investigated yet")
        lang = _lang(request)
        data = store.series()
        if format == "json":
            body, media = render_json(f, data, lang, name), "application/json"
        elif format == "md":
            body = render_markdown(f, data, lang, case_name=name, tz=case.tz)
            media = "text/markdown; charset=utf-8"
        elif format == "html":
            if download:
                body = render(f, lang, series=data, case_name=name, tz=case.tz)
            else:
                body = render(
                    f,
                    lang,
                    series=data,
                    case_name=name,
                    tz=case.tz,
                    standalone=False,
                    static_url="/static/report.css",
                    ref_url=lambda r: "/record/" + quote(r, safe=":"),
                )
            media = "text/html; charset=utf-8"
        else:
            raise HttpError(400, "format must be html, md or json")
        headers = {}
        if download:
            suffix = {"html": "html", "md": "md", "json": "json"}[format]
            headers["Content-Disposition"] = f'attachment; filename="report.{suffix}"'
        response = Response(body, media_type=media, headers=headers)
        if format == "html" and download:
            # the downloaded file carries its own stricter CSP (inline CSS only)
            response.headers["Content-Security-Policy"] = (
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
            )
        return response

    app.add_api_route("/report", report, methods=["GET"])

    def export(request: Request, what: str, format: str = "csv") -> Response:
        export_mod.check(what, format)
        qp = request.query_params
        filters = _filters({k: (qp.get(k) or "").strip() for k in FILTER_KEYS})
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+", encoding="utf-8")
        try:
            with store.lock.read():
                export_mod.export(case, what, format, spool, filters)
            spool.seek(0)
        except BaseException:
            spool.close()
            raise

        def chunks() -> Iterator[bytes]:
            try:
                while block := spool.read(1 << 16):
                    yield block.encode("utf-8")
            finally:
                spool.close()

        filename = export_mod.default_name(what, format)
        return StreamingResponse(
            chunks(),
            media_type=export_mod.MEDIA[format],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    app.add_api_route("/export/{what}", export, methods=["GET"])

    async def add_note(request: Request) -> Response:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            raw = await read_limited(request, MAX_BODY)
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise HttpError(400, "the body is not JSON") from exc
            if not isinstance(body, dict):
                raise HttpError(400, "the body must be a JSON object")
            fields = {k: body.get(k) for k in ("text", "time", "host", "user", "tags", "next")}
        elif ctype.startswith("application/x-www-form-urlencoded"):
            raw = await read_limited(request, MAX_BODY)
            if unreadable_text(raw) is not None:
                raise HttpError(400, "the form holds a NUL or text that is not UTF-8")
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            if not hmac.compare_digest(str(form.get("csrf") or ""), csrf):
                raise HttpError(403, "the form is stale; reload the page and try again")
            fields = {k: form.get(k) for k in ("text", "time", "host", "user", "tags", "next")}
        else:
            raise HttpError(415, "send the note as JSON or as a form")
        texts = {
            k: (str(v).strip() if isinstance(v, str | int | float) else None)
            for k, v in fields.items()
        }
        if any("\x00" in v for v in texts.values() if v):
            raise HttpError(400, "a NUL character is refused")
        if texts["time"]:
            parse_time(texts["time"], case.tz)  # a clear 400 before taking the write lock
        from starlette.concurrency import run_in_threadpool

        ref = await run_in_threadpool(
            store.add_note,
            texts["text"] or "",
            texts["time"],
            texts["host"],
            texts["user"],
            texts["tags"],
        )
        if wants_json(request) or ctype.startswith("application/json"):
            return json_response({"ok": True, "ref": ref}, 201)
        return RedirectResponse(_safe_next(texts["next"]), status_code=303)

    app.add_api_route("/notes", add_note, methods=["POST"])
    app.add_api_route("/api/notes", add_note, methods=["POST"])

    def report_css() -> Response:
        return Response(REPORT_CSS.read_text("utf-8"), media_type="text/css")

    app.add_api_route("/static/report.css", report_css, methods=["GET"])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def unreadable_text(raw: bytes) -> str | None:
    """Why percent-decoded ``raw`` is not acceptable text (a NUL, not UTF-8), or None."""
    for piece in raw.split(b"&"):
        data = unquote_to_bytes(piece.replace(b"+", b" "))
        if b"\x00" in data:
            return "a NUL character is refused"
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "the text is not valid UTF-8"
    return None


def unreadable_address(scope: Any) -> str | None:
    """A 400 message when the path or query carry a NUL or bytes that are not UTF-8.

    Filters reach DuckDB and the templates as text; a NUL or a lone byte would only
    fail deeper down (a 500) or be silently replaced.
    """
    path = scope.get("raw_path") or str(scope.get("path", "")).encode("utf-8", "replace")
    for where, raw in (("address", path.split(b"?", 1)[0]),
                       ("query", scope.get("query_string") or b"")):  # fmt: skip
        why = unreadable_text(raw)
        if why is not None:
            return f"bad {where}: {why}"
    return None


def _declared_length(request: Request) -> int:
    try:
        return int(request.headers.get("content-length") or 0)
    except ValueError:
        return 0


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, stopped (413) as soon as it passes ``limit``: never all read into memory."""
    if _declared_length(request) > limit:
        raise HttpError(413, "the request body is too large")
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpError(413, "the request body is too large")
        parts.append(chunk)
    return b"".join(parts)


def _has_token(request: Request, token: str) -> bool:
    auth = request.headers.get("authorization", "")
    candidates = [
        auth[7:] if auth.lower().startswith("bearer ") else "",
        request.headers.get("x-ashiato-token", ""),
        request.cookies.get(TOKEN_COOKIE, ""),
    ]
    return any(c and hmac.compare_digest(c.encode(), token.encode()) for c in candidates)


def _harden(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"  # no-referrer would make form posts Origin: null
    headers["X-Frame-Options"] = "DENY"
    headers["Cache-Control"] = "no-store"
    return response


def _filters(values: dict[str, str]) -> Filters:
    return Filters(
        host=values.get("host") or None,
        user=values.get("user") or None,
        ip=values.get("ip") or None,
        start=values.get("from") or None,
        end=values.get("to") or None,
        search=values.get("q") or None,
        dataset=values.get("dataset") or None,
    )


def _row(r: dict[str, Any]) -> dict[str, Any]:
    """A timeline row for display and JSON: ISO time, ref, a one-line 'what'."""
    out = {k: v for k, v in r.items() if v is not None}
    ts = r.get("@timestamp")
    out["@timestamp"] = iso(ts) if isinstance(ts, datetime) else ts
    out["ref"] = f"{r.get('evidence_id')}:{r.get('record')}"
    parts = [str(r[k]) for k in ("event.code", "event.action") if r.get(k)]
    for key in (
        "rule.name",
        "url.original",
        "file.path",
        "process.command_line",
        "email.subject",
        "dns.question.name",
        "message",
    ):
        if r.get(key):
            parts.append(str(r[key])[:400])
            break
    out["what"] = " ".join(parts)
    if r.get("event.dataset") == "ashiato.note":
        out["note"] = True
        try:
            extra = orjson.loads(r.get("extra") or "{}")
            if isinstance(extra, dict) and extra.get("tags"):
                out["tags"] = [t.strip() for t in str(extra["tags"]).split(",") if t.strip()]
        except orjson.JSONDecodeError:
            pass
    return out


def _datasets(store: Store) -> list[str]:
    def build() -> list[str]:
        with store.ibis() as con:
            t = con.table("events")
            rows = t.select("event.dataset").distinct().to_pyarrow().to_pylist()
        return sorted(str(r["event.dataset"]) for r in rows if r["event.dataset"])

    result: list[str] = build()
    return result


def _mentions(f: dict[str, Any], needle: str, limit: int = 30) -> list[dict[str, Any]]:
    """Evidence items anywhere in the findings whose summary names the entity."""
    low = needle.lower()
    seen: set[str] = set()
    out: list[dict[str, Any]] = []

    def visit(node: Any) -> None:
        if len(out) >= limit:
            return
        if isinstance(node, dict):
            if "ref" in node and "summary" in node:
                if low in str(node.get("summary") or "").lower() and node["ref"] not in seen:
                    seen.add(node["ref"])
                    out.append(node)
                return
            for v in node.values():
                visit(v)
        elif isinstance(node, list):
            for v in node:
                visit(v)

    visit(f)
    return sorted(out, key=lambda e: str(e.get("time") or ""))


def _entity(store: Store, kind: str, name: str) -> dict[str, Any]:
    from ashiato.normalize import host_key

    f = store.findings() or {}
    hosts = f.get("hosts") or []
    data: dict[str, Any] = {"kind": kind, "name": name}
    if kind == "host":
        key = host_key(name) or name
        data["name"] = key
        finding = next((h for h in hosts if h.get("host") == key), None)
        data["finding"] = finding
        data["patient_zero"] = bool((f.get("patient_zero") or {}).get("host") == key)
        data["leases"] = store.leases(host=key)
        data["evidence"] = (finding or {}).get("evidence") or _mentions(f, key)
        data["timeline"] = {"host": key}
    elif kind == "user":
        data["hosts"] = [
            {"host": h["host"], "verdict": h.get("verdict")}
            for h in hosts
            if name.lower() in (u.lower() for u in h.get("users") or [])
        ]
        data["evidence"] = _mentions(f, name)
        data["timeline"] = {"user": name}
    else:
        try:
            ipaddress.ip_address(name)
        except ValueError as exc:
            raise HttpError(400, f"{name!r} is not an IP address") from exc
        data["leases"] = store.leases(ip=name)
        data["hosts"] = [
            {"host": h["host"], "verdict": h.get("verdict")}
            for h in hosts
            if name in (h.get("ips") or [])
        ]
        imp = f.get("impact") or {}
        data["indicator"] = name in (imp.get("c2") or []) + (imp.get("payment_sites") or [])
        data["evidence"] = _mentions(f, name)
        data["timeline"] = {"ip": name}
    data.update(store.seen(kind, data["name"]))
    return data
