"""How records look: plain text for ``print`` and HTML for Jupyter.

The HTML is a request/response pair side by side, built from the record
alone: no random ids, no scripts, the same input gives the same bytes. Long
answers are cut after :data:`MAX_ANSWER_CHARS` characters (the record keeps
them whole: ``record.answer``).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from kfresearch.trace.recording import Trace
    from kfresearch.trace.records import HttpRecord, WsRecord

__all__ = ["MAX_ANSWER_CHARS", "record_html", "record_text", "trace_html", "ws_html"]

MAX_ANSWER_CHARS = 3000

_BOX = "font-family:monospace;font-size:12px;"
_CELL = "vertical-align:top;text-align:left;padding:4px 8px;border:1px solid #ddd;"
_PRE = "margin:0;white-space:pre-wrap;word-break:break-all;"
_BAD = "color:#b00020;font-weight:bold;"
_GOOD = "color:#1b5e20;font-weight:bold;"


def _pretty(value: Any, raw: bytes | str) -> str:
    """Indented JSON (keys in the exchange's order), else the text; cut when long."""
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    else:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    if len(text) > MAX_ANSWER_CHARS:
        cut = len(text) - MAX_ANSWER_CHARS
        text = f"{text[:MAX_ANSWER_CHARS]}\n… ({cut:,} more characters: record.answer has it all)"
    return text


def _header_lines(headers: tuple[tuple[str, str], ...]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers)


def _request_text(record: HttpRecord) -> str:
    parts = [f"{record.method} {record.url}", _header_lines(record.request_headers)]
    if record.request_body:
        parts += ["", record.request_body]
    return "\n".join(parts)


def _response_text(record: HttpRecord) -> str:
    if record.status is None:
        return f"no answer: {record.failure}"
    parts = [f"HTTP {record.status}", _header_lines(record.response_headers), ""]
    parts.append(_pretty(record.answer, record.response_body))
    return "\n".join(parts)


def _cost_line(record: HttpRecord, *, levels: bool) -> str:
    if record.pool is None or record.cost == 0:
        text = "free (public: no rate-limit pool)"
    else:
        text = f"cost {record.cost:g} on the {record.pool} pool"
        if levels and record.pool_before is not None and record.pool_after is not None:
            text += f": {record.pool_before:.1f} → {record.pool_after:.1f} units"
        if levels and record.waited > 0:
            text += f", waited {record.waited:.3f} s for it"
    if record.attempt > 1:
        text += f"; attempt {record.attempt}"
    return text


def record_text(record: HttpRecord) -> str:
    """The request, then the answer, as plain text (no timings: they change run to run)."""
    return "\n".join(
        [_request_text(record), "", _response_text(record), "", _cost_line(record, levels=False)]
    )


def record_html(record: HttpRecord) -> str:
    """The request and the answer side by side, with cost, pool levels and time taken."""
    error = record.error
    verdict = (
        f'<span style="{_BAD}">{html.escape(error)}</span>'
        if error
        else f'<span style="{_GOOD}">{html.escape(record.result or "ok")}</span>'
    )
    status = "no answer" if record.status is None else f"HTTP {record.status}"
    footer = html.escape(_cost_line(record, levels=True))
    footer += f"; answered in {record.elapsed * 1000:.1f} ms"
    why = record.header("X-Sim-Why", response=True)
    note = (
        f'<tr><td colspan="2" style="{_CELL}">the simulator says why (not sent by the '
        f"exchange): <i>{html.escape(why)}</i></td></tr>"
        if why
        else ""
    )
    return (
        f'<div style="{_BOX}"><table style="border-collapse:collapse">'
        f'<tr><th style="{_CELL}">request: {html.escape(record.method)} '
        f"{html.escape(record.path)}</th>"
        f'<th style="{_CELL}">answer: {status} {verdict}</th></tr>'
        f'<tr><td style="{_CELL}"><pre style="{_PRE}">{html.escape(_request_text(record))}</pre>'
        f'</td><td style="{_CELL}"><pre style="{_PRE}">{html.escape(_response_text(record))}'
        f"</pre></td></tr>{note}"
        f'<tr><td colspan="2" style="{_CELL}">{footer}</td></tr></table></div>'
    )


def ws_html(record: WsRecord) -> str:
    """One WebSocket message: direction, URL and the indented message."""
    arrow = "client → exchange" if record.direction == "sent" else "exchange → client"
    error = record.error
    flag = f' <span style="{_BAD}">{html.escape(error)}</span>' if error else ""
    return (
        f'<div style="{_BOX}"><b>{arrow}</b> {html.escape(record.url)}{flag}'
        f'<pre style="{_PRE}">{html.escape(_pretty(record.message, record.text))}</pre></div>'
    )


def trace_html(trace: Trace) -> str:
    """A table of every record: what was sent, what came back, cost and pool levels."""
    rows = []
    for index, record in enumerate(trace):
        row = record.row()
        if record.kind == "http":
            what = f"{row['method']} {row['path']}" + (f"?{row['query']}" if row["query"] else "")
            answer = row["error"] or row["result"] or ""
            status = "—" if row["status"] is None else str(row["status"])
            cost = "" if not row["pool"] else f"{row['cost']:g} {row['pool']}"
            if row["pool_before"] is not None and row["pool_after"] is not None and row["pool"]:
                cost += f" ({row['pool_before']:.0f}→{row['pool_after']:.0f})"
        else:
            arrow = "→" if row["method"] == "SEND" else "←"
            what = f"WS {arrow} {row['result']}"
            answer, status, cost = row["error"] or "", "", ""
        style = _BAD if row["error"] else ""
        rows.append(
            f'<tr><td style="{_CELL}">{index}</td><td style="{_CELL}">{html.escape(what)}</td>'
            f'<td style="{_CELL}">{status}</td>'
            f'<td style="{_CELL}{style}">{html.escape(str(answer))}</td>'
            f'<td style="{_CELL}">{html.escape(cost)}</td></tr>'
        )
    head = "".join(
        f'<th style="{_CELL}">{name}</th>' for name in ("#", "sent", "status", "answer", "cost")
    )
    return (
        f'<div style="{_BOX}"><p>{html.escape(trace.summary())}; <code>t[i]</code> shows one '
        f"in full, <code>t.frame()</code> all of them as a DataFrame.</p>"
        f'<table style="border-collapse:collapse"><tr>{head}</tr>{"".join(rows)}</table></div>'
    )
