"""`pip install .` ships every package and the content/NLU data (see pyproject.toml)."""

import tomllib

from .conftest import REPO


def test_every_package_under_bot_is_listed() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "bot").rglob("__init__.py")
    }
    assert on_disk <= listed, sorted(on_disk - listed)
    mapped = config["tool"]["setuptools"]["package-dir"]
    for package, folder in mapped.items():
        assert package in listed and (REPO / folder).is_dir(), package
