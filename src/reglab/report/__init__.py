"""Reports: HTML / Markdown pages, plots, diagnosis, and ``reglab explain``.

Submodules are imported on use (``from reglab.report import explain``) so that this
package stays light: matplotlib and jinja2 load only when a report is drawn.
"""
