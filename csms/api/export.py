"""CSV exports next to an endpoint's JSON: `?format=csv` streams every row (no pagination), while
errors stay JSON like every error under /api/."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer


class CSVRenderer(BaseRenderer):
    """Lets `?format=csv` (or `Accept: text/csv`) through content negotiation; the view streams the
    rows itself with `csv_response`."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        rows = data if isinstance(data, list) else [data]
        lines = _Lines()
        writer = csv.writer(lines)
        if rows and isinstance(rows[0], dict):
            writer.writerow(rows[0].keys())
            for row in rows:
                writer.writerow(row.values())
        return "".join(lines.parts).encode()


class _Lines:
    """A file-like sink for csv.writer that hands back each line."""

    def __init__(self):
        self.parts: list[str] = []

    def write(self, text: str) -> str:
        self.parts.append(text)
        return text


def csv_response(rows: Iterable[dict], columns: list[str], filename: str) -> StreamingHttpResponse:
    """Stream rows (dicts) as CSV with a header line, one row at a time."""
    sink = _Lines()
    writer = csv.writer(sink)

    def lines():
        yield writer.writerow(columns)
        for row in rows:
            yield writer.writerow([_cell(row.get(column)) for column in columns])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _cell(value) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def wants_csv(request) -> bool:
    renderer = getattr(request, "accepted_renderer", None)
    return renderer is not None and renderer.format == "csv"


class ErrorsAsJsonMixin:
    """A view that also renders CSV answers its errors in JSON."""

    def finalize_response(self, request, response, *args, **kwargs):
        if getattr(response, "status_code", 200) >= 400 and wants_csv(request):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
