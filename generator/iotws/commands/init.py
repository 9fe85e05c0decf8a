"""`iotws init DIR --auth public|hs256|jwks|cognito [--with-rules]`: a new stack in DIR.

Writes an `access.yaml` with comments, a root Terraform configuration that uses the kit's
modules (by a local path, the default, or by a versioned `git::` source with `--modules-git`), a
page that connects with the kit's browser client, a `Makefile` (`demo`, `generate`,
`package`, `plan`, `deploy`) and a README. The templates are package data
(`iotws/templates/init/`); the client bundle comes from `iotws.paths.client_bundle()`.

Nothing is half-written: every file is rendered into a temporary folder and checked (the
spec must load) before any of them is moved into DIR. A folder with files is refused unless
`--force`, and even then an existing file is never overwritten (it is kept and reported).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from iotws import __version__
from iotws.errors import IotwsError
from iotws.paths import client_bundle, modules_dir
from iotws.spec.model import load_spec

AUTH_CHOICES = ("public", "hs256", "jwks", "cognito")
# `--modules-git URL`: the git repository that holds the kit (yours: a fork or a mirror of
# it, tagged v<kit version>). The kit names no default repository, so the default is a local
# path. Terraform's generic git source, with `//modules/<name>` and `?ref=`:
# https://developer.hashicorp.com/terraform/language/modules/sources#generic-git-repository
GIT_SOURCE = "git::{repo}//modules/{module}?ref=v{version}"
MODULES = ("iot-authorizer", "iot-cognito-unauth", "iot-topic-rules")
APP_RE = re.compile(r"^[a-z][a-z0-9]{0,19}$")
# template (under templates/init/) -> file written in DIR
TEMPLATES = {
    "access.yaml.j2": "access.yaml",
    "main.tf.j2": "main.tf",
    "variables.tf.j2": "variables.tf",
    "outputs.tf.j2": "outputs.tf",
    "versions.tf.j2": "versions.tf",
    "Makefile.j2": "Makefile",
    "README.md.j2": "README.md",
    "gitignore.j2": ".gitignore",
    "web/index.html.j2": "web/index.html",
    "web/app.js.j2": "web/app.js",
}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "init",
        help="scaffold a new stack: access.yaml, Terraform using the kit's modules, page, Makefile",
    )
    p.add_argument("dir", help="folder to create (or an empty one)")
    p.add_argument("--auth", required=True, help=f"how clients connect: {', '.join(AUTH_CHOICES)}")
    p.add_argument("--with-rules", action="store_true", help="add a topic rule (republish)")
    p.add_argument("--app", default=None, help="app name in the spec (default: from DIR; a-z, 0-9)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--modules-path",
        default=None,
        help="the kit's modules/ folder, used by a local path (default: the installed kit's)",
    )
    where.add_argument(
        "--modules-git",
        default=None,
        metavar="URL",
        help="use the modules by a versioned source instead: "
        + GIT_SOURCE.format(repo="URL", module="<name>", version=__version__),
    )
    p.add_argument(
        "--force", action="store_true", help="write into a folder with files (never overwrites)"
    )
    p.set_defaults(func=run)


def _app_name(args: argparse.Namespace, target: Path) -> str:
    if args.app is not None:
        if not APP_RE.fullmatch(args.app):
            raise IotwsError(
                f"{args.app!r} is not an app name",
                field="--app",
                fix="use 1-20 lower-case letters and digits, starting with a letter",
            )
        return str(args.app)
    name = re.sub(r"[^a-z0-9]", "", target.resolve().name.lower()).lstrip("0123456789")[:20]
    return name or "app"


def _module_sources(args: argparse.Namespace, target: Path) -> tuple[dict[str, str], str]:
    template = GIT_SOURCE.format(repo="<git URL of the kit>", module="<name>", version=__version__)
    if args.modules_git is not None:
        repo = str(args.modules_git)
        if not repo.strip() or any(c in repo for c in ' "?\n'):
            raise IotwsError(
                f"{repo!r} is not a git URL",
                field="--modules-git",
                fix="give the clone URL of the repository that holds the kit, e.g. "
                "https://example.com/you/iotws.git (its tag v" + __version__ + " is used)",
            )
        return (
            {m: GIT_SOURCE.format(repo=repo, module=m, version=__version__) for m in MODULES},
            f"{repo} at tag v{__version__} (`terraform init` fetches them).",
        )
    root = Path(args.modules_path) if args.modules_path else modules_dir()
    missing = [m for m in MODULES if not (root / m / "main.tf").is_file()]
    if missing:
        raise IotwsError(
            f"{root} does not hold the kit's modules ({', '.join(missing)} missing)",
            field="--modules-path",
            fix="give the modules/ folder of the kit (a checkout, or leave it out for the "
            "installed kit's own)",
        )
    # Terraform wants a local source to start with ./ or ../ (or be absolute).
    rel = os.path.relpath(root.resolve(), target.resolve())
    if not rel.startswith("."):
        rel = "./" + rel
    return (
        {m: f"{rel}/{m}" for m in MODULES},
        f"local paths to {root.resolve()}. To pin a version instead, use\n# `source = "
        f'"{template}"`\n# (`iotws init --modules-git URL` writes that form).',
    )


def _check_target(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise IotwsError(f"{target} exists and is not a folder", field="DIR", fix="name a folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise IotwsError(
            f"{target} is not empty",
            field="DIR",
            fix="name a new or empty folder, or add --force to add the missing files "
            "(existing files are never overwritten)",
        )


def render(args: argparse.Namespace, target: Path, out: Path) -> None:
    """Write every file of the scaffold into `out` (a fresh folder)."""
    sources, modules_note = _module_sources(args, target)
    env = Environment(
        loader=PackageLoader("iotws", "templates/init"),
        undefined=StrictUndefined,
        # The scaffold is code and Markdown, not HTML to escape; its only value from the user
        # is the app name, checked against [a-z][a-z0-9]* first (_app_name).
        autoescape=False,  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    context = {
        "app": _app_name(args, target),
        "auth": args.auth,
        "with_rules": bool(args.with_rules),
        "version": __version__,
        "sources": sources,
        "modules_git": args.modules_git is not None,
        "modules_note": modules_note,
    }
    for template, name in TEMPLATES.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(context), encoding="utf-8")
    for name, src in client_bundle().items():
        dest = out / "web" / "vendor" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    load_spec(out / "access.yaml")  # the scaffold's own spec must be valid


def run(args: argparse.Namespace) -> int:
    if args.auth not in AUTH_CHOICES:
        raise IotwsError(
            f"unknown auth path {args.auth!r}",
            field="--auth",
            fix=f"use one of: {', '.join(AUTH_CHOICES)}",
        )
    target = Path(args.dir)
    _check_target(target, args.force)
    parent = target.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)  # like `mkdir -p`: DIR may be a/b/c
    with tempfile.TemporaryDirectory(prefix=".iotws-init-", dir=parent) as tmp:
        staged = Path(tmp) / "stack"
        staged.mkdir()
        render(args, target, staged)
        files = sorted(p.relative_to(staged) for p in staged.rglob("*") if p.is_file())
        written: list[Path] = []
        kept: list[Path] = []
        if not target.exists():
            os.replace(staged, target)
            written = files
        else:
            for rel in files:
                dest = target / rel
                if dest.exists() or dest.is_symlink():
                    kept.append(rel)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged / rel, dest)
                written.append(rel)
    for rel in written:
        print(f"wrote {target / rel}")
    for rel in kept:
        print(f"kept {target / rel} (exists; not overwritten)", file=sys.stderr)
    print(f"next: cd {target} && make demo   (then `make plan` with AWS credentials)")
    return 0
