"""Tests that drive Debian's headless Chromium through selenium, as a person uses the pages."""
