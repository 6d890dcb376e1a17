"""JupyterLab as a user meets nbflow: the notebook button, the side panel, the run view."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import open_lab, open_panel, run_from_panel

pytestmark = [pytest.mark.browser, pytest.mark.kernel]

PAIR = """\
tasks:
  - key: first
    notebook: notebooks/ok.ipynb
    parameters: {x: 21}
  - key: second
    notebook: notebooks/echo.ipynb
    depends_on: [first]
    parameters: {text: "{{tasks.first.values.doubled}}"}
"""


def test_run_a_workflow_from_the_panel_and_open_an_executed_notebook(page, ui_project):
    ui_project.workflow("pair", PAIR)
    open_lab(page)
    open_panel(page)
    panel = page.locator("#nbflow-panel")
    workflow = panel.locator('.nbflow-workflow[data-workflow="pair"]')
    expect(workflow).to_be_visible()
    workflow.locator(".nbflow-run-now").click()

    view = page.locator(".nbflow-run-view[data-run='1']")
    expect(view).to_have_attribute("data-state", "success", timeout=90_000)
    expect(view.locator('.nbflow-dag-node[data-task="first"]')).to_have_attribute(
        "data-state", "success"
    )
    expect(panel.locator('.nbflow-run-item[data-run="1"]')).to_have_attribute(
        "data-state", "success", timeout=10_000
    )
    view.locator('.nbflow-dag-node[data-task="second"]').click()
    details = view.locator('.nbflow-task-details[data-task="second"]')
    expect(details).to_contain_text("notebook")
    page.shots("run-view")
    page.shots("panel", panel)

    details.locator(".nbflow-open-attempt").first.click()
    executed = page.locator(".jp-NotebookPanel:visible")
    # The injected parameters cell of the kept attempt: the upstream value arrived.
    expect(executed.locator(".jp-Cell").filter(has_text="# Parameters")).to_contain_text(
        re.compile(r"text = \W?42")
    )
    expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")).to_contain_text(
        "attempt-1.ipynb"
    )
    page.shots("executed-notebook")


def _open_dialog(page, notebook: str, *, edit: bool = False):
    open_lab(page, notebook)
    if edit:
        editor = page.locator(".jp-NotebookPanel:visible .jp-CodeCell .cm-content").first
        editor.click()
        page.keyboard.type("# an edit nobody saved\n")
        expect(page.locator(".lm-TabBar-tab.lm-mod-current.jp-mod-dirty")).to_have_count(1)
    page.locator(".jp-NotebookPanel:visible .nbflow-run-button").first.click()
    dialog = page.locator(".nbflow-dialog")
    expect(dialog.locator(".nbflow-param").first).to_be_visible()
    return dialog


def test_the_notebook_button_runs_it_with_typed_parameters(page, ui_project):
    dialog = _open_dialog(page, "notebooks/echo.ipynb")
    # Pre-filled from the notebook's parameters cell.
    expect(dialog.locator('input[name="text"]')).to_have_value("default")
    expect(dialog.locator('input[name="count"]')).to_have_value("0")
    expect(dialog.locator('input[name="code"]')).to_have_value("000")
    # Opening a notebook is not editing it: no warning about unsaved changes.
    expect(dialog.locator(".nbflow-unsaved")).to_have_count(0)
    page.shots("button", page.locator(".jp-NotebookPanel:visible .jp-Toolbar").first)
    dialog.locator('input[name="text"]').fill('it\'s "quoted"')
    dialog.locator('input[name="count"]').fill("7")
    dialog.locator('input[name="items"]').fill('[1, "two"]')
    dialog.locator('input[name="flag"]').check()
    page.shots("dialog", dialog.locator(".jp-Dialog-content"))
    dialog.locator(".nbflow-submit").click()
    expect(dialog).to_have_count(0)

    view = page.locator(".nbflow-run-view[data-run='1']")
    expect(view).to_have_attribute("data-state", "success", timeout=90_000)
    expect(page.locator('#nbflow-panel .nbflow-run-item[data-run="1"]')).to_have_attribute(
        "data-state", "success", timeout=10_000
    )
    run = page.lab.api("GET", "runs/1")
    values = run["tasks"][0]["values"]
    assert values["received"]["text"] == 'it\'s "quoted"'
    assert values["received"]["count"] == 7 and values["types"]["count"] == "int"
    assert values["received"]["items"] == [1, "two"]
    assert values["received"]["flag"] is True
    # What the user left alone keeps the notebook's default.
    assert values["received"]["code"] == "000" and values["types"]["code"] == "str"
    # The source notebook is never modified.
    assert "'it" not in (ui_project.root / "notebooks" / "echo.ipynb").read_text()


def test_a_bad_value_is_answered_in_the_dialog(page, ui_project):
    source = (ui_project.root / "notebooks" / "echo.ipynb").read_bytes()
    dialog = _open_dialog(page, "notebooks/echo.ipynb", edit=True)
    # nbflow runs the saved file and says so; it never saves the user's notebook itself.
    expect(dialog.locator(".nbflow-unsaved")).to_contain_text("unsaved changes")
    dialog.locator('input[name="count"]').fill("seven")
    # Enter in a field submits the form (it does not close the dialog).
    dialog.locator('input[name="count"]').press("Enter")
    expect(dialog.locator(".nbflow-error")).to_contain_text("count: expected a whole number")
    assert page.lab.api("GET", "runs") == []
    # A list that is not JSON is refused the same way, before anything is sent.
    dialog.locator('input[name="count"]').fill("3")
    dialog.locator('input[name="items"]').fill("[1, 2")
    dialog.locator(".nbflow-submit").click()
    expect(dialog.locator(".nbflow-error")).to_contain_text("items: write the value as JSON")
    assert (ui_project.root / "notebooks" / "echo.ipynb").read_bytes() == source


def test_the_dialog_keeps_its_actions_in_the_footer_and_answers_in_its_own_words(page, ui_project):
    # echo.ipynb has eleven parameters: the form is taller than the dialog on a laptop.
    page.set_viewport_size({"width": 1280, "height": 720})
    dialog = _open_dialog(page, "notebooks/echo.ipynb")
    footer = dialog.locator(".jp-Dialog-footer")
    # As in every Jupyter dialog: Cancel, then the primary action, in the footer.
    expect(footer.locator("button")).to_have_text(["Cancel", "Run now"])
    expect(dialog.locator(".jp-Dialog-body button")).to_have_count(0)
    submit = footer.locator(".nbflow-submit")
    expect(submit).to_have_class(re.compile("jp-mod-accept"))

    dialog.locator('input[value="schedule"]').check()
    expect(submit).to_have_text("Create schedule")
    # Visible without scrolling the form (nor the page), and so are the schedule's fields.
    expect(submit).to_be_in_viewport(ratio=1)
    expect(dialog.locator('input[name="cron"]')).to_be_in_viewport(ratio=1)
    page.shots("schedule-mode")

    # The server's answers name the form's fields, not the file nbflow would have written.
    error = dialog.locator(".nbflow-error")
    cases = [
        ("cron", "61 * * * *", "Cron: "),
        ("timezone", "Mars/Base", "Time zone: unknown time zone 'Mars/Base'"),
        ("workflow-name", "two words", "Workflow name: 'two words'"),
    ]
    for field, value, words in cases:
        before = dialog.locator(f'input[name="{field}"]').input_value()
        dialog.locator(f'input[name="{field}"]').fill(value)
        submit.click()
        expect(error).to_contain_text(words)
        expect(error).not_to_contain_text("workflows/")
        expect(error).not_to_contain_text(".yaml")
        expect(dialog.locator(f'input[name="{field}"]')).to_have_attribute("aria-invalid", "true")
        page.shots(f"error-{field}", dialog.locator(".jp-Dialog-content"))
        dialog.locator(f'input[name="{field}"]').fill(before)
    assert not list((ui_project.root / "workflows").iterdir())

    # Another mode, another question: the old answer goes.
    dialog.locator('input[value="task"]').check()
    expect(error).to_have_count(0)
    expect(submit).to_have_text("Add task")
    dialog.locator('input[value="run"]').check()
    expect(submit).to_have_text("Run now")
    footer.locator("button", has_text="Cancel").click()
    expect(dialog).to_have_count(0)
    assert page.lab.api("GET", "runs") == []


def test_schedule_a_notebook_writes_a_workflow_file(page, ui_project):
    dialog = _open_dialog(page, "notebooks/ok.ipynb")
    dialog.locator('input[name="x"]').fill("5")
    dialog.locator('input[value="schedule"]').check()
    dialog.locator('input[name="workflow-name"]').fill("nightly_ok")
    dialog.locator('input[name="timezone"]').fill("Europe/Berlin")
    # A wrong cron expression is answered in the dialog; no file is written.
    dialog.locator('input[name="cron"]').fill("61 * * * *")
    dialog.locator(".nbflow-submit").click()
    expect(dialog.locator(".nbflow-error")).to_contain_text("cron")
    written = ui_project.root / "workflows" / "nightly_ok.yaml"
    assert not written.exists()

    dialog.locator('input[name="cron"]').fill("30 2 * * *")
    page.shots("schedule-dialog", dialog.locator(".jp-Dialog-content"))
    dialog.locator(".nbflow-submit").click()
    expect(dialog).to_have_count(0)
    entry = page.locator('#nbflow-panel .nbflow-workflow[data-workflow="nightly_ok"]')
    expect(entry.locator(".nbflow-next-fire")).to_contain_text("30 2 * * * (Europe/Berlin)")
    expect(entry.locator(".nbflow-next-fire")).to_contain_text("next")
    # Nothing serves the project's triggers yet: the panel says how to start a scheduler.
    expect(page.locator('#nbflow-panel .nbflow-scheduler[data-running="false"]')).to_contain_text(
        "nbflow schedule"
    )
    text = written.read_text()
    assert "notebooks/ok.ipynb" in text and "Europe/Berlin" in text and "x: 5" in text
    assert ui_project.cli("validate").returncode == 0
    # The new file opens in the editor for the user to read.
    expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")).to_contain_text(
        "nightly_ok.yaml"
    )
    page.shots("scheduled")

    # One click runs a scheduler inside this JupyterLab server; the panel then names it.
    page.locator("#nbflow-panel .nbflow-start-scheduler").click()
    expect(page.locator('#nbflow-panel .nbflow-scheduler[data-running="true"]')).to_contain_text(
        "Scheduler running"
    )
    assert page.lab.api("GET", "scheduler")["running"] is True

    entry.locator(".nbflow-pause").click()
    expect(entry.locator(".nbflow-badge")).to_have_text("paused")
    (schedule,) = page.lab.api("GET", "schedules")
    assert schedule["workflow"] == "nightly_ok" and schedule["paused"] is True
    page.shots("panel-paused", page.locator("#nbflow-panel"))
    entry.locator(".nbflow-pause").click()
    expect(entry.locator(".nbflow-badge")).to_have_count(0)


def test_add_a_notebook_to_a_workflow_after_chosen_tasks(page, ui_project):
    path = ui_project.workflow("pair", "# the pair of notebooks\n" + PAIR)
    dialog = _open_dialog(page, "notebooks/ok.ipynb")
    dialog.locator('input[value="task"]').check()
    dialog.locator('select[name="target-workflow"]').select_option("pair")
    dialog.locator('input[name="task-key"]').fill("third")
    dialog.locator('input[name="after-second"]').check()
    page.shots("add-task-dialog", dialog.locator(".jp-Dialog-content"))
    dialog.locator(".nbflow-submit").click()
    expect(dialog).to_have_count(0)
    text = path.read_text()
    assert text.startswith("# the pair of notebooks")
    workflow = next(w for w in page.lab.api("GET", "workflows") if w["name"] == "pair")
    third = next(t for t in workflow["tasks"] if t["key"] == "third")
    assert third["depends_on"] == [{"task": "second", "outcome": None}]


FRAGILE = """\
tasks:
  - key: prepare
    notebook: notebooks/ok.ipynb
  - key: fragile
    notebook: notebooks/flaky.ipynb
    depends_on: [prepare]
    parameters: {{marker: "{marker}"}}
  - key: report
    notebook: notebooks/ok.ipynb
    depends_on: [fragile]
