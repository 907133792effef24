"""`dispatch` command line (docs/reference.md): serve, migrate, user add|import|passwd|list|disable,
unit add, purge, simulate."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

from dispatch.core.model import ROLES
from dispatch.ports.store import StoreUnavailable
from dispatch.settings import CONFIG_ENV, ConfigError, Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dispatch", description="Live operations centre for municipal police.")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--config")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)

    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    migrate.add_argument("--config")

    _user_parser(sub)

    unit = sub.add_parser("unit", help="manage patrol units")
    unit_sub = unit.add_subparsers(dest="unit_command", required=True)
    unit_add = unit_sub.add_parser("add", help="create a patrol unit and print its id")
    unit_add.add_argument("name")
    unit_add.add_argument("--config")

    purge = sub.add_parser("purge", help="apply the retention periods: delete or coarsen what has expired")
    purge.add_argument("--config")
    purge.add_argument("--now", help="as of this ISO 8601 instant instead of now (tests, audits)")

    sim = sub.add_parser("simulate", help="demo traffic through the public HTTP API")
    sim.add_argument("--config")
    sim.add_argument("--url", default="http://127.0.0.1:8000")
    sim.add_argument("--residents", type=int, default=50)
    sim.add_argument("--rate", type=float, default=2.0, help="alerts per second")
    sim.add_argument("--duration", type=float, default=60.0, help="seconds")
    sim.add_argument("--seed", type=int)
    return p


def _user_parser(sub: Any) -> None:
    """`dispatch user add | import | passwd | list | disable`."""
    user = sub.add_parser("user", help="manage accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create one account and print its id")
    add.add_argument("--config")
    add.add_argument(
        "--role",
        required=True,
        choices=ROLES,
        metavar="ROLE",
        help="one of: " + ", ".join(ROLES) + " (a resident needs --lat/--lon, its home)",
    )
    add.add_argument("--email", required=True)
    secret = add.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password")
    secret.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--name", default="", help="display name, shown in incident histories")
    add.add_argument("--lat", type=float, help="home latitude (residents)")
    add.add_argument("--lon", type=float, help="home longitude (residents)")
    imp = user_sub.add_parser("import", help="create every account of a CSV file in one transaction")
    imp.add_argument("path")
    imp.add_argument("--config")
    passwd = user_sub.add_parser("passwd", help="change a password; every session of the account ends")
    passwd.add_argument("--config")
    passwd.add_argument("--email", required=True)
    passwd.add_argument("--password-stdin", action="store_true", required=True)
    listing = user_sub.add_parser("list", help="list accounts: id, role, e-mail, status")
    listing.add_argument("--config")
    listing.add_argument("--role", choices=ROLES)
    disable = user_sub.add_parser("disable", help="disable an account: its sessions end, its sockets close")
    disable.add_argument("--config")
    disable.add_argument("--email", required=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        print(f"dispatch: {exc}", file=sys.stderr)
        return 2
    if args.config:
        os.environ[CONFIG_ENV] = str(settings.config_path)
    if args.command == "serve":
        from dispatch.cli.serve import serve

        return serve(settings, host=args.host, port=args.port, workers=args.workers)
    try:
        return _command(settings, args)
    except StoreUnavailable as exc:  # a command is one try: say so, no traceback
        print(f"dispatch: {exc}", file=sys.stderr)
        return 1


def _command(settings: Settings, args: argparse.Namespace) -> int:
    from dispatch.cli import commands

    if args.command == "migrate":
        return asyncio.run(commands.migrate(settings))
    if args.command == "user":
        return _user(settings, args)
    if args.command == "unit" and args.unit_command == "add":
        return asyncio.run(commands.unit_add(settings, args.name))
    if args.command == "purge":
        return asyncio.run(commands.purge(settings, args.now))
    if args.command == "simulate":
        from dispatch.cli.simulate import simulate

        return asyncio.run(simulate(settings, args.url, args.residents, args.rate, args.duration, args.seed))
    return 2


def _user(settings: Settings, args: argparse.Namespace) -> int:
    from dispatch.cli import users

    if args.user_command == "list":
        return asyncio.run(users.user_list(settings, args.role))
    if args.user_command == "disable":
        return asyncio.run(users.user_disable(settings, args.email))
    if args.user_command == "import":
        return asyncio.run(users.user_import(settings, args.path))
    password = users.read_password() if args.password_stdin else args.password
    if password is None:
        print("dispatch: no password on standard input", file=sys.stderr)
        return 2
    if args.user_command == "passwd":
        return asyncio.run(users.user_passwd(settings, args.email, password))
    return asyncio.run(users.user_add(settings, args.role, args.email, password, args.name, args.lat, args.lon))
