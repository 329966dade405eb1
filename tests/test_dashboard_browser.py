"""The dashboard in a real browser: headless Chromium (Debian's `chromium`, which `make install`
installs) driven by Playwright, against the real town process (`gt up -d`) of a real town
whose polecats are scripted agents.

Each test saves screenshots of the pages it visits into `tests/screenshots/` (ignored by git)
as well as its own temporary folder.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.builders import point_at, script, serve
from tests.builders.chromium import WAIT, Dashboard, card, chromium, dashboard
from tests.conftest import Gt, run_git

__all__ = ["chromium", "dashboard"]  # fixtures pytest finds here by name


def test_a_bead_slung_from_the_board_moves_across_it_while_its_transcript_streams(
    dashboard: Dashboard, chromium: Browser, git_repo: Path
) -> None:
    # The refinery lands the work on the rig's own repository, gated, without a reviewer.
    run_git("config", "receive.denyCurrentBranch", "updateInstead", cwd=git_repo)
    dashboard.gt.ok("config", "set", "refinery.code_review", "false")
    dashboard.gt.ok("config", "set", "refinery.gates", '["test -f GREETING.md"]')
    page = dashboard.open("/rigs/app")
    page.evaluate("window.notReloaded = true")
    body = script(
        {"text": "Looking at the repository"},
        {"run": "sleep 3"},
        {"text": "Writing the greeting"},
        {"write": "GREETING.md", "content": "Hello from a polecat.\n"},
        {"run": "git add GREETING.md && git commit -qm 'Add a greeting'"},
    )
    page.fill("#sling-title", "Add a greeting file")
    page.fill("#sling-body", body)
    page.click("#sling-submit")
    expect(page.locator("#sling-title")).to_have_value("")  # the form is cleared on success
    working = card(page, "in_progress", "Add a greeting file")
    expect(working).to_be_visible(timeout=WAIT)
    dashboard.shot("board-working")
    polecat = working.locator(".meta .muted").inner_text()

    watcher = page.context.new_page()
    watcher.goto(f"{dashboard.url}/agents/{polecat}")
    transcript = watcher.locator("#transcript")
    expect(transcript).to_contain_text("Writing the greeting", timeout=WAIT)
    expect(transcript).to_contain_text("Add a greeting", timeout=WAIT)
    dashboard.page, other = watcher, page
    dashboard.shot("agent")
    dashboard.page = other
    watcher.close()

    done = card(page, "closed", "Add a greeting file")  # past the refinery, landed
    expect(done).to_be_visible(timeout=WAIT)
    expect(working).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
    assert (git_repo / "GREETING.md").read_text() == "Hello from a polecat.\n"
    dashboard.shot("board")

    page.click("text=Add a greeting file")
    expect(page.locator("h1")).to_contain_text("Add a greeting file")
    expect(page.locator("#runs-h")).to_be_visible()
    expect(page.locator("table").first).to_contain_text(polecat)
    expect(page.locator("p.spent")).to_contain_text("in 1 call")  # its one run
    dashboard.shot("bead")
    dashboard.open("/")
    spend = page.locator("svg.spend-chart")  # drawn on the server: a bar group per day
    expect(spend).to_be_visible()
    expect(spend.locator("g.day")).to_have_count(14)
    expect(spend.locator("g.day").last.locator("title")).to_contain_text("in 1 call")
    expect(page.locator(".feed")).to_contain_text(f"{polecat} finished 'Add a greeting file'")
    dashboard.shot("overview")
    dashboard.open("/merges")
    expect(page.locator("main")).to_contain_text("landed on trunk")
    dashboard.shot("merge-queue")
    dashboard.open("/agents")
    expect(page.locator("table")).to_contain_text(polecat)

    page.click(f"text={polecat}")
    page.fill("#nudge-text", "Please add a test next time")
    page.click("#nudge-send")  # it is idle now: nobody to nudge, and the page says so
    expect(page.locator("#flash")).to_contain_text("nobody to nudge")
    page.click("#agent-stop")  # nor anything to stop
    expect(page.locator("#flash")).to_contain_text("not working on anything")
    assert dashboard.gt.json("events", "--kind", "agent.nudged") == []


def test_a_convoy_made_from_the_form_shows_its_graph_and_starts(dashboard: Dashboard) -> None:
    page = dashboard.open("/new")
    page.fill("#cv-title", "Verbose mode")
    page.check("#cv-staged")
    rows = [("flag", "Add a --verbose flag", ""), ("tests", "Tests for it", "flag")]
    rows += [("docs", "Document it", "flag, tests")]
    for i, (key, title, needs) in enumerate(rows, 1):
        page.fill(f"#t{i}-key", key)
        page.fill(f"#t{i}-title", title)
        page.fill(f"#t{i}-needs", needs)
    page.click("#add-task")
    expect(page.locator("#t6-title")).to_be_focused()
    dashboard.shot("new-work")
    page.click("#cv-create")
    page.wait_for_url("**/convoys/gt-cv-*")
    graph = page.locator("svg.graph")
    expect(graph.locator("a.node")).to_have_count(3)
    expect(graph.locator("path.edge")).to_have_count(3)
    expect(page.locator(".summary")).to_contain_text("staged")
    dashboard.shot("convoy")
    page.click("#convoy-start")
    expect(page.locator(".summary")).not_to_contain_text("staged", timeout=WAIT)
    graph.locator("a.node").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/beads/*")
    expect(page.locator(".summary")).to_contain_text("convoy")


def test_chatting_with_the_mayor_streams_its_reply(
    chromium: Browser, rig_gt: Gt, tmp_path: Path
) -> None:
    server = serve(
        {"text": "All quiet: nothing is open, nothing is stuck."},
        {"repeat": True, "text": "ok"},
    )
    with server:
        point_at(rig_gt, server)
        context = chromium.new_context(viewport={"width": 1366, "height": 900})
        try:
            board = Dashboard(rig_gt, context.new_page(), tmp_path)
            page = board.open("/")
            page.fill("#mayor-text", "What happened today?")
            page.keyboard.press("Enter")
            reply = page.locator('#chat-log li.mayor[data-done="yes"] .text')
            expect(reply).to_have_text(
                "All quiet: nothing is open, nothing is stuck.", timeout=WAIT
            )
            expect(page.locator("#chat-log li.you").last).to_have_text("you What happened today?")
            expect(page.locator("#mayor-text")).to_be_focused()
            board.shot("mayor-chat")
            page.reload()
            expect(page.locator("#chat-log")).to_contain_text("All quiet")
            assert board.errors == [] and board.dialogs == []
        finally:
            context.close()
            rig_gt("down")
    assert server.requests[0].body.get("stream") is True


def test_a_setting_changes_from_its_page_and_bad_values_are_explained(
    dashboard: Dashboard,
) -> None:
    page = dashboard.open("/settings")
    page.fill("#set-max_polecats_per_rig", "3")
    page.click("#set-max_polecats_per_rig-save")
    row = page.locator("#row-max_polecats_per_rig")
    expect(row).to_contain_text("3 (set in town.toml)", timeout=WAIT)
    assert dashboard.gt.json("config", "get", "max_polecats_per_rig")["value"] == 3
    page.fill("#set-max_polecats_per_rig", "lots")
    page.click("#set-max_polecats_per_rig-save")
    expect(page.locator("#flash")).to_contain_text("expects an integer")
    page.fill("#set-model_api_key", "sk-do-not-show-me")
    page.click("#set-model_api_key-save")
    expect(page.locator("#row-model_api_key")).to_contain_text("••••••", timeout=WAIT)
    assert "sk-do-not-show-me" not in page.content()
    dashboard.shot("settings")


def test_a_script_in_a_title_stays_text_and_the_pages_fit_a_phone(
    chromium: Browser, rig_gt: Gt, tmp_path: Path
) -> None:
    evil = "<script>alert(1)</script>"
    bead = rig_gt.json(
        "bead", "create", evil, "--rig", "app", "--body", f"<img src=x onerror=alert(2)>{evil}"
    )
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        board = Dashboard(rig_gt, context.new_page(), tmp_path)
        for path in ("/rigs/app", f"/beads/{bead['id']}"):
            page = board.open(path)
            expect(page.locator("main")).to_contain_text(evil)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, f"the bead page is {width}px wide on a phone"
        board.shot("phone-bead")
        board.open("/rigs/app")
        board.shot("phone-board")
        assert board.dialogs == [] and board.errors == []
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent")
        assert "Skip to content" in focused
    finally:
        context.close()
        rig_gt("down")
