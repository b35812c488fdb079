"""Builds the Lambda deployment zip: Linux wheels of the runtime dependencies plus our packages."""

from __future__ import annotations

import compileall
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
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
# The Python runtimes Lambda offers, by the glibc of the Amazon Linux each runs on: python3.11 on
# Amazon Linux 2 (glibc 2.26), python3.12 and python3.13 on Amazon Linux 2023 (glibc 2.34). A
# native wheel loads only where its manylinux tag's glibc is no newer.
RUNTIME_GLIBC = {"python3.11": (2, 26), "python3.12": (2, 34), "python3.13": (2, 34)}
# The wheel platform each runtime's zip is built for: manylinux2014 (glibc 2.17) on Amazon
# Linux 2, whose wheels the python3.11 zip has always shipped; manylinux_2_34 on Amazon Linux 2023.
_RUNTIME_WHEEL_TAG = {(2, 26): "manylinux2014", (2, 34): "manylinux_2_34"}
# Lambda's architecture names -> the machine names of wheel platforms.
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}
# Only the python3.11 runtime needs this: confluent-kafka ships manylinux_2_28 wheels only since
# 2.4, so 2.3.0 is the newest release whose Linux wheel loads on glibc 2.26. It has every
# producer API we use. On python3.12/3.13 the zip ships the locked version.
GLIBC_226_PINS = {"confluent-kafka": "confluent-kafka==2.3.0"}
_OLD_GLIBC_PLATFORMS = ("manylinux2014", "manylinux_2_17", "manylinux_2_24", "manylinux_2_26")
CONTRACT = Path("infra") / "contract" / "components.json"
# Runs `python -m compileall <arguments>` with an interpreter of the runtime's version.
BytecodeCompiler = Callable[[Path, list[str]], None]
# Every workspace member the producer imports at run time (dpp_store: the idempotency and job
# stores, imported on the first request that needs them, so a missing one passes the init).
_WORKSPACE_MEMBERS = ("shared", "store", "producer")


class PackagingError(DppError):
    """The deployment zip could not be built; the message carries the failing command's output."""


@dataclass(frozen=True)
class LambdaTarget:
    """A Lambda runtime and architecture, and the wheels that load there."""

    runtime: str  # e.g. python3.13
    architecture: str = "x86_64"

    def __post_init__(self) -> None:
        if self.runtime not in RUNTIME_GLIBC:
            raise PackagingError(
                f"runtime {self.runtime!r} is not one of {', '.join(sorted(RUNTIME_GLIBC))}"
            )
        if self.architecture not in ARCHITECTURES:
            raise PackagingError(f"architecture {self.architecture!r} is not x86_64 or arm64")

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")

    @property
    def glibc(self) -> tuple[int, int]:
        return RUNTIME_GLIBC[self.runtime]

    @property
    def platform(self) -> str:
        """uv's --python-platform, e.g. x86_64-manylinux_2_34."""
        return f"{ARCHITECTURES[self.architecture]}-{_RUNTIME_WHEEL_TAG[self.glibc]}"


@dataclass(frozen=True)
class PackageReport:
    path: Path
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    excluded: tuple[str, ...]
    requirements: tuple[str, ...]
    target: LambdaTarget
    # The newest glibc any bundled wheel needs (None: no native wheel); never above the target's.
    wheel_glibc: tuple[int, int] | None
    # Whether the zip ships bytecode (it needs an interpreter of the runtime's version here).
    bytecode: bool


def workspace_root() -> Path:
    """The uv workspace root: the nearest parent holding uv.lock (from here or the cwd)."""
    for start in (Path.cwd(), Path(__file__).resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "uv.lock").exists() and (candidate / "producer").is_dir():
                return candidate
    raise PackagingError("run `dpp producer package` inside the dpp-events workspace (no uv.lock)")


