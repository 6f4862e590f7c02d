"""What the studio accepts from a browser: limits, images decoded before they are kept, zips read with care.

An upload is never stored as the client sent it. Its bytes are decoded by
:func:`cnnlab.data.images.load_image` — an allow-list of formats, and the pixel count read from the
header and checked against ``max_pixels`` *before* decoding, so a decompression bomb is refused with
bounded memory — and the pixels are encoded again: JPEG uploads as JPEG (quality 92), everything else
as PNG, with metadata (EXIF, GPS) dropped and the orientation applied. Photos larger than
``MAX_SIDE`` pixels on their long side are shrunk to it (training never uses more).

A zip is read member by member without extracting anything: at most ``max_files`` members and
``max_unzipped_mb`` in all (from the sizes the zip declares, and again while reading), each member
at most ``max_file_mb``; encrypted members are refused; of each member's path only the name of the
folder it sits in is kept (its class), the rest is ignored.

>>> import io
>>> from PIL import Image
>>> buf = io.BytesIO()
>>> Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, "BMP")
>>> pixels, ext = decode_upload(buf.getvalue(), Limits())
>>> pixels.shape, ext
((30, 40, 3), 'png')
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np
from PIL import Image

from cnnlab.data.images import MAX_PIXELS, load_image
from cnnlab.data.layout import is_system
from cnnlab.errors import ConfigError, ImageError
from cnnlab.studio.safety import TooLarge

MAX_SIDE = 1024  # longer photos are shrunk to this many pixels on their long side
JPEG_QUALITY = 92
MB = 2**20


@dataclass(frozen=True)
class Limits:
    """Upload limits of one studio.

    Args:
        max_upload_mb: one request, in MB (also one zip file).
        max_file_mb: one image file or zip member, in MB.
        max_files: files in one request, and members in one zip.
        max_pixels: pixels of one image (width x height), checked before decoding.
    """

    max_upload_mb: float = 200
    max_file_mb: float = 25
    max_files: int = 2000
    max_pixels: int = MAX_PIXELS

    def __post_init__(self):
        for key in ("max_upload_mb", "max_file_mb", "max_files", "max_pixels"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(key, value, "a positive number")

    @property
    def max_unzipped_mb(self) -> float:
        """What the members of one zip may add up to once unpacked, in MB."""
        return 2 * self.max_upload_mb

    def as_dict(self) -> dict:
        """The limits as the page shows them (``/api/info``)."""
        return {"max_upload_mb": self.max_upload_mb, "max_file_mb": self.max_file_mb,
                "max_files": self.max_files, "max_pixels": self.max_pixels}


def is_zip(head: bytes) -> bool:
    """True when ``head`` (the first bytes of a file) starts a zip archive."""
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def decode_upload(data: bytes, limits: Limits) -> tuple[np.ndarray, str]:
    """Decode uploaded bytes as an image, refusing anything that is not one.

    Args:
        data: the file's bytes, as sent.
        limits: ``max_pixels`` and ``max_file_mb`` apply.

    Returns:
        ``(pixels, ext)``: uint8 ``(H, W)`` or ``(H, W, 3)``, shrunk to ``MAX_SIDE``; ``ext`` is "jpg"
        for JPEG uploads, else "png" (how the studio will store it).

    Raises:
        ImageError: not an image in an allowed format, damaged, too many pixels, or too big.
    """
    if len(data) > limits.max_file_mb * MB:
        raise ImageError(f"the file is {len(data) / MB:.1f} MB, more than the limit of {limits.max_file_mb:g} MB "
                         "per file; make it smaller first")
    fd, tmp = tempfile.mkstemp(prefix="cnnlab-upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return decode_file(tmp, limits)
    except ImageError as e:  # the message names the temporary file: keep only the reason
        raise ImageError(str(e).replace(f"{tmp}: ", "")) from None
    finally:
        os.unlink(tmp)


def decode_file(path: str | os.PathLike, limits: Limits) -> tuple[np.ndarray, str]:
    """Decode an image file on the server's disk (a folder import), as :func:`decode_upload` does bytes.

    Raises:
        ImageError: not an image, damaged, too many pixels, or more than ``max_file_mb``.
    """
    size = os.stat(path).st_size
    if size > limits.max_file_mb * MB:
        raise ImageError(f"{path}: the file is {size / MB:.1f} MB, more than the limit of "
                         f"{limits.max_file_mb:g} MB per file; make it smaller first")
    pixels = load_image(path, max_pixels=limits.max_pixels)
    with open(path, "rb") as f:
        ext = "jpg" if f.read(3) == b"\xff\xd8\xff" else "png"
    h, w = pixels.shape[:2]
    if max(h, w) > MAX_SIDE:
        scale = MAX_SIDE / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.BILINEAR, reducing_gap=3.0))
    return pixels, ext


def encode(pixels: np.ndarray, ext: str) -> bytes:
    """The bytes the studio stores for ``pixels``: PNG, or JPEG at quality 92 (no metadata).

    >>> encode(np.zeros((4, 4), np.uint8), "png")[:4]
    b'\\x89PNG'
    """
    buf = io.BytesIO()
    img = Image.fromarray(np.asarray(pixels, dtype=np.uint8))
    if ext == "jpg":
        img.save(buf, "JPEG", quality=JPEG_QUALITY)
    else:
        img.save(buf, "PNG")
    return buf.getvalue()


@dataclass
class Member:
    """One file inside a zip: its shown name, its path's parts, its bytes or why it was refused."""

    name: str
    parts: list[str]
    data: bytes | None = None
    reason: str | None = None

    @property
    def folder(self) -> str | None:
        """The name of the folder the file sits in (its class), or None for a file at the top."""
        return self.parts[-2] if len(self.parts) >= 2 else None


