"""The Chromium the browser tests drive: Debian's ``chromium`` package, installed when missing.

Playwright's own browser downloads are never used (the machines have no internet, and a
browser of the distribution gets its security updates): Playwright starts
``/usr/bin/chromium`` (or ``JOBHUB_TEST_CHROMIUM``) through ``executable_path``. When it is
missing and this process is root with apt, as in CI, it is installed with ``apt-get``,
once: a file lock keeps the xdist workers from racing, and apt waits for dpkg's own lock
should another installation be running. Otherwise the run stops with one line saying how.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

DEFAULT = Path("/usr/bin/chromium")
HOW = "sudo apt-get install chromium"
_LOCK = Path(tempfile.gettempdir()) / "jobhub-chromium-install.lock"
# what apt-get says when its package lists are missing or stale: then update, once
_NO_LISTS = ("Unable to locate package", "has no installation candidate", "Failed to fetch")


class ChromiumUnavailable(Exception):
    """Chromium is neither installed nor installable here; the message says what to do."""


def chromium_path() -> Path:
    """Where Chromium is expected: ``JOBHUB_TEST_CHROMIUM``, else Debian's path."""
    configured = os.environ.get("JOBHUB_TEST_CHROMIUM")
    return Path(configured) if configured else DEFAULT


def ensure_chromium() -> Path:
    """The Chromium executable, installed with apt-get first if it is missing and we may."""
    path = chromium_path()
    if _runnable(path):
        return path
    if path != DEFAULT:
        raise ChromiumUnavailable(f"JOBHUB_TEST_CHROMIUM={path} is not an executable")
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ChromiumUnavailable(f"the browser tests need Chromium at {path}: {HOW}")
    with _LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not _runnable(path):  # another worker may have installed it while we waited
            _apt_install()
    if not _runnable(path):
        raise ChromiumUnavailable(f"apt-get installed chromium but {path} is missing: {HOW}")
    return path


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _apt_install() -> None:
    failed = _apt("install", "-y", "chromium")
    if failed and any(sign in failed for sign in _NO_LISTS):
        _apt("update")
        failed = _apt("install", "-y", "chromium")
    if failed:
        last = failed.strip().splitlines()[-1] if failed.strip() else "no output"
        raise ChromiumUnavailable(f"apt-get install -y chromium failed ({last}): {HOW}")


def _apt(*args: str) -> str:
    """Run apt-get non-interactively; its output when it fails, else ''."""
    try:
        done = subprocess.run(
            ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-q", *args],
            capture_output=True,
            text=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            stdin=subprocess.DEVNULL,
            timeout=1200,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"apt-get {args[0]} took over 20 minutes"
    return "" if done.returncode == 0 else done.stdout + done.stderr
