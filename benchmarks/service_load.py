"""Load figures of the web service (issue 4): plan a week through the API, then load-test reads.

``python -m benchmarks.service_load --clients 50 --duration 20`` works from scratch in a
temporary folder:

1. starts ``homevisit serve`` as a separate process on a free port (the embedded SQLite default,
   which loads the bundled sample centre MH03 on first start) and creates an admin, a team leader
   (team MH03-T1) and a clinician (MH03-T1-N) with ``homevisit user add``;
2. times ``POST /plans`` (the whole centre MH03, the week of 2026-11-30) to a finished plan,
   polling ``GET /plan-jobs/{id}``, and keeps the job's KPIs;
3. approves that plan, so the clinician sees it;
4. load-tests with ``wrk`` (a second process) the clinician's route
   (``GET /me/routes/2026-12-01``, JSON) and the team leader's resident list
   (``GET /residents?page=1&page_size=50``), each at ``--clients`` connections for
   ``--duration`` seconds: requests per second, p50/p95/p99 latency, errors;
5. writes ``benchmarks/results/service_load.csv`` and ``service_load.md``.

With ``--workers 1 2`` (the default) the same database is served again with
``homevisit serve --workers 2`` and the reads are measured a second time. ``--profile-dir DIR``
adds, after each measured run, a run of the same load under ``py-spy record`` (collapsed stacks
in DIR; the figures of a profiled run are not written). ``wrk`` must be installed
(Debian: ``apt-get install wrk``); the benchmark stops with a clear message if it is not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.loadavg import LoadSampler
from scenarios.sample import REFERENCE_WEEK
from scheduler.params import TIME_LIMIT_DEFAULT_S

RESULTS = Path(__file__).resolve().parent / "results"
CENTRE = "MH03"
WEEK = REFERENCE_WEEK.isoformat()
ROUTE_DAY = (REFERENCE_WEEK + dt.timedelta(days=1)).isoformat()  # its Tuesday
TEAM = "MH03-T1"
CLINICIAN = "MH03-T1-N"
TARGET_P95_MS = 50.0

# wrk prints its own summary; this adds one JSON line with exact figures (latency in µs).
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  local f = '{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50": %d, "p90": %d, "p95": %d, '
    .. '"p99": %d, "max": %d, "mean": %.1f}'
  io.write("WRK_JSON ", string.format(f,
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean), "\\n")
end
"""


class BenchmarkError(RuntimeError):
    """Something the benchmark needs is missing or went wrong; the message says what."""


