"""Serving the workbench safely: to this machine by default, to a team only with sign-in.

- :mod:`~detector.serving.settings`: what the operator configured (environment, ``secrets.toml``);
- :mod:`~detector.serving.mode`: local, team, open or refused, from the settings and the address;
- :mod:`~detector.serving.access`: the sign-in gate's logic, who is recorded, who is an admin;
- :mod:`~detector.serving.limits`: per-user limits, thread-safe, one per server process;
- :mod:`~detector.serving.paths`: server folders only inside the configured data root;
- :mod:`~detector.serving.archive`: a training set uploaded as a zip, unpacked safely.

Nothing here imports Streamlit; ``pages/_serving.py`` draws what these decide.
"""

from .access import ANONYMOUS, LOCAL_USER, Access, grant, identity, is_admin
from .archive import Extracted, ZipLimits, extract_dataset, extracted_dataset, remove_stale, uploads_dir
from .errors import ArchiveError, LimitReached, PathRefused, ServingError
from .limits import Limiter
from .mode import LOCAL_MODE, OPEN_MODE, REFUSED, TEAM_MODE, Mode, decide, is_loopback, via_proxy
from .paths import confine, dataset_folder, dataset_folders, file_inside, hide_folder, resolve_under, scan_folders
from .settings import (
    ALLOW_OPEN_ENV, ALLOW_OPEN_VALUE, LOCAL, TEAM, AuthConfig, ServeSettings, UserLimits, check_auth, env_name,
    read_secrets, read_settings, secret_files,
)

__all__ = [
    "ALLOW_OPEN_ENV", "ALLOW_OPEN_VALUE", "ANONYMOUS", "LOCAL", "LOCAL_MODE", "LOCAL_USER", "OPEN_MODE", "REFUSED",
    "TEAM", "TEAM_MODE", "Access", "ArchiveError", "AuthConfig", "Extracted", "LimitReached", "Limiter", "Mode",
    "PathRefused", "ServeSettings", "ServingError", "UserLimits", "ZipLimits", "check_auth", "confine",
    "dataset_folder", "dataset_folders", "decide", "env_name", "extract_dataset", "extracted_dataset", "file_inside",
    "grant",
    "hide_folder", "identity", "is_admin", "is_loopback", "read_secrets", "read_settings", "remove_stale",
    "resolve_under", "scan_folders", "secret_files", "uploads_dir", "via_proxy",
]
