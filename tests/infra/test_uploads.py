"""The private uploads bucket and the backend's least-privilege access to it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.toolchain import ENVIRONMENTS, INFRA, MODULES

hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is a dev dependency of the infra tests")

UPLOADS = MODULES / "s3-uploads"


def load(path: Any) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return dict(hcl2.load(handle))


def resources() -> dict[str, dict[str, Any]]:
    found = {}
    for entry in load(UPLOADS / "main.tf")["resource"]:
        for rtype, named in entry.items():
            for body in named.values():
                found[rtype.strip('"')] = body
    return found


def test_bucket_is_private_encrypted_versioned_and_expiring() -> None:
    r = resources()
    block = r["aws_s3_bucket_public_access_block"]
    assert all(
        block[k] is True
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    sse = r["aws_s3_bucket_server_side_encryption_configuration"]["rule"][0]
    assert sse["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == '"AES256"'
    versioning = r["aws_s3_bucket_versioning"]["versioning_configuration"][0]
    assert versioning["status"] == '"Enabled"'
    lifecycle = r["aws_s3_bucket_lifecycle_configuration"]["rule"][0]
    assert "noncurrent_version_expiration" in lifecycle
    assert "abort_incomplete_multipart_upload" in lifecycle
    owner = r["aws_s3_bucket_ownership_controls"]["rule"][0]["object_ownership"]
    assert owner == '"BucketOwnerEnforced"'


def policy_statements(name: str) -> list[dict[str, Any]]:
    data = load(UPLOADS / "main.tf")["data"]
    for entry in data:
        document = entry.get('"aws_iam_policy_document"', {}).get(f'"{name}"')
        if document:
            return list(document["statement"])
    raise AssertionError(name)


def test_bucket_policy_denies_plain_http() -> None:
    (statement,) = policy_statements("bucket")
    assert statement["effect"] == '"Deny"' and statement["actions"] == ['"s3:*"']
    condition = statement["condition"][0]
    assert condition["variable"] == '"aws:SecureTransport"' and condition["values"] == ['"false"']


def test_backend_gets_object_actions_under_the_prefix_only() -> None:
    objects, listing = policy_statements("access")
    assert objects["actions"] == "${var.access.object_actions}"
    assert objects["resources"] == ['"${aws_s3_bucket.this.arn}/${var.access.prefix}*"']
    assert listing["actions"] == ['"s3:ListBucket"']
    assert listing["condition"][0]["values"] == ['"${var.access.prefix}*"']
    variables = {
        k.strip('"'): v for e in load(UPLOADS / "variables.tf")["variable"] for k, v in e.items()
    }
    access_type = variables["access"]["type"]
    assert '"s3:PutObject", "s3:GetObject", "s3:DeleteObject"' in access_type
    assert len(variables["access"]["validation"]) == 2  # prefix shape, object actions only
    text = (UPLOADS / "main.tf").read_text(encoding="utf-8")
    assert '"s3:*"' not in text.split("DenyInsecureTransport")[0]  # no wildcard grant


def test_dev_grants_the_backend_role_and_tells_it_the_bucket() -> None:
    main = load(ENVIRONMENTS / "dev" / "main.tf")
    modules = {k.strip('"'): v for e in main["module"] for k, v in e.items()}
    uploads = modules["uploads"]
    assert uploads["access"]["roles"] == {"backend": "${module.backend.role_name}"}
    assert uploads["access"]["prefix"] == "${local.uploads_prefix}"
    # The backend's environment comes from the deployment contract: it declares both names and
    # fixes the prefix, which is also the prefix the bucket grants (one value, no drift).
    contract = json.loads((INFRA / "contract" / "components.json").read_text(encoding="utf-8"))
    backend = contract["components"]["backend"]
    assert {"UPLOADS_BUCKET", "UPLOADS_PREFIX"} <= set(backend["environment"])
    assert backend["environment_values"]["UPLOADS_PREFIX"] == "uploads/"
    assert modules["backend"]["environment"].startswith("${merge(local.environment.backend,")
    dev_locals = main["locals"][0]
    assert dev_locals["uploads_prefix"] == (
        "${local.contract.backend.environment_values.UPLOADS_PREFIX}"
    )
    values = dev_locals["environment_values"]
    assert values["UPLOADS_PREFIX"] == "${local.uploads_prefix}"
    # The name the backend is told is the bucket's name.
    assert values["UPLOADS_BUCKET"] == uploads["bucket_name"] == '"${local.name}-uploads"'
