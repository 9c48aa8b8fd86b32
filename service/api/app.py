"""The FastAPI application: ``create_app()``; ``homevisit serve`` runs it with uvicorn.

On start it checks the schema (never migrates by itself, except the embedded SQLite default,
which it creates), loads the bundled sample centre into an empty database if asked to, and starts
the plan-job dispatcher (solves run in worker processes, never in the web process). Every error
leaves as JSON with a clear message: validation errors are 422 with the field and the reason,
anything unexpected is a 500 that says only that, with the details in the server's log.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, select
from sqlalchemy.exc import DataError, SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from maps.assets import ASSETS_DIR, write_assets
from service.api.audit import AuditWriter
from service.api.body_limit import BodySizeLimit
from service.api.cache import READ_TTL_S, USER_TTL_S, ReadCache
from service.api.deps import signing_key
from service.api.routers import (
    apidocs,
    auth,
    centres,
    clinicians,
    imports,
    jobs,
    me,
    pages,
    plans,
    records,
    registers,
    replan_pages,
    replans,
    reports,
    residents,
    scenarios,
    sickbed_pages,
    teams,
    week_edits,
    workspace,
)
from service.api.security import SecurityHeaders, content_security_policy, security_headers
from service.api.throttle import SignInThrottle
from service.api.web import STATIC_DIR
from service.db.session import (
    embedded_ready,
    make_engine,
    make_sessionmaker,
    require_current_schema,
)
from service.db.tables import CentreRow
from service.jobs import JobDispatcher
from service.settings import Settings, get_settings
from service.users import Principal

__all__ = ["create_app", "prepare_database"]

log = logging.getLogger("homevisit.service")

SAMPLE_DATASET_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "minhang-centre"

TAGS = [
    {"name": "auth", "description": "Sign in (OAuth2 password flow) / 登录"},
    {"name": "centres", "description": "Community health service centres / 社区卫生服务中心"},
    {"name": "teams", "description": "Family-doctor teams / 家庭医生团队"},
    {"name": "clinicians", "description": "Team members / 团队成员"},
    {"name": "residents", "description": "Signed residents, by role / 签约居民"},
    {"name": "imports", "description": "Register uploads / 数据导入"},
    {"name": "plan jobs", "description": "Plans are solved as jobs / 排班任务"},
    {"name": "plans", "description": "Stored weekly plans and routes / 周计划与路线"},
    {"name": "me", "description": "The signed-in clinician's own day / 我的路线"},
    {"name": "records", "description": "Visit records / 上门记录"},
    {"name": "reports", "description": "Coverage and quotas / 覆盖率与指标"},
    {"name": "scenarios", "description": "What-if scenarios / 情景推演"},
    {"name": "pages", "description": "Map pages for browsers / 地图页面"},
]


def _load_sample_if_empty(engine: Engine) -> None:
    """Give a first start something to show: the bundled sample centre."""
    with Session(engine) as session:
        if session.scalar(select(CentreRow.centre_id).limit(1)) is not None:
            return
    from service.db.importer import import_dataset

    log.info("the database is empty: loading the sample centre from %s", SAMPLE_DATASET_DIR)
    import_dataset(engine, SAMPLE_DATASET_DIR)


def prepare_database(engine: Engine, settings: Settings) -> None:
    """Create the embedded default's schema, check any other's, load the sample if empty.

    ``homevisit serve`` calls it once before starting web processes, so several of them do not
    race to create the same database; in each process it then finds everything done.
    """
    embedded_ready(engine, settings)  # the embedded default needs no setup step; others do
    require_current_schema(engine)
    if settings.load_sample_on_first_start:
        _load_sample_if_empty(engine)


def create_app(settings: Settings | None = None, *, start_jobs: bool = True) -> FastAPI:
    """The application on ``settings`` (default: from the environment).

    ``start_jobs=False`` leaves plan jobs queued (for tests of the API alone).
    """
    settings = settings or get_settings()
    engine = make_engine(settings.database_url, concurrent=True)
    prepare_database(engine, settings)
    dispatcher = JobDispatcher(engine, settings)
    audit_writer = AuditWriter(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher.recover()
        if start_jobs:
            dispatcher.start()
        try:
            yield
        finally:
            app.state.stopping.set()  # imports still reading stop now, so the process can exit
            dispatcher.stop()
            audit_writer.close()
            engine.dispose()
            shutil.rmtree(assets_root, ignore_errors=True)

    app = FastAPI(
        title="homevisit",
        summary="Weekly home-visit plans and daily routes for family-doctor teams"
        " / 家庭医生上门服务排班",
        version="0.1.0",
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # served offline by service.api.routers.apidocs
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.stopping = threading.Event()
    app.state.sign_in_throttle = SignInThrottle(
        settings.sign_in_failures_max,
        settings.sign_in_failures_per_address_max,
        settings.sign_in_window_s,
    )
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.signing_key = signing_key(engine, settings)
    app.state.dispatcher = dispatcher
    app.state.audit = audit_writer
    app.state.user_cache = ReadCache[Principal | None](maxsize=4096, ttl_s=USER_TTL_S)
    app.state.read_cache = ReadCache[object](maxsize=4096, ttl_s=READ_TTL_S)
    app.add_middleware(
        BodySizeLimit,
        default_bytes=settings.request_max_kb * 1024,
        by_prefix=dict.fromkeys(
            ("/imports", "/registers"), int((settings.import_max_total_mb + 1) * 1024 * 1024)
        ),
    )
    if settings.cors_origins:  # closed by default: no origin may call from a browser
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # Added last, so it is the outermost of these: every answer gets the headers, errors too.
    policy = content_security_policy(settings.map_tiles)
    app.state.content_security_policy = policy
    app.add_middleware(SecurityHeaders, policy=policy)
    # Leaflet and jQuery from the xstatic packages, served by the service itself (no CDN).
    assets_root = Path(tempfile.mkdtemp(prefix="homevisit-assets-"))
    write_assets(assets_root)
    # Swagger UI and ReDoc from the fastapi-offline package (mounted first: inside /assets).
    app.mount(
        apidocs.APIDOCS_ASSETS, StaticFiles(directory=apidocs.APIDOCS_DIR), name="apidocs-assets"
    )
    app.mount("/assets", StaticFiles(directory=assets_root / ASSETS_DIR), name="assets")
    # The workspace pages' stylesheet and scripts (files: the pages have no inline script).
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (
        auth,
        centres,
        teams,
        clinicians,
        residents,
        imports,
        jobs,
        plans,
        replans,
        replan_pages,
        me,
        records,
        reports,
        scenarios,
        pages,
        workspace,
        registers,
        week_edits,
        sickbed_pages,
        apidocs,
    ):
        app.include_router(module.router)
    _install_error_handlers(app)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # A dict detail is already the body (e.g. 422 with its field list); else wrap the text.
        content = exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail}
        return JSONResponse(status_code=exc.status_code, content=content, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # The field and the reason, never the submitted value (it may be a password or a name).
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "")}
            for e in exc.errors()
        ]
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={"detail": "the request is not valid", "errors": errors},
        )

    @app.exception_handler(DataError)
    async def unstorable(request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value from the request (PostgreSQL: a NUL character in text,
        # a number out of range): the client's input, not the server's fault.
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={
                "detail": "the request is not valid",
                "errors": [
                    {
                        "field": "request",
                        "reason": "a value cannot be stored or searched (e.g. a NUL character "
                        "in text, or a number out of range)",
                    }
                ],
            },
        )

    @app.exception_handler(SQLAlchemyError)
    async def database_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.error(
            "database error on %s %s: %s", request.method, request.url.path, type(exc).__name__
        )
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"detail": "the database could not answer; try again shortly"},
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        # Answered outside every middleware (Starlette's ServerErrorMiddleware): the security
        # headers are added here.
        return JSONResponse(
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
            content={"detail": "something went wrong on the server; it has been logged"},
            headers=security_headers(request.url.path, request.app.state.content_security_policy),
        )
