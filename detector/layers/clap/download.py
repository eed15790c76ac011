"""Downloading a checkpoint over HTTP(S): a connectivity probe first, resumable, atomic."""

from __future__ import annotations

import http.client
import os
import posixpath
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ...types import Progress
from .checkpoint import ENV_VAR, MUSIC_CHECKPOINT, checkpoint_dir, checkpoint_url
from .errors import DownloadError


def _reachable(url: str, timeout: float) -> str | None:
    """``None`` when a TCP connection to the URL's host (or its proxy) opens within ``timeout``, else why not."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxy_parts.hostname or host, proxy_parts.port or 80
    result: list[str | None] = ["timed out"]

    def probe() -> None:  # getaddrinfo has no timeout of its own, hence the thread
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result[0] = None
        except OSError as exc:
            result[0] = str(exc) or type(exc).__name__

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result[0]


def download_checkpoint(
    dest_dir: str | os.PathLike | None = None,
    *,
    url: str | None = None,
    progress: Progress | None = None,
    expected_size: int | None = None,
    timeout: float = 30.0,
    connect_timeout: float = 3.0,
    keep_partial: bool = True,
) -> Path:
    """Download a checkpoint into ``dest_dir`` (default :func:`checkpoint_dir`).

    The bytes go to ``<name>.part`` in the destination folder, which is renamed into place
    atomically once its size matches what the server announced (and ``expected_size``,
    if given). An interrupted download keeps the ``.part`` file (unless ``keep_partial``
    is false) and the next call resumes it with an HTTP Range request; a server that
    ignores the range restarts the file from the beginning.

    Parameters
    ----------
    url
        Default :func:`~.checkpoint.checkpoint_url`: the music checkpoint on Hugging Face,
        or on the mirror ``$HF_ENDPOINT`` names.
    progress
        Called after every chunk with the share done (0 while the size is unknown) and
        "downloading NAME: 12 / 640 MiB (1%)".
    connect_timeout
        Seconds for the up-front connectivity check; offline, the call fails after that
        once, without retries.

    Raises
    ------
    DownloadError
        Offline, HTTP error, interrupted transfer or wrong size; the message says where to
        put the file by hand.
    """
    folder = Path(dest_dir) if dest_dir is not None else checkpoint_dir()
    url = url or checkpoint_url()
    name = posixpath.basename(urllib.parse.urlsplit(url).path) or MUSIC_CHECKPOINT
    final, part = folder / name, folder / (name + ".part")
    if final.is_file():
        return final
    by_hand = f"Download {url} yourself and put it into {folder} (or set {ENV_VAR} to its path)."
    why = _reachable(url, connect_timeout)
    if why is not None:
        host = urllib.parse.urlsplit(url).hostname
        raise DownloadError(f"Cannot download the CLAP checkpoint: {host} is not reachable ({why}).", by_hand)
    folder.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.is_file() else 0
    try:
        response = _open(url, offset, timeout)
        if response.status == 416 and offset:  # the .part is not a prefix the server recognises
            response.close()
            offset = 0
            response = _open(url, 0, timeout)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DownloadError(f"Cannot download the CLAP checkpoint from {url}: {exc}.", by_hand) from exc
    with response:
        if response.status >= 400:
            raise DownloadError(f"Cannot download the CLAP checkpoint from {url}: HTTP {response.status}.", by_hand)
        total, start = _response_span(response, offset)
        done = start
        try:
            with open(part, "ab" if start else "wb") as fh:
                if progress:
                    progress(*_progress(name, done, total))
                while chunk := response.read(1 << 20):
                    fh.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(*_progress(name, done, total))
                fh.flush()
                os.fsync(fh.fileno())
        except (OSError, http.client.HTTPException) as exc:
            _interrupted(part, keep_partial)
            raise DownloadError(
                f"The CLAP checkpoint download stopped after {done:,} of {total or '?'} bytes ({exc}). "
                + ("Run it again to resume." if keep_partial else ""), by_hand) from exc
    if total is not None and done < total:
        _interrupted(part, keep_partial)
        raise DownloadError(
            f"The CLAP checkpoint download stopped after {done:,} of {total:,} bytes (connection closed). "
            + ("Run it again to resume." if keep_partial else ""), by_hand)
    size = part.stat().st_size
    want = expected_size if expected_size is not None else total
    if want is not None and size != want:
        part.unlink(missing_ok=True)
        raise DownloadError(f"The downloaded CLAP checkpoint has {size:,} bytes instead of {want:,}; removed it.",
                            by_hand)
    os.replace(part, final)
    return final


def _progress(name: str, done: int, total: int | None) -> tuple[float, str]:
    if total:
        return done / total, f"downloading {name}: {done / 2**20:,.0f} / {total / 2**20:,.0f} MiB ({100 * done // total}%)"
    return 0.0, f"downloading {name}: {done / 2**20:,.0f} MiB"


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": "ai-music-detector"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:
            return exc  # type: ignore[return-value]  # HTTPError is a response; the caller restarts
        raise


def _response_span(response: http.client.HTTPResponse, offset: int) -> tuple[int | None, int]:
    """(total size or None, byte offset this response starts at)."""
    if response.status == 206:
        content_range = response.headers.get("Content-Range", "")  # "bytes 100-199/200"
        try:
            span, total = content_range.split(" ", 1)[1].split("/")
            first = int(span.split("-")[0])
            size = None if total == "*" else int(total)
        except (IndexError, ValueError):
            first, size = -1, None
        if first != offset:
            raise DownloadError(
                f"The server answered a resume request with an unexpected range ({content_range!r}).",
                "Delete the .part file next to the checkpoint and download again.")
        return size, first
    length = response.headers.get("Content-Length")
    return (int(length) if length and length.isdigit() else None), 0


def _interrupted(part: Path, keep: bool) -> None:
    if not keep:
        part.unlink(missing_ok=True)


__all__ = ["download_checkpoint"]