"""


def test_repair_a_failed_run_from_the_run_view(page, ui_project):
    marker = ui_project.root / "fragile.marker"
    ui_project.workflow("fragile", FRAGILE.format(marker=marker))
    view = run_from_panel(page, "fragile")
    expect(view).to_have_attribute("data-state", "failed", timeout=90_000)
    expect(view.locator('.nbflow-dag-node[data-task="report"]')).to_have_attribute(
        "data-state", "upstream_failed"
    )
    details = view.locator('.nbflow-task-details[data-task="fragile"]')
    expect(details.locator(".nbflow-attempt-error")).to_contain_text("RuntimeError")
    page.shots("failed-run")

    view.locator(".nbflow-repair").click()
    page.locator(".jp-Dialog .jp-mod-accept", has_text="Repair").click()
    expect(view).to_have_attribute("data-state", "success", timeout=90_000)
    expect(view).to_contain_text("repaired 1×")
    view.locator('.nbflow-dag-node[data-task="fragile"]').click()
    expect(details.locator("tr[data-attempt]")).to_have_count(2)
    page.shots("repaired-run")
    run = page.lab.api("GET", "runs/1")
    attempts = {t["key"]: [a["state"] for a in t["attempts"]] for t in run["tasks"]}
    assert attempts == {
        "prepare": ["success"],  # succeeded before: not run again
        "fragile": ["failed", "success"],
        "report": ["success"],
    }


def test_an_executed_notebook_opens_as_a_record_without_a_kernel(page, ui_project):
    ui_project.workflow(
        "single", "tasks:\n  - {key: double, notebook: notebooks/ok.ipynb, parameters: {x: 4}}\n"
    )
    view = run_from_panel(page, "single")
    expect(view).to_have_attribute("data-state", "success", timeout=90_000)
    view.locator(".nbflow-open-attempt").first.click()
    executed = page.locator(".jp-NotebookPanel:visible")
    expect(executed.locator(".jp-Cell").filter(has_text="# Parameters")).to_contain_text("x = 4")
    # The view says once it knows: it has no kernel, and started none.
    expect(executed.locator(".nbflow-record-note")).to_have_attribute("data-kernel", "none")
    assert page.lab.jupyter("sessions") == [] and page.lab.jupyter("kernels") == []
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
    expect(tab).to_have_text("Run 1 · double · attempt-1.ipynb")
    expect(tab).not_to_have_class(re.compile("jp-mod-dirty"))
    # Read-only: typing into a cell changes nothing.
    editor = executed.locator(".jp-CodeCell .cm-content").first
    text = editor.inner_text()
    editor.click()
    page.keyboard.type("changed = True")
    expect(editor).to_have_text(text)
    expect(tab).not_to_have_class(re.compile("jp-mod-dirty"))
    page.shots("executed-notebook")
    # It closes without asking to save anything.
    tab.locator(".lm-TabBar-tabCloseIcon").click()
    expect(executed).to_have_count(0)
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    assert page.lab.jupyter("sessions") == []


PARAMETERS = """\
parameters: {{x: 1}}
tasks:
  - {{key: first, notebook: notebooks/ok.ipynb}}
  - key: fragile
    notebook: notebooks/flaky.ipynb
    depends_on: [first]
    parameters: {{marker: "{marker}"}}
  - {{key: last, notebook: notebooks/ok.ipynb, depends_on: [fragile]}}
