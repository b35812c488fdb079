"""Structure of the edge observability in modules/monitoring and its wiring in the environments."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.toolchain import ENVIRONMENTS, MODULES

hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is a dev dependency of the infra tests")

MONITORING = MODULES / "monitoring"


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def module_resources() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted(MONITORING.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            for entry in hcl2.load(handle).get("resource", []):
                for rtype, named in entry.items():
                    for name, body in named.items():
                        found[(unquote(rtype), unquote(name))] = body
    return found


def alarm(name: str) -> dict[str, Any]:
    return module_resources()[("aws_cloudwatch_metric_alarm", name)]


def test_additional_cloudfront_metrics_subscription_is_explicit() -> None:
    subscription = module_resources()[("aws_cloudfront_monitoring_subscription", "this")]
    config = subscription["monitoring_subscription"][0]["realtime_metrics_subscription_config"][0]
    assert unquote(config["realtime_metrics_subscription_status"]) == "Enabled"
    assert subscription["distribution_id"] == "${var.cloudfront.distribution_id}"
    for name in ("cloudfront_cache_hit_rate", "cloudfront_origin_latency"):
        assert "aws_cloudfront_monitoring_subscription.this" in str(alarm(name)["depends_on"])


@pytest.mark.parametrize(
    ("name", "namespace", "metric", "comparison"),
    [
        ("cloudfront_cache_hit_rate", "AWS/CloudFront", "CacheHitRate", "LessThanThreshold"),
        ("cloudfront_origin_latency", "AWS/CloudFront", "OriginLatency", "GreaterThanThreshold"),
        ("lambda_concurrency", "AWS/Lambda", "ConcurrentExecutions", "GreaterThanThreshold"),
        ("api_requests", "AWS/ApiGateway", "Count", "GreaterThanThreshold"),
        ("s3_5xx", "AWS/S3", "5xxErrors", "GreaterThanOrEqualToThreshold"),
        ("s3_bucket_size", "AWS/S3", "BucketSizeBytes", "GreaterThanThreshold"),
    ],
)
def test_edge_alarms_watch_the_guide_metrics(
    name: str, namespace: str, metric: str, comparison: str
) -> None:
    body = alarm(name)
    assert unquote(body["namespace"]) == namespace
    assert unquote(body["metric_name"]) == metric
    assert unquote(body["comparison_operator"]) == comparison
    assert body["alarm_actions"] == "${local.alarm_arn}"
    assert "var.thresholds." in str(body["threshold"])
    assert body["tags"] == "${var.tags}"


def test_cloudfront_alarms_use_the_global_dimensions() -> None:
    for name in ("cloudfront_cache_hit_rate", "cloudfront_origin_latency"):
        dimensions = alarm(name)["dimensions"]
        assert "Region" in dimensions and "Global" in str(dimensions["Region"])
        assert "DistributionId" in dimensions


def test_s3_request_metrics_need_a_bucket_metric_filter() -> None:
    resources = module_resources()
    bucket_metric = resources[("aws_s3_bucket_metric", "this")]
    assert bucket_metric["for_each"] == "${local.request_metric_buckets}"
    assert bucket_metric["name"] == "${local.s3_request_filter}"
    s3_5xx = alarm("s3_5xx")
    assert s3_5xx["for_each"] == "${local.request_metric_buckets}"
    assert "FilterId" in s3_5xx["dimensions"]
    assert "aws_s3_bucket_metric.this" in str(s3_5xx["depends_on"])


def test_edge_dashboard_shows_every_new_metric() -> None:
    dashboard = module_resources()[("aws_cloudwatch_dashboard", "edge")]
    assert "-edge" in dashboard["dashboard_name"]
    text = (MONITORING / "dashboards_edge.tf").read_text(encoding="utf-8")
    for metric in (
        '"CacheHitRate"',
        '"OriginLatency"',
        '"ConcurrentExecutions"',
        '"Count"',
        '"AllRequests"',
        '"5xxErrors"',
        '"BucketSizeBytes"',
        '"NumberOfObjects"',
    ):
        assert metric in text, metric
    # CloudFront metrics exist only in us-east-1.
    assert text.count('region = "us-east-1"') == 2


def test_alarm_email_subscriptions_come_from_the_variable() -> None:
    subscription = module_resources()[("aws_sns_topic_subscription", "this")]
    assert subscription["for_each"] == "${toset(var.alarm_emails)}"
    assert unquote(subscription["protocol"]) == "email"
    with (MONITORING / "variables.tf").open(encoding="utf-8") as handle:
        variables = {k.strip('"'): v for e in hcl2.load(handle)["variable"] for k, v in e.items()}
    emails = variables["alarm_emails"]
    assert "list(string)" in emails["type"] and emails.get("validation")
    thresholds = variables["thresholds"]["type"]
    for key in (
        "cloudfront_cache_hit_rate_min_pct",
        "cloudfront_origin_latency_p95_ms",
        "lambda_concurrent_executions",
        "api_requests_per_5min",
    ):
        assert key in thresholds


@pytest.mark.parametrize("env", sorted(p.name for p in ENVIRONMENTS.iterdir() if p.is_dir()))
def test_environments_wire_cloudfront_buckets_and_alarm_emails(env: str) -> None:
    with (ENVIRONMENTS / env / "main.tf").open(encoding="utf-8") as handle:
        modules = {k.strip('"'): v for e in hcl2.load(handle)["module"] for k, v in e.items()}
    monitoring = modules["monitoring"]
    assert monitoring["alarm_emails"] == "${var.alert_emails}"
    assert monitoring["cloudfront"]["distribution_id"] == "${module.website.distribution_id}"
    buckets = monitoring["s3_buckets"]
    assert buckets["uploads"]["request_metrics"] is True
    assert buckets["website"]["name"] == "${module.website.bucket_name}"
    assert json.dumps(monitoring)  # plain data, no blocks
