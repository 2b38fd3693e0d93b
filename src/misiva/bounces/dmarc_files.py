"""A DMARC aggregate report's file, from the bytes given to its XML: plain, gzip or zip
(RFC 7489 §7.2.1.1), decompressed within limits so that a small bomb cannot fill memory;
and the report files a mail carries as attachments."""

from __future__ import annotations

import email
import email.policy
import io
import zipfile
import zlib
from email.message import EmailMessage
from typing import Final

from misiva.domain.dmarc import MAX_FILE_BYTES, MAX_XML_BYTES, BadReport, ReportTooLarge

_GZIP: Final = b"\x1f\x8b"
_ZIP: Final = b"PK\x03\x04"
_CHUNK: Final = 64 * 1024
# What reporters send (Google: application/zip; Microsoft and Yahoo: application/gzip;
# some text/xml); the file name settles the rest (application/octet-stream...).
_REPORT_TYPES: Final = frozenset(
    {
        "application/gzip",
        "application/x-gzip",
        "application/zip",
        "application/x-zip-compressed",
        "application/xml",
        "text/xml",
    }
)
_REPORT_SUFFIXES: Final = (".xml", ".xml.gz", ".gz", ".zip")


def report_xml(data: bytes) -> bytes:
    """The report's XML from a file's bytes, told apart by their first bytes, not a name."""
    if len(data) > MAX_FILE_BYTES:
        raise ReportTooLarge(f"The report file is over {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    if data.startswith(_GZIP):
        return _gunzip(data)
    if data.startswith(_ZIP):
        return _unzip(data)
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _bounded(data)
    raise BadReport("The file is neither XML nor a gzip or zip file holding XML.")


def _bounded(xml: bytes) -> bytes:
    if len(xml) > MAX_XML_BYTES:
        raise ReportTooLarge(_too_large())
    return xml


def _too_large() -> str:
    return f"The report decompresses to more than {MAX_XML_BYTES // (1024 * 1024)} MB."


def _gunzip(data: bytes) -> bytes:
    """Decompress a chunk of output at a time and stop past the limit: a gzip header's size
    field is only the size modulo 4 GiB and may lie, so the output itself is what counts."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = data
    try:
        while pending and not inflater.eof:
            out += inflater.decompress(pending, _CHUNK)
            if len(out) > MAX_XML_BYTES:
                raise ReportTooLarge(_too_large())
            pending = inflater.unconsumed_tail
        out += inflater.flush()
    except zlib.error as error:
        raise BadReport(f"The gzip file is damaged: {error}.") from None
    if not inflater.eof:
        raise BadReport("The gzip file is cut short.")
    return _bounded(bytes(out))


def _unzip(data: bytes) -> bytes:
    """The one XML member of a zip, read in chunks against the limit (the sizes a zip's
    directory declares are the sender's word, not a guarantee)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
        xml = [m for m in members if m.filename.lower().endswith(".xml")] or members
        if not xml:
            raise BadReport("The zip file is empty.")
        if xml[0].file_size > MAX_XML_BYTES:
            raise ReportTooLarge(_too_large())
        out = bytearray()
        with archive.open(xml[0]) as member:
            while chunk := member.read(_CHUNK):
                out += chunk
                if len(out) > MAX_XML_BYTES:
                    raise ReportTooLarge(_too_large())
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise BadReport(f"The zip file cannot be read: {error}.") from None
    return bytes(out)


def report_attachments(raw: bytes) -> list[tuple[str, bytes]]:
    """The (file name, bytes) of each part of a mail that looks like a DMARC report file."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    found = []
    for part in message.walk():
        if part.is_multipart():
            continue
        name = (part.get_filename() or "").strip()
        kind = part.get_content_type().lower()
        if kind not in _REPORT_TYPES and not name.lower().endswith(_REPORT_SUFFIXES):
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and payload:
            found.append((name, payload))
    return found
