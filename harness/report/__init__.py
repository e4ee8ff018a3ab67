"""Rendering results: report.html (self-contained) and the terminal summary table."""
from harness.report.html import render_html
from harness.report.terminal import summary_table

__all__ = ["render_html", "summary_table"]