def zip_members(file: BinaryIO, limits: Limits, shown: str = "zip") -> Iterator[Member]:
    """The files of a zip, each read with the limits (nothing is extracted to disk).

    Hidden and system files (``__MACOSX/``, ``.DS_Store``, ``Thumbs.db``) are skipped silently.

    Args:
        file: the zip, an open binary file (seekable).
        limits: ``max_files`` members, ``max_unzipped_mb`` in all, ``max_file_mb`` each.
        shown: the zip's name in messages.

    Yields:
        :class:`Member` s; ``folder`` is the name of the folder the member sits in (None at the top).

    Raises:
        TooLarge: too many members, or too many MB once unpacked.
        ImageError: not a readable zip.
    """
    try:
        zf = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ImageError(f"{shown}: not a readable zip file ({e})") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > limits.max_files:
            raise TooLarge(f"{shown} holds {len(infos):,} files, more than the limit of {limits.max_files:,}; "
                           "split it into smaller zips")
        total = sum(i.file_size for i in infos)
        if total > limits.max_unzipped_mb * MB:
            raise TooLarge(f"{shown} unpacks to {total / MB:,.0f} MB, more than the limit of "
                           f"{limits.max_unzipped_mb:g} MB; split it into smaller zips")
        budget = limits.max_unzipped_mb * MB
        for info in infos:
            parts = [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".", "..")]
            if not parts or any(is_system(p) for p in parts):
                continue
            member = Member(f"{shown}/{'/'.join(parts)}"[-120:], parts)
            member.reason = _read_member(zf, info, limits, member)
            if member.data is not None:
                budget -= len(member.data)
                if budget < 0:
                    raise TooLarge(f"{shown} unpacks to more than the limit of {limits.max_unzipped_mb:g} MB "
                                   "(more than its listing says); split it into smaller zips")
            yield member


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, member: Member) -> str | None:
    """Read one member into ``member.data``; returns why it was refused, or None."""
    limit = int(limits.max_file_mb * MB)
    if info.flag_bits & 0x1:
        return "the file is encrypted (password protected); zip it again without a password"
    if info.file_size > limit:
        return f"the file is {info.file_size / MB:.1f} MB, more than the limit of {limits.max_file_mb:g} MB per file"
    try:
        with zf.open(info) as f:
            data = f.read(limit + 1)  # never more than the limit, whatever the zip says about its size
    except (zipfile.BadZipFile, OSError, NotImplementedError, ValueError, EOFError) as e:
        return f"the zip entry is damaged or uses an unknown compression ({e})"
    if len(data) > limit:
        return f"the file is more than the limit of {limits.max_file_mb:g} MB per file"
    member.data = data
    return None
