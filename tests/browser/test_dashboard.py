"""The dashboard in headless Chromium against the demo data, at a phone's size and a
desktop's: what it shows is what the query API says, each role sees only its panels, and
screenshots are kept under test-output/ (the phone's first screen is the README's)."""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from typer.testing import CliRunner

from guideledger.api.app import create_app
from guideledger.api.auth import Caller, Role, issue_token
from guideledger.api.cli import cli
from guideledger.api.demo import BRAND_CODE, BRAND_ID, GROUP_ID
from guideledger.bootstrap import bootstrap
from guideledger.composition import Ledger
from guideledger.platform.settings import ClockMode, Persistence, Settings
from tests.ports import free_port

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output"
CLOCK_START = datetime(2026, 1, 1, tzinfo=UTC)  # the demo walks 62 days from here


@pytest.fixture(scope="module")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    """The demo on a sandbox clock months before today: the dashboard follows its days."""
    data_dir = tmp_path_factory.mktemp("dashboard") / "var"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GUIDELEDGER_DATA_DIR", str(data_dir))
        env.setenv("GUIDELEDGER_CLOCK", "manual")
        env.setenv("GUIDELEDGER_CLOCK_START", CLOCK_START.isoformat())
        env.delenv("DATABASE_URL", raising=False)
        env.delenv("GUIDELEDGER_DATABASE_URL", raising=False)
        loaded = CliRunner().invoke(cli, ["demo", "--no-serve", "--orders", "600", "--days", "62"])
    assert loaded.exit_code == 0, loaded.output
    ledger = bootstrap(
        Settings(persistence=Persistence.SQLITE, data_dir=data_dir, clock=ClockMode.MANUAL)
    )
    yield ledger
    ledger.close()


@pytest.fixture(scope="module")
def base_url(demo_ledger: Ledger) -> Iterator[str]:
    """The real app under uvicorn on a free port, as the browser reaches it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(demo_ledger), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Chromium is missing: scripts/test installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        yield browser
        browser.close()


def token(ledger: Ledger, role: Role, **scope: Any) -> str:
    return issue_token(ledger.settings, Caller("dashboard-test", role, GROUP_ID, **scope))


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 1800}


def open_dashboard(
    browser: Browser, base_url: str, bearer: str, lang: str, viewport: dict[str, int] = DESKTOP
) -> Page:
    page = browser.new_page(viewport=viewport)  # type: ignore[arg-type]
    page.goto(f"{base_url}/dashboard#token={bearer}&lang={lang}")
    page.wait_for_selector("body[data-loaded=true]")
    return page


def shown(page: Page, section: str) -> list[tuple[str, str, str]]:
    """(id, rank, last cell) of each row the section's table shows."""
    rows = page.locator(f"#{section} tbody tr")
    return [
        (
            row.get_attribute("data-id") or "",
            row.get_attribute("data-rank") or "",
            row.locator("td").last.inner_text(),
        )
        for row in rows.all()
    ]


def busiest_store(ledger: Ledger) -> UUID:
    """The store that sold most yesterday: its manager's page has something to show."""
    return ledger.rankings.stores(BRAND_ID, None)[0].store_id


def shown_cells(page: Page, section: str, column: int) -> list[tuple[str, str, str]]:
    """(id, rank, the column's cell) of each row the section's table shows."""
    return [
        (
            row.get_attribute("data-id") or "",
            row.get_attribute("data-rank") or "",
            row.locator("td").nth(column).inner_text(),
        )
        for row in page.locator(f"#{section} tbody tr").all()
    ]


