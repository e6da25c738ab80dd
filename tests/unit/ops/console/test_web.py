"""The console's web pieces that need no socket: the report listing is path-safe, report
links are signed and expire, and every answer gets the strict headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import HTTPException

from pyrt.ops.console.web import ASSET_TYPES, ASSETS, PAGE_CSP, ReportLinks, find_reports, security_headers


def make_results(tmp_path: Path) -> Path:
    results = tmp_path / "results"
    (results / "run1").mkdir(parents=True)
    (results / "run1" / "report.html").write_text("<h1>run1</h1>")
    (results / "sweep" / "a").mkdir(parents=True)
    (results / "sweep" / "a" / "report.html").write_text("<h1>a</h1>")
    (results / "run1" / "notes.html").write_text("not a report")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "report.html").write_text("outside")
    (results / "escape").symlink_to(outside)  # a symlink out of results/ is not served
    return results


def test_find_reports_lists_only_reports_inside_results(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    assert sorted(find_reports(results)) == ["run1/report.html", "sweep/a/report.html"]
    assert find_reports(tmp_path / "missing") == []


def test_report_links_are_signed_and_expire(tmp_path: Path) -> None:
    now = [1_000_000.0]
    links = ReportLinks(make_results(tmp_path), clock=lambda: now[0])
    listing = {r["path"]: r["url"] for r in links.listing()}
    url = listing["run1/report.html"]
    query = dict(part.split("=") for part in url.split("?")[1].split("&"))
    assert links.open("run1/report.html", query["exp"], query["sig"]) == b"<h1>run1</h1>"
    with pytest.raises(HTTPException) as bad:
        links.open("sweep/a/report.html", query["exp"], query["sig"])  # another path, same signature
    assert bad.value.status_code == 403
    with pytest.raises(HTTPException):
        links.open("run1/report.html", str(int(query["exp"]) + 1), query["sig"])  # a later expiry
    now[0] += 601
    with pytest.raises(HTTPException) as expired:
        links.open("run1/report.html", query["exp"], query["sig"])
    assert "expired" in str(expired.value.detail)


def test_a_signed_path_that_is_no_report_is_404(tmp_path: Path) -> None:
    links = ReportLinks(make_results(tmp_path), clock=lambda: 0.0)
    for rel in ("escape/report.html", "../secret/report.html", "run1/notes.html"):
        exp = 100
        with pytest.raises(HTTPException) as err:
            links.open(rel, str(exp), links._sig(rel, exp))
        assert err.value.status_code == 404, rel


def test_strict_headers_everywhere_but_fastapi_docs() -> None:
    page: dict[str, str] = {}
    security_headers("/", page)
    assert page["Content-Security-Policy"] == PAGE_CSP
    assert "'unsafe-inline'" not in PAGE_CSP and "frame-ancestors 'none'" in PAGE_CSP
    assert page["X-Frame-Options"] == "DENY" and page["Referrer-Policy"] == "no-referrer"
    api: dict[str, str] = {}
    security_headers("/api/v1/status", api)
    assert api["Cache-Control"] == "no-store"
    docs: dict[str, str] = {}
    security_headers("/docs", docs)
    assert "Content-Security-Policy" not in docs and docs["X-Content-Type-Options"] == "nosniff"
    kept = {"Content-Security-Policy": "sandbox"}
    security_headers("/reports/x/report.html", kept)
    assert kept["Content-Security-Policy"] == "sandbox"


def test_the_page_stays_light_and_loads_nothing_from_elsewhere() -> None:
    files = [ASSETS / "console.html", *(ASSETS / name for name in ASSET_TYPES)]
    assert sum(f.stat().st_size for f in files) < 300_000
    for f in files:
        text = f.read_text()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text, f
        assert "innerHTML" not in text and "eval(" not in text, f
    assert "<script>" not in (ASSETS / "console.html").read_text()  # no inline script (CSP)


def test_the_page_refuses_tokens_shorter_than_any_the_api_accepts() -> None:
    from pyrt.config.secrets import MIN_TOKEN_LENGTH

    assert f"const MIN_TOKEN = {MIN_TOKEN_LENGTH};" in (ASSETS / "console.js").read_text()