"""


def _injected(page, run_id: int, task: str, attempt: int) -> str:
    """The parameters cell papermill injected into an attempt's executed notebook."""
    artifact = page.lab.api("GET", f"runs/{run_id}/artifact?task={task}&attempt={attempt}")
    cells = artifact["content"]["cells"]
    tagged = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    return "".join(tagged[0]["source"])


def test_run_now_and_repair_with_other_parameters(page, ui_project):
    marker = ui_project.root / "fragile.marker"
    ui_project.workflow("params", PARAMETERS.format(marker=marker))
    open_lab(page)
    open_panel(page)
    entry = page.locator('.nbflow-workflow[data-workflow="params"]')
    page.shots("panel", page.locator("#nbflow-panel"))
    entry.locator(".nbflow-run-with").click()
    dialog = page.locator(".nbflow-params-dialog")
    field = dialog.locator('input[name="x"]')
    expect(field).to_have_value("1")  # the workflow's default
    # A value of the wrong type is refused before anything is sent.
    field.fill("five")
    dialog.locator(".jp-Dialog-footer .jp-mod-accept").click()
    expect(dialog.locator(".nbflow-error")).to_contain_text("x: expected a whole number")
    assert page.lab.api("GET", "runs") == []
    field.fill("5")
    page.shots("run-with-parameters", dialog.locator(".jp-Dialog-content"))
    dialog.locator(".jp-Dialog-footer .jp-mod-accept", has_text="Run now").click()
    expect(dialog).to_have_count(0)

    view = page.locator(".nbflow-run-view[data-run='1']")
    expect(view).to_have_attribute("data-state", "failed", timeout=90_000)
    run = page.lab.api("GET", "runs/1")
    assert run["parameters"] == {"x": 5}
    assert run["tasks"][0]["values"] == {"doubled": 10}
    assert "x = 5" in _injected(page, 1, "first", 1)

    view.locator(".nbflow-repair").click()
    repair = page.locator(".nbflow-params-dialog")
    # Pre-filled with the values the run used.
    expect(repair.locator('input[name="x"]')).to_have_value("5")
    repair.locator('input[name="x"]').fill("21")
    page.shots("repair-with-parameters", repair.locator(".jp-Dialog-content"))
    repair.locator(".jp-Dialog-footer .jp-mod-accept", has_text="Repair").click()
    expect(view).to_contain_text("repaired 1×", timeout=90_000)
    expect(view).to_have_attribute("data-state", "success", timeout=90_000)
    run = page.lab.api("GET", "runs/1")
    assert run["parameters"] == {"x": 21}
    values = {t["key"]: t["values"] for t in run["tasks"]}
    assert values["first"] == {"doubled": 10}  # kept from before the repair
    assert values["last"] == {"doubled": 42}
    assert "x = 21" in _injected(page, 1, "last", 1)


