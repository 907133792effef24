"""`dispatch` command line (docs/reference.md): serve, migrate, user add|import, unit add, simulate."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from dispatch.settings import CONFIG_ENV, ConfigError, load_settings


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

    user = sub.add_parser("user", help="manage accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create one account and print its id")
    add.add_argument("--config")
    add.add_argument("--role", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--password", required=True)
    add.add_argument("--name", default="")
    add.add_argument("--lat", type=float)
    add.add_argument("--lon", type=float)
    imp = user_sub.add_parser("import", help="create every account of a CSV file in one transaction")
    imp.add_argument("path")
    imp.add_argument("--config")

    unit = sub.add_parser("unit", help="manage patrol units")
    unit_sub = unit.add_subparsers(dest="unit_command", required=True)
    unit_add = unit_sub.add_parser("add", help="create a patrol unit and print its id")
    unit_add.add_argument("name")
    unit_add.add_argument("--config")

    sim = sub.add_parser("simulate", help="demo traffic through the public HTTP API")
    sim.add_argument("--config")
    sim.add_argument("--url", default="http://127.0.0.1:8000")
    sim.add_argument("--residents", type=int, default=50)
    sim.add_argument("--rate", type=float, default=2.0, help="alerts per second")
    sim.add_argument("--duration", type=float, default=60.0, help="seconds")
    sim.add_argument("--seed", type=int)
    return p


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
    from dispatch.cli import commands

    if args.command == "migrate":
        return asyncio.run(commands.migrate(settings))
    if args.command == "user" and args.user_command == "add":
        return asyncio.run(
            commands.user_add(settings, args.role, args.email, args.password, args.name, args.lat, args.lon)
        )
    if args.command == "user" and args.user_command == "import":
        return asyncio.run(commands.user_import(settings, args.path))
    if args.command == "unit" and args.unit_command == "add":
        return asyncio.run(commands.unit_add(settings, args.name))
    if args.command == "simulate":
        from dispatch.cli.simulate import simulate

        return asyncio.run(simulate(settings, args.url, args.residents, args.rate, args.duration, args.seed))
    return 2
