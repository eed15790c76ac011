"""``serve``: start the dashboard for a team, after checking that sign-in is configured.

``python -m detector serve [--address 0.0.0.0] [--port 8501] [--check]`` (``make serve``)
runs ``streamlit run dashboard.py`` in team mode (``DETECTOR_SERVE=team``). It refuses to
start, exit code 2, with a message that says what to configure, when sign-in is not
configured in ``.streamlit/secrets.toml`` (unless ``DETECTOR_ALLOW_OPEN=i-understand``)
or a serving setting is wrong. ``--check`` only checks and says what would happen.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

from ..config import PROJECT_ROOT
from ..serving import (
    OPEN_MODE, REFUSED, TEAM, Mode, ServeSettings, decide, env_name, read_secrets, read_settings, secret_files,
)
from .options import EXIT_OK, EXIT_USAGE, number

DEFAULT_ADDRESS = "0.0.0.0"
port = number(int, lambda v: 0 < v < 65536, "a port number, 1 to 65535")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start the dashboard for a team on the network (sign-in required)",
                       description="Start the dashboard for other people: sign-in with the identity provider in "
                                   ".streamlit/secrets.toml is required. For yourself only, use `make run`.")
    p.add_argument("--address", default=DEFAULT_ADDRESS,
                   help=f"address to listen on (default {DEFAULT_ADDRESS}: every interface; 127.0.0.1 behind a "
                        "reverse proxy on this machine)")
    p.add_argument("--port", type=port, default=8501, help="port (default 8501)")
    p.add_argument("--check", action="store_true", help="check the configuration, say what would happen, and exit")
    p.set_defaults(func=run)


def team_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with team mode asked for: what the server runs with."""
    return {**env, env_name("serve"): TEAM}


def check(address: str, env: Mapping[str, str]) -> tuple[Mode, ServeSettings]:
    """The mode a team server on ``address`` would run in, from ``env`` and the ``secrets.toml`` files."""
    secrets, problems = read_secrets(secret_files())
    settings = read_settings(team_env(env), secrets, problems=problems)
    return decide(settings, address), settings


def streamlit_command(address: str, port_number: int) -> list[str]:
    """The command that starts the dashboard itself."""
    return [sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "dashboard.py"),
            "--server.address", address, "--server.port", str(port_number)]


def run(args: argparse.Namespace) -> int:
    mode, settings = check(args.address, os.environ)
    if mode.kind == REFUSED:
        print(f"error: not starting.\n\n{mode.message}", file=sys.stderr)
        return EXIT_USAGE
    for warning in (*settings.warnings, *settings.auth.warnings):
        print(f"warning: {warning}", file=sys.stderr)
    if mode.kind == OPEN_MODE:
        line = "!" * 78
        print(f"{line}\n{mode.message.replace('**', '')}\n{line}", file=sys.stderr)
    else:
        providers = ", ".join(p or "default" for p in settings.auth.providers)
        print(f"Sign-in required (provider: {providers}).", file=sys.stderr)
        if not settings.admins:
            print(f"note: no admins are configured ({env_name('admins')}), so nobody can install a CLAP checkpoint "
                  "from the browser.", file=sys.stderr)
    where = "training data from uploads" + (" and the data root" if settings.data_root else " only")
    print(f"Serving a team on {args.address}:{args.port}; {where}.", file=sys.stderr)
    if args.check:
        return EXIT_OK
    os.chdir(PROJECT_ROOT)  # Streamlit reads .streamlit/ (config, secrets) from the working folder
    os.execve(sys.executable, streamlit_command(args.address, args.port), team_env(os.environ))
    return EXIT_OK  # not reached


__all__ = ["DEFAULT_ADDRESS", "add_parser", "check", "run", "streamlit_command", "team_env"]
