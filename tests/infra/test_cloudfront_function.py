"""The deep-link CloudFront Function: its exact file run in node over many paths, and its wiring."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.infra.toolchain import MODULES, find_tool

WEBSITE = MODULES / "s3-static-website"
FUNCTION = WEBSITE / "functions" / "deep-links.js"

# Loads the file unchanged into a fresh context, as the CloudFront runtime does, and calls
# handler(event) with viewer-request events shaped like CloudFront's.
HARNESS = r"""
const fs = require('fs');
const vm = require('vm');
const code = fs.readFileSync(process.argv[1], 'utf8');
const context = vm.createContext({});
vm.runInContext(code, context, { filename: process.argv[1] });
const paths = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = paths.map((uri) => {
  const event = {
    version: '1.0',
    context: { eventType: 'viewer-request' },
    viewer: { ip: '192.0.2.1' },
    request: {
      method: 'GET', uri: uri, querystring: { q: { value: '1' } }, headers: {}, cookies: {},
    },
  };
  const result = context.handler(event);
  return { uri: result.uri, method: result.method, querystring: result.querystring };
});
process.stdout.write(JSON.stringify(out));
"""

CASES = {
    "/": "/index.html",
    "/about": "/about.html",
    "/about/": "/about/index.html",
    "/docs/": "/docs/index.html",
    "/docs": "/docs.html",
    "/docs/getting-started": "/docs/getting-started.html",
    "/docs/api/v1/": "/docs/api/v1/index.html",
    "/personas/p-123": "/personas/p-123.html",
    "/blog/2026/11/launch": "/blog/2026/11/launch.html",
    "/v1.2/about": "/v1.2/about.html",
    "/about.html": "/about.html",
    "/index.html": "/index.html",
    "/404.html": "/404.html",
    "/_next/static/chunks/main-abc123.js": "/_next/static/chunks/main-abc123.js",
    "/_next/static/css/app.css": "/_next/static/css/app.css",
    "/favicon.ico": "/favicon.ico",
    "/robots.txt": "/robots.txt",
    "/sitemap.xml": "/sitemap.xml",
    "/images/logo.svg": "/images/logo.svg",
    "/fonts/inter.woff2": "/fonts/inter.woff2",
    "/data/personas.json": "/data/personas.json",
    "/.well-known/security.txt": "/.well-known/security.txt",
    "/caf%C3%A9": "/caf%C3%A9.html",
}


def run_function(paths: list[str]) -> list[dict[str, object]]:
    node = find_tool("node")
    if node is None:
        message = "node is not installed: ./dev test installs it (apt-get install nodejs)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [node, "-e", HARNESS, str(FUNCTION)],
        input=json.dumps(paths),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answers: list[dict[str, object]] = json.loads(result.stdout)
    return answers


def test_deep_links_map_to_exported_pages() -> None:
    paths = list(CASES)
    answers = run_function(paths)
    assert {p: a["uri"] for p, a in zip(paths, answers, strict=True)} == CASES
    for answer in answers:
        assert answer["method"] == "GET" and answer["querystring"] == {"q": {"value": "1"}}


def test_rewrite_is_idempotent_over_many_paths() -> None:
    """Every rewritten path is left alone by a second pass, and nothing is rewritten twice."""
    segments = ["", "a", "docs", "x.y", "v2", "index.html", "_next", "p-1"]
    paths = sorted(
        {f"/{a}" for a in segments}
        | {f"/{a}/{b}" for a in segments[1:] for b in segments}
        | {f"/{a}/{b}/" for a in segments[1:] for b in segments[1:]}
    )
    first = [str(a["uri"]) for a in run_function(paths)]
    second = [str(a["uri"]) for a in run_function(first)]
    assert first == second
    for path, uri in zip(paths, first, strict=True):
        last = path.rsplit("/", 1)[1]
        if path.endswith("/"):
            assert uri == path + "index.html"
        elif "." in last:
            assert uri == path
        else:
            assert uri == path + ".html"


def test_function_is_loaded_from_the_file_and_attached_to_the_default_behaviour() -> None:
    hcl2 = pytest.importorskip("hcl2")
    with (WEBSITE / "cloudfront_function.tf").open(encoding="utf-8") as handle:
        function = hcl2.load(handle)["resource"][0]['"aws_cloudfront_function"']['"this"']
    assert function["runtime"] == '"cloudfront-js-2.0"'
    assert function["code"] == '${file("${path.module}/functions/deep-links.js")}'
    assert function["publish"] is True
    with (WEBSITE / "main.tf").open(encoding="utf-8") as handle:
        main = hcl2.load(handle)
    distribution = next(
        r['"aws_cloudfront_distribution"']['"this"']
        for r in main["resource"]
        if '"aws_cloudfront_distribution"' in r
    )
    association = distribution["default_cache_behavior"][0]["function_association"][0]
    assert association["event_type"] == '"viewer-request"'
    assert association["function_arn"] == "${aws_cloudfront_function.this.arn}"
    # CloudFront Functions are limited to 10 KB of code.
    assert FUNCTION.stat().st_size < 10 * 1024
