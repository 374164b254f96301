"""The architecture's rules are checked by tools (``.importlinter``, run by ``make lint``); these tests show the
checks bite: the contracts hold today, and a module that breaks one makes ``lint-imports`` fail.

The X client is also loaded the way its docstring promises: without Django set up, without models.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "twitter_channel", "inbox", "accounts")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: install requirements-dev.txt (make install-dev).")
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The application packages and the contracts, copied where a test may break them."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def test_the_contracts_hold_for_the_project_as_it_is(project_copy: Path):
    result = lint_imports(project_copy)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # the inbox reaching up into the X channel
        ("inbox/services/notes.py", "from twitter_channel.models import XAccount", "never back"),
        # the X client knowing a model
        ("twitter_channel/x/errors.py", "from twitter_channel.models import XAccount", "knows no models"),
        # a service importing the Celery tasks module instead of enqueueing by name
        ("twitter_channel/outbound/sending.py", "import twitter_channel.tasks", "enqueued by"),
        # a selector calling a service
        ("inbox/selectors/manage.py", "import inbox.services.notes", "nothing below reaches up"),
        # the sandbox using the project's code instead of standing apart
        ("twitter_channel/sandbox/ids.py", "import twitter_channel.x.results", "imports nothing of the project"),
    ],
)
def test_a_module_that_breaks_a_rule_fails_the_check_and_names_the_rule(
    project_copy: Path, module: str, line: str, broken: str
):
    path = project_copy / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")

    result = lint_imports(project_copy)

    assert result.returncode != 0
    broken_section = result.stdout.split("Broken contracts", 1)[1]
    assert broken in " ".join(broken_section.split())


def test_the_x_client_loads_without_django_setup_or_models():
    code = (
        "import sys\n"
        "import twitter_channel.x.client, twitter_channel.x.oauth, twitter_channel.x.results\n"
        "import twitter_channel.x.errors, twitter_channel.x.arguments\n"
        "print(sorted(m for m in sys.modules if m.startswith(('django.db', 'django.apps', 'inbox', 'accounts'))))\n"
        "others = [m for m in sys.modules if m.startswith('twitter_channel.')]\n"
        "print(sorted(m for m in others if m != 'twitter_channel.x' and not m.startswith('twitter_channel.x.')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "[]"]
