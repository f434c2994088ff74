"""Files the code reads at run time besides Python modules (the inbox's templates and static
files, the JSON schemas) are listed as package data, or a non-editable install, such as the
Docker image's ``pip install .``, would leave them out."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA_DIRS = ("worker/inbox/templates", "worker/inbox/static", "worker/schemas")


def test_every_non_python_file_the_worker_package_reads_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["worker"]
    files = [
        path.relative_to(ROOT / "worker").as_posix()
        for folder in DATA_DIRS
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts
    ]
    assert files, "no data files found: the folders moved?"
    missing = [name for name in files if not any(fnmatch.fnmatch(name, p) for p in patterns)]
    assert not missing, f"add these to [tool.setuptools.package-data] worker: {missing}"