SLOW = """\
tasks:
  - key: sleep
    notebook: notebooks/sleepy.ipynb
    parameters: {{seconds: 300, marker: "{marker}"}}
  - key: after
    notebook: notebooks/ok.ipynb
    depends_on: [sleep]
"""


def test_cancel_a_running_run_from_the_run_view(page, ui_project):
    marker = ui_project.root / "sleepy.pid"
    ui_project.workflow("slow", SLOW.format(marker=marker))
    view = run_from_panel(page, "slow")
    expect(view.locator('.nbflow-dag-node[data-task="sleep"]')).to_have_attribute(
        "data-state", "running", timeout=60_000
    )
    expect(page.locator('#nbflow-panel .nbflow-run-item[data-run="1"]')).to_have_attribute(
        "data-state", "running"
    )
    view.locator(".nbflow-cancel").click()
    expect(view).to_have_attribute("data-state", "canceled", timeout=60_000)
    expect(view.locator('.nbflow-dag-node[data-task="after"]')).to_have_attribute(
        "data-state", "upstream_canceled"
    )
    expect(view.locator(".nbflow-cancel")).to_be_disabled()
    page.shots("canceled-run")


def test_the_browser_session_needs_the_xsrf_token_to_change_anything(page, ui_project):
    """Logged in by cookie, as the extension is: a POST without Jupyter's XSRF header is refused."""
    open_lab(page)
    answers = page.evaluate(
        """async () => {
            const xsrf = document.cookie.split('; ').find(c => c.startsWith('_xsrf='));
            const post = headers => fetch('/nbflow/api/runs', {
                method: 'POST', body: JSON.stringify({workflow: 'nope'}), headers,
                credentials: 'same-origin'
            }).then(async r => [r.status, await r.text()]);
            return {
                without: await post({}),
                with: await post({'X-XSRFToken': decodeURIComponent(xsrf.split('=')[1])}),
            };
        }"""
    )
    assert answers["without"][0] == 403
    status, body = answers["with"]
    assert status == 404 and "nope" in body
    assert page.lab.api("GET", "runs") == []


