"""What stations fetch and push over HTTP(S): firmware downloads and diagnostics/log uploads.

Stations carry no credential here: the unguessable token in the path is the credential
(docs/adr/0051-serving-firmware.md, docs/adr/0052-diagnostics-uploads.md).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import selectors
from .services.files import UploadClosed, UploadTooLarge, diagnostics_upload_store, upload_max_bytes
from .services.updates import firmware_download_record
from .models import safe_filename

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


# --- Firmware downloads ----------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
def firmware_download(request, token: str, filename: str = ""):
    firmware, target = selectors.firmware_for_download(token=token)
    if firmware is None or not firmware.file:
        raise Http404("no such firmware")
    if target is not None and request.method == "GET":
        firmware_download_record(target_id=target.pk)
    return serve_file(request, firmware.file, firmware.filename)


def serve_file(request, field_file, filename: str, *, attachment: bool = True) -> HttpResponse:
    """A stored file with single byte-range support, so that stations can resume an interrupted download."""
    try:
        size = field_file.size
    except FileNotFoundError:
        raise Http404("the file is gone") from None
    disposition = f"{'attachment' if attachment else 'inline'}; filename*=UTF-8''{quote(filename)}"
    byte_range = parse_range(request.headers.get("Range", ""), size)
    if byte_range == "unsatisfiable":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if request.method == "HEAD":
        response = HttpResponse(content_type="application/octet-stream")
        response["Content-Length"] = str(size)
    elif byte_range is None:
        response = FileResponse(field_file.open("rb"), content_type="application/octet-stream")
    else:
        start, end = byte_range
        response = StreamingHttpResponse(_read_range(field_file, start, end), status=206,
                                         content_type="application/octet-stream")
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = disposition
    return response


def parse_range(header: str, size: int):
    """(start, end) of a single `bytes=` range, None for the whole file, or "unsatisfiable"."""
    match = RANGE.match(header.strip())
    if not match or not (match.group(1) or match.group(2)):
        return None  # absent, multi-range or malformed: the whole file, as RFC 9110 allows
    first, last = match.groups()
    if not first:  # the last N bytes
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, end


def _read_range(field_file, start: int, end: int):
    with field_file.open("rb") as handle:
        handle.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


# --- Diagnostics and log uploads ---------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["PUT", "POST"])
def diagnostics_upload(request, token: str, filename: str = ""):
    """Accept the file a station uploads: PUT or POST, as the raw body or multipart/form-data; 410
    once the station reported the upload done or the location expired."""
    upload_request = selectors.diagnostics_request_for_upload(token=token)
    if upload_request is None:
        raise Http404("no such upload location")
    refusal = selectors.diagnostics_upload_refusal(upload_request)
    if refusal:
        return JsonResponse({"detail": refusal}, status=410)
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > upload_max_bytes():
        return JsonResponse({"detail": f"uploads are limited to {upload_max_bytes()} bytes"}, status=413)
    content_type = request.META.get("CONTENT_TYPE", "")
    try:
        if content_type.startswith("multipart/form-data"):
            chunks, name, file_type = _multipart_file(request)
        else:
            chunks, name, file_type = _raw_body(request), _disposition_filename(request), content_type
    except MultiPartParserError as exc:
        return JsonResponse({"detail": f"malformed multipart body: {exc}"}, status=400)
    if chunks is None:
        return JsonResponse({"detail": "no file in the multipart body"}, status=400)
    fallback = upload_request.file_name or f"{upload_request.kind}-{upload_request.pk}.bin"
    stored_name = safe_filename(filename or name or upload_request.file_name, safe_filename(fallback, "upload.bin"))
    try:
        stored = diagnostics_upload_store(request=upload_request, chunks=chunks, filename=stored_name,
                                          content_type=file_type)
    except UploadTooLarge as exc:
        return JsonResponse({"detail": str(exc)}, status=413)
    except UploadClosed as exc:
        return JsonResponse({"detail": str(exc)}, status=410)
    return JsonResponse({"detail": "received", "size": stored.file_size, "sha256": stored.file_sha256})


def _raw_body(request):
    return iter(lambda: request.read(CHUNK), b"")


def _multipart_file(request):
    if request.method == "POST":
        files = request.FILES
    else:  # Django parses multipart bodies of POST only
        _, files = request.parse_file_upload(request.META, request)
    upload = next(iter(files.values()), None)
    if upload is None:
        return None, "", ""
    return upload.chunks(), upload.name, upload.content_type or ""


def _disposition_filename(request) -> str:
    match = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', request.headers.get("Content-Disposition", ""))
    return match.group(1) if match else ""