# --- the machine ---------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _busy_processes(limit: int = 5) -> str:
    """The busiest processes not started by this benchmark (who else uses the cores)."""
    try:
        out = subprocess.run(
            ["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "-"
    rows = [line.split(None, 1) for line in out.splitlines() if line.strip()]
    busy = [f"{name.strip()} {cpu}%" for cpu, name in rows[:limit] if float(cpu) >= 5.0]
    return ", ".join(busy) or "none above 5 %"


# --- HTTP ----------------------------------------------------------------------------------


def _call(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """Status and decoded JSON body of one request (urllib: no client library needed)."""
    headers = {"Accept": "application/json"}
    data: bytes | None = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        status = exc.code
    try:
        return status, json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return status, raw.decode(errors="replace")


def _expect(status: int, payload: Any, wanted: int, what: str) -> Any:
    if status != wanted:
        raise BenchmarkError(f"{what}: HTTP {status} (wanted {wanted}): {payload}")
    return payload


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the server ----------------------------------------------------------------------------


def _homevisit() -> str:
    """The ``homevisit`` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("homevisit")
    if beside.exists():
        return str(beside)
    found = shutil.which("homevisit")
    if found is None:
        raise BenchmarkError("the `homevisit` command is not installed (pip install -e .)")
    return found


def _server_env() -> dict[str, str]:
    """This environment without any HOMEVISIT_* setting, so the service runs on its defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEVISIT_")}
    env["HOMEVISIT_GEOCODER"] = "none"
    return env


@dataclass
class Server:
    """``homevisit serve`` in its own process group, in ``folder`` (the SQLite file is there)."""

    folder: Path
    workers: int
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / f"serve-{self.workers}w-{self.port}.log"

    def start(self, ready_timeout_s: float = 300.0) -> None:
        command = [_homevisit(), "serve", "--port", str(self.port), "--workers", str(self.workers)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.folder,
                env=_server_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped together, by its id
            )
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(
                    f"`homevisit serve` exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                status, _ = _call("GET", f"{self.base}/openapi.json", timeout=5)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise BenchmarkError(f"the server did not answer in {ready_timeout_s:g} s")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def pool_timeouts(self) -> int:
        """Requests so far that gave up waiting for a database connection (SQLAlchemy's pool)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return 0
        return sum(
            "QueuePool limit" in line or ("database error on" in line and "TimeoutError" in line)
            for line in lines
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGINT)  # uvicorn shuts down gracefully on SIGINT
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


def _add_user(
    folder: Path, name: str, role: str, password: str, *, team: str = "", clinician: str = ""
) -> None:
    command = [_homevisit(), "user", "add", name, "--role", role, "--password-env", "BENCH_PW"]
    if team:
        command += ["--team", team]
    if clinician:
        command += ["--clinician", clinician]
    env = _server_env() | {"BENCH_PW": password}
    done = subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise BenchmarkError(f"`homevisit user add {name}` failed: {done.stdout}{done.stderr}")


def _sign_in(base: str, name: str, password: str) -> str:
    status, payload = _call(
        "POST", f"{base}/auth/token", form={"username": name, "password": password}
    )
    return str(_expect(status, payload, 200, f"sign in as {name}")["access_token"])


# --- the plan ------------------------------------------------------------------------------


def plan_and_approve(base: str, admin: str, time_limit_s: float) -> dict[str, Any]:
    """Time POST /plans to a finished plan, then approve it; the figures and KPIs."""
    body = {"centre_id": CENTRE, "week_start": WEEK, "time_limit_s": time_limit_s}
    started = time.monotonic()
    status, job = _call("POST", f"{base}/plans", token=admin, body=body)
    _expect(status, job, 202, "POST /plans")
    job_id = job["job_id"]
    deadline = started + 4 * time_limit_s + 300
    polls = 0
    while True:
        status, job = _call("GET", f"{base}/plan-jobs/{job_id}", token=admin)
        _expect(status, job, 200, f"GET /plan-jobs/{job_id}")
        polls += 1
        if job["status"] == "done":
            break
        if job["status"] not in ("queued", "running"):
            raise BenchmarkError(f"plan job {job_id} ended {job['status']}: {job['message']}")
        if time.monotonic() > deadline:
            raise BenchmarkError(f"plan job {job_id} still {job['status']} after the deadline")
        time.sleep(0.2)
    post_to_plan_s = time.monotonic() - started
    plan_id = job["plan_id"]
    status, plan = _call("GET", f"{base}/plans/{plan_id}", token=admin)
    _expect(status, plan, 200, f"GET /plans/{plan_id}")
    status, approved = _call(
        "POST", f"{base}/plans/{plan_id}/approve", token=admin, body={"revision": plan["revision"]}
    )
    _expect(status, approved, 200, f"POST /plans/{plan_id}/approve")
    kpis = job.get("kpis") or {}
    created = dt.datetime.fromisoformat(job["created_at"])
    started_at = dt.datetime.fromisoformat(job["started_at"]) if job["started_at"] else created
    finished = dt.datetime.fromisoformat(job["finished_at"]) if job["finished_at"] else created
    return {
        "job_id": job_id,
        "plan_id": plan_id,
        "post_to_plan_s": round(post_to_plan_s, 2),
        "queued_s": round((started_at - created).total_seconds(), 2),
        "job_elapsed_s": round(float(job["elapsed_s"]), 2),
        "job_wall_s": round((finished - created).total_seconds(), 2),
        "time_limit_s": time_limit_s,
        "visits_due": kpis.get("visits_due"),
        "visits_scheduled": kpis.get("visits_scheduled"),
        "approved_status": approved["status"],
        "polls": polls,
    }


# --- the load ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One endpoint under load, with the token of the user who calls it."""

    name: str
    path: str
    token: str


def _wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise BenchmarkError(
            "the load tool `wrk` is not installed: `apt-get install -y wrk` (Debian/Ubuntu) "
            "or `brew install wrk`, then run the benchmark again"
        )
    return found


def run_wrk(
    base: str,
    target: Target,
    *,
    clients: int,
    duration_s: int,
    threads: int,
    script: Path,
) -> dict[str, Any]:
    """``wrk`` against one endpoint: its figures (latency in ms), from its JSON line."""
    command = [
        _wrk(),
        f"-t{min(threads, clients)}",
        f"-c{clients}",
        f"-d{duration_s}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        "-H",
        f"Authorization: Bearer {target.token}",
        "-H",
        "Accept: application/json",
        f"{base}{target.path}",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise BenchmarkError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds = raw["duration_us"] / 1e6
    socket_errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["p50"] / 1000, 1),
        "p95_ms": round(raw["p95"] / 1000, 1),
        "p99_ms": round(raw["p99"] / 1000, 1),
        "max_ms": round(raw["max"] / 1000, 1),
        "mean_ms": round(raw["mean"] / 1000, 1),
        "errors": raw["status"] + socket_errors,
        "non_2xx": raw["status"],
        "socket_errors": socket_errors,
        "kb_per_response": round(raw["bytes"] / max(raw["requests"], 1) / 1024, 1),
    }


def _py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise BenchmarkError("--profile-dir needs py-spy (pip install py-spy)")
    return found


def profile_run(
    server: Server,
    target: Target,
    *,
    clients: int,
    duration_s: int,
    threads: int,
    script: Path,
    out_dir: Path,
) -> Path:
    """The same load once more under ``py-spy record`` (collapsed stacks, idle threads too)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{target.name}-{server.workers}w.txt"
    spy = subprocess.Popen(
        [
            _py_spy(),
            "record",
            "--pid",
            str(server.pid),
            "--subprocesses",
            "--idle",
            "--threads",
            "--format",
            "raw",
            "--rate",
            "200",
            "--duration",
            str(duration_s + 2),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # py-spy attaches
    run_wrk(
        server.base, target, clients=clients, duration_s=duration_s, threads=threads, script=script
    )
    spy.wait(timeout=duration_s + 60)
    return out


# --- the run -------------------------------------------------------------------------------


def _check_target(base: str, target: Target) -> dict[str, Any]:
    """One request before the load: it must answer 200 with something in it."""
    status, payload = _call("GET", f"{base}{target.path}", token=target.token)
    _expect(status, payload, 200, f"GET {target.path}")
    if target.name == "route":
        return {"items": len(payload["stops"]), "what": "stops"}
    return {"items": len(payload["items"]), "what": f"residents (of {payload['total']})"}


def run(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """The whole benchmark; the load rows, the plan's figures and what the header says."""
    _wrk()  # fail before the long part if the load tool is missing
    if args.profile_dir:
        _py_spy()
    script_dir = Path(tempfile.mkdtemp(prefix="homevisit-load-"))
    folder = script_dir / "service"
    folder.mkdir()
    wrk_script = script_dir / "report.lua"
    wrk_script.write_text(WRK_REPORT)
    password = secrets.token_urlsafe(18)
    header: dict[str, Any] = {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "load_before": f"{os.getloadavg()[0]:.1f}",
        "busy_before": _busy_processes(),
    }
    rows: list[dict[str, Any]] = []
    plan: dict[str, Any] = {}
    try:
        for n, workers in enumerate(args.workers):
            server = Server(folder, workers)
            print(f"starting homevisit serve --workers {workers} on port {server.port} ...")
            try:
                server.start()
                if n == 0:
                    print("creating users ...")
                    _add_user(folder, "bench-admin", "admin", password)
                    _add_user(folder, "bench-lead", "team_leader", password, team=TEAM)
                    _add_user(folder, "bench-nurse", "clinician", password, clinician=CLINICIAN)
                    admin = _sign_in(server.base, "bench-admin", password)
                    print(f"planning {CENTRE}, week of {WEEK} (limit {args.time_limit:g} s) ...")
                    plan = plan_and_approve(server.base, admin, args.time_limit)
                    plan["web_workers"] = workers
                    print(f"  POST /plans to a finished plan: {plan['post_to_plan_s']} s")
                targets = [
                    Target(
                        "route",
                        f"/me/routes/{ROUTE_DAY}",
                        _sign_in(server.base, "bench-nurse", password),
                    ),
                    Target(
                        "residents",
                        "/residents?page=1&page_size=50",
                        _sign_in(server.base, "bench-lead", password),
                    ),
                ]
                for target in targets:
                    content = _check_target(server.base, target)
                    run_wrk(  # warm-up: connections, caches, the first audit rows
                        server.base,
                        target,
                        clients=args.clients,
                        duration_s=2,
                        threads=args.threads,
                        script=wrk_script,
                    )
                    for clients, seconds in (
                        (1, min(10, args.duration)),
                        (args.clients, args.duration),
                    ):
                        print(f"  {target.path} with {clients} clients, {seconds} s ...")
                        timeouts_before = server.pool_timeouts()
                        with LoadSampler() as load:
                            figures = run_wrk(
                                server.base,
                                target,
                                clients=clients,
                                duration_s=seconds,
                                threads=args.threads,
                                script=wrk_script,
                            )
                        row = {
                            "endpoint": f"GET {target.path}",
                            "user": "clinician" if target.name == "route" else "team leader",
                            "content": f"{content['items']} {content['what']}",
                            "web_workers": workers,
                            "clients": clients,
                            "duration_s": seconds,
                            **figures,
                            "pool_timeouts": server.pool_timeouts() - timeouts_before,
                            "p95_target_met": figures["p95_ms"] < TARGET_P95_MS,
                            "load_avg_max": f"{load.peak():.1f}",
                            "post_to_plan_s": plan["post_to_plan_s"],
                        }
                        rows.append(row)
                        print(
                            f"    {row['rps']} req/s, p50 {row['p50_ms']} ms, p95 {row['p95_ms']}"
                            f" ms, p99 {row['p99_ms']} ms, errors {row['errors']}"
                        )
                    if args.profile_dir:
                        out = profile_run(
                            server,
                            target,
                            clients=args.clients,
                            duration_s=args.duration,
                            threads=args.threads,
                            script=wrk_script,
                            out_dir=Path(args.profile_dir),
                        )
                        print(f"    profile: {out}")
            except BaseException:
                print(server.log_tail(), file=sys.stderr)
                raise
            finally:
                server.stop()
    finally:
        shutil.rmtree(script_dir, ignore_errors=True)
    header["load_after"] = f"{os.getloadavg()[0]:.1f}"
    return rows, plan, header


def write_results(
    rows: list[dict[str, Any]],
    plan: dict[str, Any],
    header: dict[str, Any],
    args: argparse.Namespace,
) -> None:
    RESULTS.mkdir(exist_ok=True)
    frame = pd.DataFrame(rows)
    frame.insert(0, "date", header["date"])
    frame["visits_scheduled"] = plan.get("visits_scheduled")
    frame["visits_due"] = plan.get("visits_due")
    frame.to_csv(RESULTS / "service_load.csv", index=False)
    cores = os.cpu_count()
    shared = (
        f"shared with other work (load average {header['load_before']} before, "
        f"{header['load_after']} after; busiest processes before: {header['busy_before']})"
    )
    columns = [
        "endpoint",
        "web_workers",
        "clients",
        "duration_s",
        "requests",
        "rps",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "errors",
        "pool_timeouts",
        "load_avg_max",
        "content",
    ]
    text = [
        "# service_load",
        "",
        f"Measured {header['date']} on {platform.machine()}, {cores} cores ({_cpu_model()}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}; "
        f"{shared}. The load tool (wrk, {args.threads} threads) runs on the same cores as the "
        "server.",
        "",
        f"`homevisit serve` (uvicorn; web workers: "
        f"{', '.join(str(w) for w in args.workers)}) on the embedded SQLite default with the "
        f"sample centre {CENTRE}; access log on (the default).",
        "",
        f"**POST /plans to a finished plan**: {plan.get('post_to_plan_s')} s for {CENTRE}, the "
        f"week of {WEEK}, whole centre, time limit {plan.get('time_limit_s'):g} s (queued "
        f"{plan.get('queued_s')} s, solve {plan.get('job_elapsed_s')} s, job created to finished "
        f"{plan.get('job_wall_s')} s; web workers "
        f"{plan.get('web_workers')}); visits scheduled {plan.get('visits_scheduled')} of "
        f"{plan.get('visits_due')} due. Plan approved, then the reads below.",
        "",
        f"Reads: 1 connection (the service time, no queueing), then {args.clients} concurrent "
        f"connections (closed loop, no think time) for {args.duration} s, after a 2 s warm-up; "
        "latency in ms; `errors` = non-2xx answers + socket errors (timeout 10 s); "
        "`pool_timeouts` = requests that waited 30 s for a database connection and failed "
        f"(from the server's log). Target: p95 under {TARGET_P95_MS:g} ms at {args.clients} "
        "clients.",
        "",
        frame[columns].to_markdown(index=False),
        "",
        f"Command: `python -m benchmarks.service_load --clients {args.clients} --duration "
        f"{args.duration} --workers {' '.join(str(w) for w in args.workers)}`",
        "",
    ]
    (RESULTS / "service_load.md").write_text("\n".join(text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.service_load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--clients", type=int, default=50, help="concurrent connections")
    parser.add_argument("--duration", type=int, default=20, help="seconds per endpoint")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="uvicorn web workers, in turn"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--time-limit", type=float, default=TIME_LIMIT_DEFAULT_S, help="the plan's time limit"
    )
    parser.add_argument(
        "--profile-dir", default="", help="also profile each load with py-spy, stacks here"
    )
    args = parser.parse_args(argv)
    try:
        rows, plan, header = run(args)
    except BenchmarkError as exc:
        print(f"service_load: {exc}", file=sys.stderr)
        return 2
    write_results(rows, plan, header, args)
    print(f"wrote {RESULTS / 'service_load.csv'} and {RESULTS / 'service_load.md'}")
    missed = [
        f"{r['endpoint']} ({r['web_workers']} web workers, {r['clients']} clients)"
        for r in rows
        if not r["p95_target_met"] and r["clients"] == args.clients
    ]
    if missed:
        print(f"p95 over {TARGET_P95_MS:g} ms: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
