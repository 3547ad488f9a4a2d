"""Pictures in and out of the API: base64 (with or without a ``data:`` prefix), and guarded image URLs.

URLs are fetched only while setting ``api_enable_requests`` allows it, and with
``api_forbid_local_requests`` (the default) never from a loopback, private, link-local or
otherwise non-global address.  The host is resolved once, every address checked, and the
connection made to the checked address (with the original host name for TLS and the ``Host``
header), so a DNS answer that changes between check and use cannot redirect the request.
Redirects are followed by hand, each target checked the same way.
"""
from __future__ import annotations

import base64
import binascii
import io
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from PIL import Image, PngImagePlugin

from modules.api.errors import ApiError
from modules.core.limits import ImageDecodeError, ImageTooLargeError, open_image
from modules.core.services import current_services

MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
"""A picture of more bytes than this (decoded base64, or an image URL's answer) is refused."""
URL_TIMEOUT = 30.0
MAX_REDIRECTS = 3


def _opt(key: str, default: Any) -> Any:
    opts = current_services().opts
    return getattr(opts, key, default) if opts is not None else default


def decode_base64_to_image(encoding: Any, field: str = "image") -> Image.Image:
    """The picture in ``encoding`` (base64, ``data:image/...;base64,...`` or an allowed URL).

    Raises :class:`ApiError` (4xx) naming ``field`` when it is not a picture or the URL is refused.
    """
    if not isinstance(encoding, str):
        raise ApiError(422, f"{field}: expected a base64 string, got {type(encoding).__name__}", key=field)
    encoding = encoding.strip()
    if encoding.startswith(("http://", "https://")):
        return _open_image(fetch_url(encoding, field), field)
    if encoding.startswith("data:"):
        _, _, encoding = encoding.partition(",")
    if len(encoding) > MAX_DOWNLOAD_BYTES * 4 // 3 + 4:
        raise ApiError(413, f"{field}: encoded image is larger than {MAX_DOWNLOAD_BYTES} bytes", key=field)
    try:
        data = base64.b64decode(encoding, validate=False)
    except (binascii.Error, ValueError) as e:
        raise ApiError(422, f"{field}: invalid encoded image ({e})", key=field) from e
    return _open_image(data, field)


def _open_image(data: bytes, field: str) -> Image.Image:
    """The picture in ``data``, measured from its header before any pixel is decoded (422 naming ``field``
    when it is not a picture or is over the limits of :mod:`modules.core.limits`)."""
    if not data:
        raise ApiError(422, f"{field}: invalid encoded image (empty)", key=field)
    try:
        return open_image(data, field)
    except (ImageDecodeError, ImageTooLargeError) as e:
        raise ApiError(422, str(e), key=field) from e


def encode_pil_to_base64(image: Any) -> str:
    """``image`` as base64 in setting ``samples_format``: PNG keeps its text chunks (``parameters``), JPEG and
    WEBP carry the infotext as EXIF UserComment (A1111's answer)."""
    if isinstance(image, str):
        return image
    fmt = str(_opt("samples_format", "png") or "png").lower()
    quality = int(_opt("jpeg_quality", 80))
    with io.BytesIO() as output:
        if fmt == "png":
            metadata = PngImagePlugin.PngInfo()
            used = False
            for key, value in image.info.items():
                if isinstance(key, str) and isinstance(value, str):
                    metadata.add_text(key, value)
                    used = True
            image.save(output, format="PNG", pnginfo=metadata if used else None)
        elif fmt in ("jpg", "jpeg", "webp"):
            import piexif
            import piexif.helper

            parameters = image.info.get("parameters", None)
            if image.mode in ("RGBA", "P", "LA"):
                image = image.convert("RGB")
            exif = piexif.dump({"Exif": {piexif.ExifIFD.UserComment: piexif.helper.UserComment.dump(
                parameters or "", encoding="unicode")}})
            image.save(output, format="WEBP" if fmt == "webp" else "JPEG", exif=exif, quality=quality)
        else:
            raise ApiError(500, f"Invalid image format: setting samples_format is {fmt!r}")
        return base64.b64encode(output.getvalue()).decode("ascii")


def encode_preview(image: Any, fmt: str) -> str:
    """A live preview as a ``data:`` URI (setting ``live_previews_image_format``)."""
    fmt = fmt if fmt in ("png", "jpeg", "webp") else "png"
    with io.BytesIO() as output:
        kwargs: dict[str, Any] = {}
        if fmt == "png":
            # optimize is slow on large pictures
            kwargs = {"optimize": True} if max(image.size) <= 256 else {"optimize": False, "compress_level": 1}
        image.convert("RGB").save(output, format=fmt, **kwargs)
        return f"data:image/{fmt};base64,{base64.b64encode(output.getvalue()).decode('ascii')}"


# --- URLs ----------------------------------------------------------------------------------------------------

def _address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve_checked(host: str, port: int, field: str = "image") -> str:
    """One address of ``host`` to connect to; every address must be global while
    ``api_forbid_local_requests`` is on.  Raises :class:`ApiError` otherwise."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as e:
        raise ApiError(422, f"{field}: cannot resolve {host!r}: {e}", key=field) from e
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise ApiError(422, f"{field}: cannot resolve {host!r}", key=field)
    if _opt("api_forbid_local_requests", True) and not all(_address_allowed(a) for a in addresses):
        raise ApiError(403, f"{field}: Request to local resource not allowed ({host})", key=field)
    return addresses[0]


def fetch_url(url: str, field: str = "image") -> bytes:
    """The body of ``url`` under the rules in the module docstring."""
    if not _opt("api_enable_requests", True):
        raise ApiError(403, f"{field}: Requests not allowed (setting api_enable_requests is off)", key=field)
    import httpx

    headers = {}
    agent = _opt("api_useragent", "")
    if agent:
        headers["User-Agent"] = agent
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(422, f"{field}: Invalid image url {url!r}", key=field)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as e:
            raise ApiError(422, f"{field}: Invalid image url {url!r}", key=field) from e
        address = resolve_checked(parts.hostname, port, field)
        pinned_host = f"[{address}]" if ":" in address else address
        pinned = urlunsplit((parts.scheme, f"{pinned_host}:{port}", parts.path or "/", parts.query, ""))
        request_headers = dict(headers, Host=parts.netloc.rsplit("@", 1)[-1])
        try:
            with httpx.Client(timeout=URL_TIMEOUT, follow_redirects=False, trust_env=False) as client:
                with client.stream("GET", pinned, headers=request_headers,
                                   extensions={"sni_hostname": parts.hostname}) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = str(httpx.URL(url).join(response.headers["location"]))
                        continue
                    if response.status_code >= 400:
                        raise ApiError(422, f"{field}: Invalid image url (HTTP {response.status_code})", key=field)
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_DOWNLOAD_BYTES:
                            raise ApiError(413, f"{field}: image url answered more than {MAX_DOWNLOAD_BYTES} bytes", key=field)
                    return bytes(body)
        except httpx.HTTPError as e:
            raise ApiError(422, f"{field}: Invalid image url ({e})", key=field) from e
    raise ApiError(422, f"{field}: Invalid image url (more than {MAX_REDIRECTS} redirects)", key=field)
