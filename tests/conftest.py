"""Shared test set-up. Each area keeps its own fixtures in its own block below."""

import os

# Installed third-party plugins must never leak into the test run.
os.environ["BILLING_REPORTS_LOAD_ENTRY_POINTS"] = "0"
# Nobody's real key or proxy settings reach a test.
os.environ.pop("CURSOR_API_KEY", None)
os.environ.pop("CURSOR_API_BASE_URL", None)