def declared_runtime(root: Path | None = None) -> str:
    """The producer's runtime as the deployment contract declares it (Terraform reads the same
    file), so the zip is built for the Python that AWS will run it on."""
    path = (root or workspace_root()) / CONTRACT
    try:
        runtime = json.loads(path.read_text(encoding="utf-8"))["components"]["producer"]["runtime"]
    except (OSError, ValueError, KeyError) as error:
        raise PackagingError(f"no producer runtime in {path}: {error}") from error
    return str(runtime)


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
    output: Path,
    *,
    target: LambdaTarget | None = None,
    compile_with: BytecodeCompiler | None = None,
) -> PackageReport:
    """Install the Linux wheels that load on `target` (default: the declared runtime, x86_64)
    into a staging folder, compile it with that Python where one is at hand, and zip it."""
    root = workspace_root()
    target = target or LambdaTarget(declared_runtime(root))
    platform, python_version = target.platform, target.python_version
    requirements, excluded = locked_requirements(root, platform)
    with tempfile.TemporaryDirectory(prefix="dpp-lambda-") as scratch:
        staging = Path(scratch) / "package"
        requirements_file = Path(scratch) / "requirements.txt"
        requirements_file.write_text("\n".join(requirements) + "\n")
        install = [
            "pip", "install", "--target", str(staging), "--python-platform", platform,
            "--python-version", python_version, "--no-deps", "--no-compile", "--quiet",
        ]  # fmt: skip
        # The lock is a full closure: --no-deps stops excluded packages coming back.
        _run([*install, "--only-binary", ":all:", "-r", str(requirements_file)], root)
        _run([*install, *(str(root / member) for member in _WORKSPACE_MEMBERS)], root)
        wheel_glibc = bundled_glibc(staging)
        if wheel_glibc is not None and wheel_glibc > target.glibc:
            raise PackagingError(
                f"a bundled wheel needs glibc {wheel_glibc}, newer than {target.runtime}'s "
                f"{target.glibc}"
            )
        bytecode = _compile_bytecode(staging, python_version, compile_with)
        output = output if output.is_absolute() else Path.cwd() / output
        output.parent.mkdir(parents=True, exist_ok=True)
        unzipped, files = _zip(staging, output)
    if unzipped > LAMBDA_UNZIPPED_LIMIT_BYTES:
        raise PackagingError(f"{output} unzips to {unzipped} bytes, over Lambda's 250 MB limit")
    return PackageReport(
        output,
        output.stat().st_size,
        unzipped,
        files,
        tuple(excluded),
        tuple(requirements),
        target,
        wheel_glibc,
        bytecode,
    )


_MANYLINUX_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def tag_glibc(tag: str) -> tuple[int, int] | None:
    """The glibc a wheel tag's platform needs (`cp313-cp313-manylinux_2_28_x86_64` -> (2, 28)),
    None for a tag that is not manylinux (pure Python, abi3 without a platform...)."""
    platform = tag.rsplit("-", 1)[-1]
    if match := re.match(r"manylinux_(\d+)_(\d+)_", platform):
        return int(match.group(1)), int(match.group(2))
    return next((v for k, v in _MANYLINUX_LEGACY.items() if platform.startswith(f"{k}_")), None)


def bundled_glibc(staging: Path) -> tuple[int, int] | None:
    """The newest glibc any installed wheel needs: for each wheel the oldest glibc among its
    tags (a wheel tagged manylinux2014 and manylinux_2_17 needs 2.17), then the newest of those."""
    needed: list[tuple[int, int]] = []
    for wheel in staging.glob("*.dist-info/WHEEL"):
        tags = [line.split(":", 1)[1].strip() for line in wheel.read_text().splitlines()
                if line.startswith("Tag:")]  # fmt: skip
        floors = [g for g in map(tag_glibc, tags) if g is not None]
        if floors:
            needed.append(min(floors))
    return max(needed, default=None)


def compileall_arguments(staging: Path) -> list[str]:
    """`python -m compileall` arguments that build what this interpreter's compile_dir builds."""
    return [
        "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", "-s", str(staging), str(staging),
    ]  # fmt: skip


def _find_python(python_version: str) -> BytecodeCompiler | None:
    """An interpreter of `python_version` on this machine (uv finds system and uv-managed ones;
    `uv python install 3.13` provides one)."""
    uv = shutil.which("uv")
    if uv is None:
        return None
    found = subprocess.run(
        [uv, "python", "find", "--no-project", python_version],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if found.returncode != 0 or not found.stdout.strip():
        return None
    interpreter = found.stdout.strip()

    def compile_with(staging: Path, arguments: list[str]) -> None:
        result = subprocess.run(
            [interpreter, "-m", "compileall", *arguments],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise PackagingError(f"{interpreter} -m compileall failed:\n{result.stderr}")

    return compile_with


def _compile_bytecode(
    staging: Path, python_version: str, compile_with: BytecodeCompiler | None
) -> bool:
    """Ship bytecode: Lambda's file system is read-only, so without it every cold start would
    compile every module again. Unchecked-hash pycs stay valid whatever mtimes the zip keeps.
    Bytecode is version-specific: built here when this interpreter is the runtime's version,
    else by `compile_with` or another interpreter of that version; False when there is none."""
    if (
        compile_with is None
        and f"{sys.version_info.major}.{sys.version_info.minor}" == python_version
    ):
        # One worker, in this process: a pool's children died abruptly inside the full test
        # run (BrokenProcessPool), and a build must not depend on what else the caller runs.
        compileall.compile_dir(
            staging,
            quiet=1,
            workers=1,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            stripdir=str(staging),
        )
        return True
    compiler = compile_with or _find_python(python_version)
    if compiler is None:
        return False
    compiler(staging, compileall_arguments(staging))
    return True


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
