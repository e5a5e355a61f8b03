"""Where the API's code lives (docs/api.md#where-the-code-is): the phone-number push fast path
and the narrowcast rules are modules only the API imports, and the API's views read audiences
through ``audiences.selectors``."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ["api", "audiences", "billing", "lbm", "notifications", "bench", "scripts"]
API_ONLY = {"notifications.services.push", "notifications.services.narrowcast"}


def _imports(path: Path) -> set[str]:
    """The modules ``path`` imports, relative imports resolved against its package."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(p for p in [*parts, base] if p)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _sources():
    for app in APPS:
        yield from (ROOT / app).rglob("*.py")


def test_the_push_fast_path_and_the_narrowcast_are_imported_only_by_the_api():
    importers = {str(path.relative_to(ROOT)) for path in _sources() if _imports(path) & API_ONLY}
    assert importers == {"api/views_messages.py"}


def test_the_api_reads_audiences_through_selectors():
    for path in (ROOT / "api").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "objects":
                assert not (
                    isinstance(node.value, ast.Name)
                    and node.value.id in {"Audience", "AudienceShare"}
                ), f"{path.name}:{node.lineno} reads {node.value.id}.objects"
