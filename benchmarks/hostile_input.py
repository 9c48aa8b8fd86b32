"""Hostile uploads against a real ``homevisit serve`` (issue 11): refused fast, server answering.

``python -m benchmarks.hostile_input [--workers N]`` starts the service as its own process (by
default one web process, so every request meets the import in the same process), then for each
probe times the refusal while a second thread reads ``GET /centres`` every 50 ms and records how
long each answer took:

- the issue's 10^6-column ``residents.csv`` header (8.9 MB);
- a 300 KB ``.xlsx`` holding 30 MB of sheet XML (a zip bomb);
- a 50 MB JSON body streamed without a Content-Length;
- SIGTERM while a large (29 MB, 400,000-row) register is being checked: how long to exit.

Prints one line per probe and the machine's load; the figures go in the report, not in tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import openpyxl
import pandas as pd

from benchmarks.loadavg import LoadSampler
from benchmarks.service_load import Server, _add_user, _sign_in

SAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "minhang-centre"
PASSWORD = "hostile-input-benchmark"
MB = 1024 * 1024


# --- hostile files: small on disk, huge once parsed or unpacked (the tests build them too) ---

_SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def wide_header(folder: Path, columns: int = 1_000_000) -> Path:
    """``residents.csv`` whose header has ``columns`` columns (10^6: 8.9 MB, under 32 MB)."""
    path = folder / "residents.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(",".join(f"c{i}" for i in range(columns)) + "\n")
        handle.write("x\n")
    return path


def workbook_of(folder: Path, out: Path) -> Path:
    """The dataset folder as one ``.xlsx`` workbook, a sheet per file."""
    with pd.ExcelWriter(out) as writer:
        for csv_path in sorted(folder.glob("*.csv")):
            frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
            frame.to_excel(writer, sheet_name=csv_path.stem, index=False)
    return out


def replace_sheet(book: Path, sheet: str, xml: bytes) -> Path:
    """Rewrite ``book`` with the sheet named ``sheet`` replaced by ``xml`` (deflated)."""
    names = openpyxl.load_workbook(book, read_only=True).sheetnames
    member = f"xl/worksheets/sheet{names.index(sheet) + 1}.xml"
    data = {}
    with zipfile.ZipFile(book) as archive:
        for info in archive.infolist():
            data[info.filename] = xml if info.filename == member else archive.read(info)
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, content in data.items():
            archive.writestr(name, content)
    return book


def zip_bomb_workbook(folder: Path, out: Path, unpacked_mb: int = 30) -> Path:
    """A workbook of the dataset whose residents sheet is ``unpacked_mb`` MB of one repeated row:
    about 70 KB on disk (the issue's probe: 72 KB holding 30 MB of sheet XML)."""
    row = "<row>" + '<c t="inlineStr"><is><t>x</t></is></c>' * 20 + "</row>"
    count = unpacked_mb * 1024 * 1024 // len(row)
    xml = f'<?xml version="1.0"?><worksheet xmlns="{_SHEET_NS}"><sheetData>'
    xml += row * count + "</sheetData></worksheet>"
    return replace_sheet(workbook_of(folder, out), "residents", xml.encode())


def entity_bomb_workbook(folder: Path, out: Path) -> Path:
    """A workbook whose residents sheet is a "billion laughs" XML: 9 KB of entities that would
    expand to gigabytes."""
    entities = '<!ENTITY e0 "lololololololololololololololololololol">' + "".join(
        f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10)
    )
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE w [{entities}]><worksheet xmlns="{_SHEET_NS}">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&e9;</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    return replace_sheet(workbook_of(folder, out), "residents", xml.encode())


