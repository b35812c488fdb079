"""Builds the Lambda deployment zip: Linux wheels of the runtime dependencies plus our packages."""

from __future__ import annotations

import compileall
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from dpp_shared.errors import DppError

# Provided by the AWS Lambda Python runtime; bundling them would only add ~25 MB.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
# Needed only when serving with granian or uvicorn, never on Lambda (uvloop and httptools are
# the servers' fast event loop and uvicorn's HTTP parser).
SERVER_ONLY = frozenset({"granian", "uvicorn", "click", "h11", "uvloop", "httptools"})
HANDLER = "dpp_producer.lambda_handler.handler"
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
# The python3.11 Lambda runtime runs on Amazon Linux 2 (glibc 2.26), so only manylinux2014
# wheels load there. confluent-kafka ships manylinux_2_28 wheels only since 2.4; 2.3.0 is the
# newest release whose Linux wheel loads on that runtime. It has every producer API we use.
GLIBC_226_PINS = {"confluent-kafka": "confluent-kafka==2.3.0"}
_OLD_GLIBC_PLATFORMS = ("manylinux2014", "manylinux_2_17", "manylinux_2_24", "manylinux_2_26")
# Every workspace member the producer imports at run time (dpp_store: the idempotency and job
# stores, imported on the first request that needs them, so a missing one passes the init).
_WORKSPACE_MEMBERS = ("shared", "store", "producer")


class PackagingError(DppError):
    """The deployment zip could not be built; the message carries the failing command's output."""


@dataclass(frozen=True)
class PackageReport:
    path: Path
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    excluded: tuple[str, ...]
    requirements: tuple[str, ...]


def workspace_root() -> Path:
    """The uv workspace root: the nearest parent holding uv.lock (from here or the cwd)."""
    for start in (Path.cwd(), Path(__file__).resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "uv.lock").exists() and (candidate / "producer").is_dir():
                return candidate
    raise PackagingError("run `dpp producer package` inside the dpp-events workspace (no uv.lock)")


def _run(command: list[str], cwd: Path) -> str:
    uv = shutil.which("uv")
    if uv is None:
        raise PackagingError("`uv` is required to build the Lambda zip: pip install uv")
    result = subprocess.run([uv, *command], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackagingError(f"uv {' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _requirement_name(line: str) -> str:
    """`name` of a `name==version ; marker` line, normalised (PEP 503)."""
    name = re.split(r"[=;\[ ]", line, maxsplit=1)[0]
    return name.strip().lower().replace("_", "-")


def locked_requirements(root: Path, platform: str) -> tuple[list[str], list[str]]:
    """The producer's locked runtime closure (no dev group), minus what Lambda already has."""
    exported = _run(
        [
            "export", "--package", "dpp-producer", "--no-dev", "--no-hashes", "--frozen",
            "--no-emit-workspace", "--no-header", "--no-annotate",
        ],
        root,
    )  # fmt: skip
    keep, dropped = [], []
    for raw in exported.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "-")):
            continue
        name = _requirement_name(line)
        if name in RUNTIME_PROVIDED | SERVER_ONLY:
            dropped.append(name)
        elif name in GLIBC_226_PINS and platform.endswith(_OLD_GLIBC_PLATFORMS):
            keep.append(GLIBC_226_PINS[name])
        else:
            keep.append(line)
    return keep, sorted(dropped)


def build_lambda_zip(
    output: Path, *, platform: str = "x86_64-manylinux2014", python_version: str = "3.11"
) -> PackageReport:
    """Install Linux wheels for `platform` into a staging folder and zip it for Lambda."""
    root = workspace_root()
    requirements, excluded = locked_requirements(root, platform)
    with tempfile.TemporaryDirectory(prefix="dpp-lambda-") as scratch:
        staging = Path(scratch) / "package"
        requirements_file = Path(scratch) / "requirements.txt"
        requirements_file.write_text("\n".join(requirements) + "\n")
        target = [
            "pip", "install", "--target", str(staging), "--python-platform", platform,
            "--python-version", python_version, "--no-deps", "--no-compile", "--quiet",
        ]  # fmt: skip
        # The lock is a full closure: --no-deps stops excluded packages coming back.
        _run([*target, "--only-binary", ":all:", "-r", str(requirements_file)], root)
        _run([*target, *(str(root / member) for member in _WORKSPACE_MEMBERS)], root)
        _compile_bytecode(staging, python_version)
        output = output if output.is_absolute() else Path.cwd() / output
        output.parent.mkdir(parents=True, exist_ok=True)
        unzipped, files = _zip(staging, output)
    if unzipped > LAMBDA_UNZIPPED_LIMIT_BYTES:
        raise PackagingError(f"{output} unzips to {unzipped} bytes, over Lambda's 250 MB limit")
    return PackageReport(
        output, output.stat().st_size, unzipped, files, tuple(excluded), tuple(requirements)
    )


def _compile_bytecode(staging: Path, python_version: str) -> None:
    """Ship bytecode: Lambda's file system is read-only, so without it every cold start would
    compile every module again. Unchecked-hash pycs stay valid whatever mtimes the zip keeps."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" != python_version:
        return  # bytecode is version-specific; only this interpreter's version can be built
    compileall.compile_dir(
        staging,
        quiet=1,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        stripdir=str(staging),
    )


def _zip(staging: Path, output: Path) -> tuple[int, int]:
    """Zip `staging` with sorted entries and fixed timestamps, so equal inputs give equal zips."""
    total = files = 0
    partial = output.with_suffix(".zip.partial")
    with zipfile.ZipFile(
        partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9
    ) as archive:
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            relative = path.relative_to(staging).as_posix()
            info = zipfile.ZipInfo(relative, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            data = path.read_bytes()
            archive.writestr(info, data)
            total += len(data)
            files += 1
    partial.replace(output)
    return total, files
