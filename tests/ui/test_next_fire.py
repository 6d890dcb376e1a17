"""A schedule's next fire time reads in the schedule's own time zone, as its cron does."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import ARTIFACTS, open_lab, open_panel

pytestmark = [pytest.mark.browser]

TOKYO = """\
schedule: {cron: "30 7 * * *", timezone: Asia/Tokyo}
tasks:
  - {key: only, command: ["true"]}
"""


def test_the_next_fire_time_is_shown_in_the_schedules_zone(browser, lab, ui_project):
    ui_project.workflow("morning", TOKYO)
    # A browser far from Tokyo: 07:30 there is 14:30 or 15:30 the day before in Los Angeles.
    context = browser.new_context(timezone_id="America/Los_Angeles", locale="en-US")
    try:
        page = context.new_page()
        page.lab = lab
        open_lab(page)
        open_panel(page)
        entry = page.locator('.nbflow-workflow[data-workflow="morning"]')
        next_time = entry.locator(".nbflow-next-time")
        expect(next_time).to_contain_text("07:30 AM")
        expect(next_time).to_contain_text("GMT+9")
        # The browser's own time (14:30 or, in summer, 15:30 the day before) is a hover away.
        expect(next_time).to_have_attribute(
            "title", re.compile(r"0[23]:30:00 PM in your browser's time$")
        )
        entry.screenshot(path=str(ARTIFACTS / "next_fire-panel.png"))
    finally:
        context.close()