class Reader(threading.Thread):
    """GET /centres every 50 ms until stopped; the latency of each answer (or of its failure)."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(daemon=True)
        self.base, self.token = base, token
        self.latencies_ms: list[float] = []
        self.failures = 0
        self.done = threading.Event()

    def run(self) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {self.token}"}) as client:
            while not self.done.is_set():
                started = time.monotonic()
                try:
                    ok = client.get(f"{self.base}/centres", timeout=30).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.latencies_ms.append((time.monotonic() - started) * 1000)
                self.failures += not ok
                time.sleep(0.05)


def _upload(base: str, token: str, files: list[tuple[str, bytes]]) -> tuple[int, str]:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    response = httpx.post(
        f"{base}/imports",
        files=parts,
        headers={"Authorization": f"Bearer {token}"},
        timeout=600,
    )
    return response.status_code, response.text[:160]


def _probe(name: str, server: Server, token: str, send: object) -> dict[str, object]:
    reader = Reader(server.base, token)
    reader.start()
    time.sleep(0.3)
    started = time.monotonic()
    status, text = send()  # type: ignore[operator]
    elapsed = time.monotonic() - started
    time.sleep(0.2)
    reader.done.set()
    reader.join()
    latencies = sorted(reader.latencies_ms)
    return {
        "probe": name,
        "status": status,
        "refused_in_s": round(elapsed, 2),
        "GETs_meanwhile": len(latencies),
        "GET_failures": reader.failures,
        "GET_median_ms": round(statistics.median(latencies), 1) if latencies else None,
        "GET_max_ms": round(latencies[-1], 1) if latencies else None,
        "answer": text.replace("|", "/")[:100],
    }


def _dataset(folder: Path) -> Path:
    return Path(shutil.copytree(SAMPLE, folder))


def _files(folder: Path) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers", type=int, default=1, help="web processes (1: every request meets the import)"
    )
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp, LoadSampler() as load:
        work = Path(tmp)
        server = Server(work / "server", workers=args.workers)
        server.folder.mkdir()
        server.start()
        try:
            _add_user(server.folder, "admin", "admin", PASSWORD)
            token = _sign_in(server.base, "admin", PASSWORD)

            wide = _dataset(work / "wide")
            wide_header(wide)
            rows.append(
                _probe(
                    "10^6-column header",
                    server,
                    token,
                    lambda: _upload(server.base, token, _files(wide)),
                )
            )
            bomb = zip_bomb_workbook(SAMPLE, work / "bomb.xlsx")
            rows.append(
                _probe(
                    "zip bomb .xlsx",
                    server,
                    token,
                    lambda: _upload(server.base, token, [("register.xlsx", bomb.read_bytes())]),
                )
            )

            sent = 0

            def chunks() -> Iterator[bytes]:
                nonlocal sent
                for _ in range(50):
                    sent += MB
                    yield b" " * MB

            def stream() -> tuple[int, str]:
                try:
                    response = httpx.post(
                        f"{server.base}/records",
                        content=chunks(),
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Content-Type": "application/json",
                        },
                        timeout=60,
                    )
                    return response.status_code, f"{sent // MB} MB sent: {response.text[:80]}"
                except httpx.HTTPError as exc:  # the server closed the connection
                    return 0, f"{sent // MB} MB sent, then {type(exc).__name__}"

            rows.append(_probe("50 MB streamed JSON", server, token, stream))

            big = _dataset(work / "big")
            line = "R{:07d},name,1940-01-01,31.15,121.40,X,T,,none,0,0,0,0,Mon 08:00-09:00\n"
            with (big / "residents.csv").open("a", encoding="utf-8") as handle:
                handle.writelines(line.format(i) for i in range(400_000))  # 29 MB
            outcome: list[tuple[int, str]] = []
            upload = threading.Thread(
                target=lambda: outcome.append(_upload(server.base, token, _files(big))),
                daemon=True,
            )
            reader = Reader(server.base, token)
            upload.start()
            time.sleep(2.0)  # the upload is in, its rows are being checked
            reader.start()
            time.sleep(4.0)
            reader.done.set()
            reader.join()
            still_running = upload.is_alive()
            started = time.monotonic()
            os.kill(server.pid, signal.SIGTERM)
            assert server.process is not None
            try:
                server.process.wait(timeout=120)
                exit_s: object = round(time.monotonic() - started, 2)
            except Exception:
                exit_s = "did not stop in 120 s"
            upload.join(timeout=5)
            rows.append(
                {
                    "probe": "SIGTERM during a 29 MB import",
                    "import_running_at_SIGTERM": still_running,
                    "GETs_during_import": len(reader.latencies_ms),
                    "GET_failures": reader.failures,
                    "GET_median_ms": round(statistics.median(reader.latencies_ms), 1),
                    "GET_max_ms": round(max(reader.latencies_ms), 1),
                    "exited_in_s": exit_s,
                    "upload_answer": outcome[0] if outcome else "connection closed",
                }
            )
        finally:
            server.stop()
        print(f"load average during the run: mean {load.mean():.2f}, peak {load.peak():.2f}")
    for row in rows:
        print(" | ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
