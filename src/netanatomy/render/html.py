"""The HTML report: one self-contained file (no CDN, no server) holding the page template,
its styles and scripts (``render/assets``, the vendored libraries with their licences) and
the report's data as JSON (``netanatomy.report/1``, :mod:`netanatomy.render.report_data`).
Python computes every number; the page only lays out and draws.

:func:`page` fills a template's six markers, each present once:
``<!--NETANATOMY:TITLE-->`` (text-escaped), ``<!--NETANATOMY:STYLE-->`` (one ``<style>``),
``<!--NETANATOMY:DATA-->`` (``<script id="netanatomy-data" type="application/json">``
with ``<``, ``>``, ``&``, U+2028 and U+2029 written as ``\\u`` escapes, so no value, a layer
name included, can end the element), ``<!--NETANATOMY:SCRIPTS-->`` (one ``<script>``
per file, each ``</script`` written ``<\\/script``), and ``<!--NETANATOMY:GRAPH-->`` /
``<!--NETANATOMY:TABLES-->``, the markup both pages share (:data:`FRAGMENTS`).

``--format html`` is registered for ``summary`` (the same page as ``netanatomy report``
without ``--include``) and for the commands whose JSON goes under ``sections``.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from typing import Any

from netanatomy.errors import NetanatomyError
from netanatomy.render.registry import Options, renderer
from netanatomy.render.report_data import SCHEMA, generator, report_payload
from netanatomy.render.results import FieldResult, ReportResult, SummaryResult

MARKERS = ("TITLE", "STYLE", "DATA", "SCRIPTS", "GRAPH", "TABLES")

FRAGMENTS = {"GRAPH": "graph-section.html", "TABLES": "results-sections.html"}
"""Markup both pages share (the graph section; the table, plots and conventions), put in at
their markers so the report and the playground cannot drift apart."""

VENDOR = (("vendor/dagre.min.js", "vendor/dagre.LICENSE"),
          ("vendor/uPlot.iife.min.js", "vendor/uPlot.LICENSE"))
"""The vendored scripts, each with its licence (put in the page as a comment before it)."""

STYLES = ("vendor/uPlot.min.css", "report.css")

SCRIPTS = {"report.html": ("report.js",), "playground.html": ("report.js", "playground.js")}
"""The page's own scripts per template, after the vendored ones."""

JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                "\u2029": "\\u2029"}


class AssetError(NetanatomyError):
    """A file of the page (template, style, script) is missing from the install."""


def asset(name: str) -> str:
    """The text of ``render/assets/NAME``.

    Raises:
        AssetError: the file is not installed.
    """
    path = resources.files("netanatomy.render").joinpath("assets", *name.split("/"))
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        raise AssetError(f"the HTML report's asset {name!r} is missing from "
                         f"{path} (a broken install? reinstall netanatomy)") from None


def data_json(payload: Any) -> str:
    """The payload as one line of JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda m: JSON_ESCAPES[m.group()], text)


def script_text(text: str) -> str:
    """A script's text that cannot end its ``<script>`` element early."""
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)


def style_text(text: str) -> str:
    return re.sub(r"</(style)", r"<\\/\1", text, flags=re.IGNORECASE)


def licence_comment(licence: str) -> str:
    return "/*!\n" + licence.replace("*/", "* /") + "\n*/\n"


def fill(template: str, name: str, parts: dict[str, str]) -> str:
    """Replace each marker of ``template`` by its part.

    Raises:
        AssetError: a marker absent or present more than once.
    """
    for marker in MARKERS:
        count = template.count(f"<!--NETANATOMY:{marker}-->")
        if count != 1:
            raise AssetError(f"the template {name!r} has the marker <!--NETANATOMY:{marker}--> "
                             f"{count} times, not once")
    pattern = re.compile("<!--NETANATOMY:(" + "|".join(MARKERS) + ")-->")
    return pattern.sub(lambda m: parts[m.group(1)], template)


def page(payload: Any, template: str = "report.html") -> str:
    """The self-contained HTML page of ``payload`` (a ``netanatomy.report/1`` document, or
    None for an empty playground) built on the template ``render/assets/TEMPLATE``.

    Raises:
        AssetError: the template or one of its files is missing, or a marker is not there
        exactly once.
    """
    text = asset(template)
    scripts = [licence_comment(asset(licence)) + asset(script) for script, licence in VENDOR]
    scripts += [asset(name) for name in SCRIPTS.get(template, ("report.js",))]
    title = payload.get("title", "netanatomy") if isinstance(payload, dict) else "netanatomy"
    parts = {
        "TITLE": html.escape(str(title)),
        "STYLE": "<style>\n" + "\n".join(style_text(asset(n)) for n in STYLES) + "\n</style>",
        "DATA": '<script id="netanatomy-data" type="application/json">' + data_json(payload)
                + "</script>",
        "SCRIPTS": "\n".join(f"<script>\n{script_text(s)}\n</script>" for s in scripts),
        **{marker: asset(name) for marker, name in FRAGMENTS.items()},
    }
    return fill(text, template, parts)


def summary_payload(result: SummaryResult) -> dict[str, Any]:
    """The payload of a summary: a spec's always carries its derivations."""
    explanations = result.explanations
    if explanations is None and result.report.capture.frontend == "spec":
        from netanatomy.analysis.explain import explain

        explanations = explain(result.report.graph)
    sections = result.sections if isinstance(result, ReportResult) else {}
    return report_payload(result.report, explanations=explanations, sections=sections,
                          source=result.source)


@renderer("summary", "html")
def summary_html(result: SummaryResult, options: Options) -> str:
    return page(summary_payload(result))


def section_payload(command: str, result: Any) -> dict[str, Any]:
    """A page of one command's result: its JSON under ``sections``; ``summary`` is null
    (the result carries no per-layer cost report) and the graph empty; ``images`` the
    figures the command draws (lab, attribute, diagnose; :mod:`netanatomy.render.figures`)."""
    from netanatomy.render.figures import command_images
    from netanatomy.render.registry import registered

    document = json.loads(registered()[(command, "json")].write(result, Options(indent=None)))
    return {"schema": SCHEMA, "generator": generator(),
            "title": f"netanatomy {command}", "source": None, "summary": None,
            "explain": None, "graph": {"modules": [], "ops": [], "inputs": [], "groups": []},
            "sections": {command: document}, "images": command_images(command, result)}


def section_renderer(command: str) -> None:
    @renderer(command, "html")
    def write(result: Any, options: Options) -> str:
        return page(section_payload(command, result))


for _command in ("training", "inference", "diagnose", "lint", "lab", "profile", "attribute"):
    section_renderer(_command)


@renderer("rf", "html")
def rf_html(result: FieldResult, options: Options) -> str:
    """``rf``: the summary's page (its table has the rf columns) with the ``rf --plot``
    figure under ``images``."""
    from netanatomy.render.figures import command_images

    return page(report_payload(result.report, images=command_images("rf", result.report)))