def ends(ranked: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The rows a long ranking shows: its top and bottom five."""
    rows = [(g["guide_id"], str(g["rank"])) for g in ranked]
    return rows if len(rows) <= 10 else rows[:5] + rows[-5:]


def yuan(fen: int) -> str:
    return f"{'-' if fen < 0 else ''}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def test_rankings_shown_match_the_query_api(
    browser: Browser, base_url: str, demo_ledger: Ledger
) -> None:
    bearer = token(demo_ledger, Role.FINANCE)
    page = open_dashboard(browser, base_url, bearer, "en")
    api = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {bearer}"})
    brand = api.get(f"/brands/by-code/{BRAND_CODE}").json()
    day = page.input_value("#day")
    assert day == "2026-03-03"  # the day before the sandbox clock's (4 March in Shanghai)

    for section, measure, money in (
        ("stores-total", "total", "net_sales_fen"),
        ("stores-online", "online", "online_sales_fen"),
    ):
        ranked = api.get(
            f"/brands/{brand['id']}/rankings/stores", params={"day": day, "measure": measure}
        ).json()
        assert ranked, "the demo has sales yesterday"
        expected = [(r["store_id"], str(r["rank"]), yuan(r["sales"][money])) for r in ranked]
        assert shown(page, section) == expected

    guides = api.get(
        f"/brands/{brand['id']}/rankings/guides", params={"day": day, "measure": "online_sales"}
    ).json()
    assert [(g, r) for g, r, _ in shown(page, "guides")] == ends(guides)
    page.select_option("#guide-sort", "conversion")
    page.wait_for_selector("#guides[data-measure=conversion]")
    by_conversion = api.get(
        f"/brands/{brand['id']}/rankings/guides", params={"day": day, "measure": "conversion"}
    ).json()
    assert [(g, r) for g, r, _ in shown(page, "guides")] == ends(by_conversion)
    first = (datetime.fromisoformat(day) - timedelta(days=29)).date().isoformat()
    total = api.get(f"/brands/{brand['id']}/measures", params={"first": first, "last": day})
    measures = {name: money for name, _rank, money in shown_cells(page, "measures", 1)}
    assert measures["through_shares"] == yuan(total.json()["total"]["through_shares_fen"])
    assert measures["after_closing"] == yuan(total.json()["total"]["after_closing_fen"])
    assert measures["cross_city"] == yuan(total.json()["total"]["cross_city_fen"])
    assert page.locator("#funnel .notice").inner_text().startswith("Pick a branch, district")
    assert page.locator("#payouts .notice").inner_text() == ""
    assert not page.locator("#lag").is_visible()  # folded away for operators
    assert page.locator("#lag tbody tr").count() == len(api.get("/ready").json()["projections"])
    guides, funnel = page.locator("#guides").bounding_box(), page.locator("#funnel").bounding_box()
    assert guides
    assert funnel
    assert guides["y"] == funnel["y"]  # the desktop keeps its grid

    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "dashboard-en.png", full_page=True)


def test_branch_filter_keeps_only_that_branchs_stores(
    browser: Browser, base_url: str, demo_ledger: Ledger
) -> None:
    bearer = token(demo_ledger, Role.FINANCE)
    page = open_dashboard(browser, base_url, bearer, "en")
    branch = page.locator("#branch option").nth(1).get_attribute("value") or ""
    page.click("#filters-toggle")
    page.select_option("#branch", branch)
    page.click("#filters button[type=submit]")
    page.wait_for_selector("body[data-loaded=true]")
    api = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {bearer}"})
    brand_id = BRAND_ID
    stores = api.get(f"/brands/{brand_id}/units", params={"kind": "store"}).json()
    in_branch = {u["unit_id"] for u in stores if u["branch_id"] == branch}
    listed = {store for store, _rank, _money in shown(page, "stores-total")}
    assert listed
    assert listed <= in_branch
    day = page.input_value("#day")
    week = {"first": (datetime.fromisoformat(day) - timedelta(days=6)).date().isoformat()}
    steps = api.get(
        f"/brands/{brand_id}/funnel", params={**week, "last": day, "branch_id": branch}
    ).json()["steps"]
    assert [(s, count) for s, _rank, count in shown_cells(page, "funnel", 1)] == [
        (s["step"], f"{s['count']:,}") for s in steps
    ]
    assert steps[0]["count"] > 0, "the branch's guides shared that week"


def test_a_store_manager_sees_rankings_but_not_payouts_in_chinese(
    browser: Browser, base_url: str, demo_ledger: Ledger
) -> None:
    store_id = busiest_store(demo_ledger)
    bearer = token(demo_ledger, Role.STORE_MANAGER, store_id=store_id)
    page = open_dashboard(browser, base_url, bearer, "zh")

    assert page.locator("#payouts .notice").inner_text() == "当前角色无权查看"
    assert page.locator("#stores-total h2").inner_text().startswith("门店排名")
    assert page.locator("#stores-total tbody tr").count() > 0
    assert page.locator("#daily .notice").inner_text() == ""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "dashboard-zh-store-manager.png", full_page=True)


def glance_shown(page: Page) -> dict[str, str]:
    return {
        card.get_attribute("data-measure") or "": card.locator(".value").inner_text()
        for card in page.locator("#glance .card").all()
    }


def test_on_a_phone_the_first_screen_shows_the_days_figures_and_nothing_overflows(
    browser: Browser, base_url: str, demo_ledger: Ledger
) -> None:
    store_id = busiest_store(demo_ledger)
    bearer = token(demo_ledger, Role.STORE_MANAGER, store_id=store_id)
    page = open_dashboard(browser, base_url, bearer, "zh", PHONE)
    api = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {bearer}"})
    day = page.input_value("#day")
    scope = {"day": day, "store_id": str(store_id)}
    figures = api.get(f"/brands/{BRAND_ID}/sales/yesterday", params=scope).json()["day"]["sales"]
    online = figures["online_sales_fen"] / figures["sales_fen"] if figures["sales_fen"] else 0
    assert glance_shown(page) == {
        "net": yuan(figures["net_sales_fen"]),
        "orders": str(figures["paid_orders"]),
        "online": f"{online * 100:.1f}%",
    }
    glance = page.locator("#glance").bounding_box()
    assert glance
    assert glance["y"] + glance["height"] <= PHONE["height"]
    assert not page.locator("#token").is_visible()  # taken from the address once, kept
    assert not page.locator("#filters").is_visible()  # folded into one control
    assert not page.locator("#lag").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    guides = api.get(f"/brands/{BRAND_ID}/rankings/guides", params={"day": day}).json()
    page.wait_for_selector("#guides[data-measure=online_sales]")
    assert guides, "the store's guides sold yesterday"
    assert [(g, r) for g, r, _ in shown(page, "guides")] == ends(
        api.get(
            f"/brands/{BRAND_ID}/rankings/guides", params={**scope, "measure": "online_sales"}
        ).json()
    )
    first = (datetime.fromisoformat(day) - timedelta(days=6)).date().isoformat()
    week = {"first": first, "last": day, "store_id": str(store_id)}
    steps = api.get(f"/brands/{BRAND_ID}/funnel", params=week).json()["steps"]
    assert [(s, count) for s, _rank, count in shown_cells(page, "funnel", 1)] == [
        (s["step"], f"{s['count']:,}") for s in steps
    ]
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "dashboard-phone-zh.png")
    page.screenshot(path=SCREENSHOTS / "dashboard-phone-zh-full.png", full_page=True)

    page.goto(f"{base_url}/dashboard#lang=zh")  # the token is remembered for the session
    page.wait_for_selector("body[data-loaded=true]")
    assert glance_shown(page)["net"] == yuan(figures["net_sales_fen"])


def test_the_demo_looks_like_a_brand(base_url: str, demo_ledger: Ledger) -> None:
    """Guides share before they sell, a few lead, one evening of live streams peaks, two
    months are closed, and the measures land near the brands' published figures."""
    api = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token(demo_ledger, Role.FINANCE)}"}
    )
    window = {"first": "2026-01-01", "last": "2026-03-03"}
    total = api.get(f"/brands/{BRAND_ID}/measures", params=window).json()
    assert 0.68 <= total["total"]["through_shares_rate"] <= 0.82
    assert 0.14 <= total["total"]["after_closing_rate"] <= 0.26
    assert 0.13 <= total["total"]["cross_city_rate"] <= 0.25
    orders = [d["measures"]["orders"] for d in total["days"]]
    assert max(orders) > 4 * sorted(orders)[len(orders) // 2]  # the live-stream evening
    rates = []
    for week_day in ("2026-02-24", "2026-02-25", "2026-02-26"):
        guides = api.get(f"/brands/{BRAND_ID}/rankings/guides", params={"day": week_day}).json()
        rates += [g["share_rate"] for g in guides if g["share_orders"]]
    assert rates
    assert all(0.02 <= rate <= 0.5 for rate in rates)
    by_store: Counter[str] = Counter()
    for day_of_month in range(1, 29):
        params = {"day": f"2026-02-{day_of_month:02d}"}
        for store in api.get(f"/brands/{BRAND_ID}/rankings/stores", params=params).json():
            by_store[store["store_id"]] += store["sales"]["net_sales_fen"]
    sales = sorted(by_store.values(), reverse=True)
    assert sales[0] > 4 * sales[len(sales) // 2]  # a few stores far ahead of the rest
    closed = {p["period"] for p in api.get(f"/brands/{BRAND_ID}/payouts").json() if p["closed_fen"]}
    assert closed >= {"2026-01", "2026-02"}