def test_a_child_run_opens_from_its_parent_and_back(page, ui_project):
    ui_project.workflow("child", "tasks:\n  - {key: inner, notebook: notebooks/ok.ipynb}\n")
    ui_project.workflow("parent", "tasks:\n  - {key: sub, workflow: child}\n")
    view = run_from_panel(page, "parent")
    expect(view).to_have_attribute("data-state", "success", timeout=90_000)
    view.locator('.nbflow-dag-node[data-task="sub"]').click()
    view.locator(".nbflow-open-child").click()
    child = page.locator(".nbflow-run-view[data-run='2']")
    expect(child).to_have_attribute("data-state", "success")
    expect(child.locator('.nbflow-dag-node[data-task="inner"]')).to_be_visible()
    child.locator(".nbflow-open-parent").click()
    expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")).to_contain_text(
        "Run #1"
    )


FAN_OUT = """\
tasks:
  - key: each
    notebook: notebooks/ok.ipynb
    for_each: {inputs: [1, 2, 3], concurrency: 2}
    parameters: {x: "{{input}}"}
"""


def test_for_each_iterations_each_keep_their_notebook(page, ui_project):
    ui_project.workflow("fan", FAN_OUT)
    view = run_from_panel(page, "fan")
    expect(view).to_have_attribute("data-state", "success", timeout=90_000)
    node = view.locator('.nbflow-dag-node[data-task="each"]')
    expect(node).to_contain_text("3/3")
    node.click()
    iterations = view.locator(".nbflow-iteration")
    expect(iterations).to_have_count(3)
    expect(iterations.nth(1)).to_contain_text("doubled")
    page.shots("for-each")
    iterations.nth(1).locator(".nbflow-open-attempt").click()
    executed = page.locator(".jp-NotebookPanel:visible")
    expect(executed.locator(".jp-Cell").filter(has_text="# Parameters")).to_contain_text("x = 2")
