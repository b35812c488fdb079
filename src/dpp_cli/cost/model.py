"""Billable lines of an environment: which resources cost what, idle and under the stated load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dpp_cli.cost.pricing import PriceBook
from dpp_cli.cost.stack import Instance
from dpp_cli.cost.terraform import UNKNOWN

DAYS_PER_MONTH: float = 730 / 24


def topic_partitions() -> int:
    """Partitions `dpp topics apply` creates (MSK Serverless bills each partition-hour)."""
    from dpp_shared.topics import declared_topics  # noqa: PLC0415

    return sum(topic.partitions for topic in declared_topics())


@dataclass(frozen=True)
class Workload:
    """The load the estimate states; every number here is an assumption, printed in the report."""

    events_per_month: int = 1_000_000
    ml_jobs_per_day: int = 10_000
    producer_ms: int = 100
    backend_requests_per_month: int = 1_000_000
    backend_ms: int = 200
    ml_job_seconds: float = 5.0
    worker_headroom: float = 1.5
    site_requests_per_month: int = 1_000_000
    site_gb_out: float = 5.0
    uploads_per_month: int = 10_000
    upload_mb: float = 1.0
    aurora_acu_hours_at_load: float = 365.0
    aurora_storage_gb_idle: float = 1.0
    aurora_storage_gb_load: float = 5.0
    aurora_io_million_load: float = 50.0
    log_gb_per_group_load: float = 1.0
    endpoint_gb_load: float = 5.0
    secret_calls_load: int = 100_000
    container_insights_metrics: int = 20
    image_gb: float = 1.0

    @property
    def ml_jobs_per_month(self) -> float:
        return self.ml_jobs_per_day * DAYS_PER_MONTH

    def describe(self) -> list[str]:
        return [
            f"{self.events_per_month:,} events a month through the producer API (one HTTP API "
            f"request, one Lambda invocation of {self.producer_ms} ms and one X-Ray trace each)",
            f"{self.ml_jobs_per_day:,} ML jobs a day ({self.ml_jobs_per_month:,.0f} a month) of "
            f"{self.ml_job_seconds:g} s each on the workers; average workers = max(min_workers, "
            f"busy hours x {self.worker_headroom:g} / 730)",
            f"{self.backend_requests_per_month:,} backend API requests a month of "
            f"{self.backend_ms} ms (the requests that publish the events)",
            f"static site: {self.site_requests_per_month:,} CloudFront requests and "
            f"{self.site_gb_out:g} GB out a month",
            f"uploads: {self.uploads_per_month:,} files of {self.upload_mb:g} MB a month "
            f"(one PUT and five GETs each)",
            f"Aurora: paused at idle ({self.aurora_storage_gb_idle:g} GB stored); "
            f"{self.aurora_acu_hours_at_load:g} ACU-hours, {self.aurora_storage_gb_load:g} GB and "
            f"{self.aurora_io_million_load:g}M I/Os a month under load",
            f"logs: nothing at idle, {self.log_gb_per_group_load:g} GB ingested per log group "
            f"under load; {self.endpoint_gb_load:g} GB through each interface endpoint",
        ]


@dataclass
class Line:
    """One billable line: a resource instance, the price it is billed at and the quantities."""

    address: str
    rtype: str
    phase: int
    item: str
    price_key: str
    idle: float
    load: float
    note: str = ""
    usd: float = 0.0
    idle_usd: float = 0.0
    load_usd: float = 0.0


@dataclass
class Estimate:
    """All lines of one environment and what could not be priced."""

    environment: str
    lines: list[Line] = field(default_factory=list)
    free: dict[str, list[str]] = field(default_factory=dict)  # rtype -> addresses
    unpriced: list[str] = field(default_factory=list)  # problems found by the check

    def total(self, phase: int, column: str) -> float:
        """Monthly USD of one phase, column "idle" or "load"."""
        attribute = f"{column}_usd"
        return float(sum(getattr(line, attribute) for line in self.lines if line.phase == phase))


# Which phase each module call of an environment belongs to (phase 1: the serverless base;
# phase 2: the event pair). An unknown module call fails the check, like an unpriced type.
MODULE_PHASES = {
    "network": 1,
    "secrets": 1,
    "database": 1,
    "website": 1,
    "backend": 1,
    "api": 1,
    "uploads": 1,
    "monitoring": 1,
    "msk": 2,
    "producer": 2,
    "consumer": 2,
}
# Interface endpoints and the part that needs them (the VPC has no NAT gateway).
# lambda: the backend invokes the producer alias; monitoring: the lag-publisher's PutMetricData.
ENDPOINT_PHASES = {
    "secretsmanager": 1,
    "logs": 2,
    "ecr.api": 2,
    "ecr.dkr": 2,
    "lambda": 2,
    "monitoring": 2,
}
PHASE2_MONITORING = ("producer", "consumer", "dead_letters")

Quantity = tuple[str, str, float, float, str]  # item, price key, idle qty, load qty, note
Rule = Callable[[Instance, "Context"], list[Quantity]]


@dataclass
class Context:
    """What a rule may look at besides its instance."""

    book: PriceBook
    load: Workload
    instances: list[Instance]

    @property
    def hours(self) -> float:
        return self.book.hours_per_month

    def sibling(self, instance: Instance, rtype: str) -> Instance | None:
        return next(
            (i for i in self.instances if i.module == instance.module and i.rtype == rtype), None
        )


def _num(value: Any, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def _endpoint(i: Instance, c: Context) -> list[Quantity]:
    if i.attr("vpc_endpoint_type") != "Interface":
        return []  # gateway endpoints (S3) have no charge
    subnets = i.attr("subnet_ids")
    azs = len(subnets) if isinstance(subnets, list) else 1
    hours = azs * c.hours
    return [
        (f"{i.key} endpoint x {azs} AZ", "vpc_interface_endpoint_hour", hours, hours, ""),
        ("data processed", "vpc_interface_endpoint_gb", 0, c.load.endpoint_gb_load, ""),
    ]


def _secret(i: Instance, c: Context) -> list[Quantity]:
    return [
        ("secret", "secretsmanager_secret_month", 1, 1, ""),
        ("API calls (10k)", "secretsmanager_api_10k", 0, c.load.secret_calls_load / 10_000, ""),
    ]


def _aurora(i: Instance, c: Context) -> list[Quantity]:
    minimum = _num(i.attr("serverlessv2_scaling_configuration", "min_capacity"), 0.5)
    pause = i.attr("serverlessv2_scaling_configuration", "seconds_until_auto_pause")
    idle_acu_hours = minimum * c.hours
    note = f"min {minimum:g} ACU"
    if minimum == 0:
        note += f", auto-pause after {_num(pause, 300):g} s idle: no ACU-hours while paused"
    load_acu_hours = max(idle_acu_hours, c.load.aurora_acu_hours_at_load)
    lines = [
        (
            "Serverless v2 capacity",
            "aurora_serverless_v2_acu_hour",
            idle_acu_hours,
            load_acu_hours,
            note,
        ),
        (
            "storage",
            "aurora_storage_gb_month",
            c.load.aurora_storage_gb_idle,
            c.load.aurora_storage_gb_load,
            "",
        ),
        ("I/O (millions)", "aurora_io_million", 0, c.load.aurora_io_million_load, ""),
    ]
    if i.attr("manage_master_user_password") is True:
        lines.append(
            ("master password secret (RDS-managed)", "secretsmanager_secret_month", 1, 1, "")
        )
    return lines


def _proxy(i: Instance, c: Context) -> list[Quantity]:
    hours = 8 * c.hours  # billed on at least 8 ACUs of a Serverless v2 target
    return [("proxy (8 ACU minimum)", "rds_proxy_acu_hour", hours, hours, "")]


def _lambda(i: Instance, c: Context) -> list[Quantity]:
    memory_gb = _num(i.attr("memory_size"), 128) / 1024
    architectures = i.attr("architectures")
    arch = architectures[0] if isinstance(architectures, list) and architectures else "x86_64"
    if i.module == "producer":
        requests, ms = c.load.events_per_month, c.load.producer_ms
    else:
        requests, ms = c.load.backend_requests_per_month, c.load.backend_ms
    tracing = i.attr("tracing_config", "mode") == "Active"
    lines: list[Quantity] = [
        ("requests (millions)", "lambda_request_million", 0, requests / 1e6, ""),
        (
            f"duration ({memory_gb * 1024:g} MB, {arch})",
            f"lambda_gb_second_{arch}",
            0,
            requests * ms / 1000 * memory_gb,
            f"{ms} ms average",
        ),
    ]
    if tracing:
        lines.append(
            ("X-Ray traces (millions)", "xray_traces_million", 0, requests / 1e6, "active tracing")
        )
    return lines


def _provisioned(i: Instance, c: Context) -> list[Quantity]:
    function = c.sibling(i, "aws_lambda_function")
    memory_gb = _num(function.attr("memory_size") if function else None, 128) / 1024
    architectures = function.attr("architectures") if function else None
    arch = architectures[0] if isinstance(architectures, list) and architectures else "x86_64"
    count = _num(i.attr("provisioned_concurrent_executions"), 1)
    gb_seconds = count * memory_gb * c.hours * 3600
    return [
        (
            f"{count:g} provisioned ({arch})",
            f"lambda_provisioned_gb_second_{arch}",
            gb_seconds,
            gb_seconds,
            "",
        )
    ]


def _http_api(i: Instance, c: Context) -> list[Quantity]:
    requests = c.load.events_per_month + c.load.backend_requests_per_month
    return [
        (
            "requests (millions)",
            "apigw_http_million",
            0,
            requests / 1e6,
            "backend + producer routes",
        )
    ]


def _distribution(i: Instance, c: Context) -> list[Quantity]:
    return [
        (
            "HTTPS requests (10k)",
            "cloudfront_https_10k",
            0,
            c.load.site_requests_per_month / 10_000,
            "",
        ),
        ("data out (GB)", "cloudfront_data_out_gb", 0, c.load.site_gb_out, ""),
    ]


def _cf_function(i: Instance, c: Context) -> list[Quantity]:
    return [
        (
            "invocations (millions)",
            "cloudfront_function_million",
            0,
            c.load.site_requests_per_month / 1e6,
            "viewer requests of the default behaviour",
        )
    ]


def _cf_subscription(i: Instance, c: Context) -> list[Quantity]:
    on = i.attr(
        "monitoring_subscription",
        "realtime_metrics_subscription_config",
        "realtime_metrics_subscription_status",
    )
    metrics = 8 if on == "Enabled" else 0
    return [
        (
            f"{metrics} additional distribution metrics",
            "cloudwatch_metric_month",
            metrics,
            metrics,
            "billed as CloudWatch metrics; counted for the whole month",
        )
    ]


def _bucket(i: Instance, c: Context) -> list[Quantity]:
    if i.module == "uploads":
        gb = c.load.uploads_per_month * c.load.upload_mb / 1024
        return [
            ("storage (GB)", "s3_standard_gb_month", 0, gb, "one month of uploads"),
            ("PUT requests (1k)", "s3_put_1k", 0, c.load.uploads_per_month / 1000, ""),
            ("GET requests (1k)", "s3_get_1k", 0, 5 * c.load.uploads_per_month / 1000, ""),
        ]
    return [
        ("storage (GB)", "s3_standard_gb_month", 0.1, 0.1, "static export"),
        (
            "GET requests from CloudFront (1k)",
            "s3_get_1k",
            0,
            0.1 * c.load.site_requests_per_month / 1000,
            "10% cache misses",
        ),
    ]


def _bucket_metric(i: Instance, c: Context) -> list[Quantity]:
    return [
        (
            "16 request metrics",
            "cloudwatch_metric_month",
            0,
            16,
            "billed as CloudWatch metrics only for the hours requests publish them: none at "
            "idle, all 16 for the whole month under load",
        )
    ]


def _log_group(i: Instance, c: Context) -> list[Quantity]:
    days = _num(i.attr("retention_in_days"), 30)
    stored = c.load.log_gb_per_group_load * min(days, 30) / 30
    return [
        ("ingestion (GB)", "cloudwatch_logs_ingest_gb", 0, c.load.log_gb_per_group_load, ""),
        (
            "storage (GB-month)",
            "cloudwatch_logs_storage_gb_month",
            0,
            stored,
            f"{days:g}-day retention",
        ),
    ]


def _flow_log(i: Instance, c: Context) -> list[Quantity]:
    return [("rejected-traffic records (GB)", "cloudwatch_logs_ingest_gb", 0, 0.1, "vended logs")]


def _alarm(i: Instance, c: Context) -> list[Quantity]:
    queries = i.block_count("metric_query")
    metrics = queries - 1 if isinstance(queries, int) and queries > 0 else 1
    return [
        (f"alarm on {metrics} metric(s)", "cloudwatch_alarm_metric_month", metrics, metrics, "")
    ]


def _dashboard(i: Instance, c: Context) -> list[Quantity]:
    return [("dashboard", "cloudwatch_dashboard_month", 1, 1, "")]


def _budget(i: Instance, c: Context) -> list[Quantity]:
    days = c.hours / 24
    return [("budget", "budgets_budget_day", days, days, "free if among the account's first two")]


def _subscription(i: Instance, c: Context) -> list[Quantity]:
    return [("e-mail deliveries (100k)", "sns_email_100k", 0, 0.001, "about 100 alarm e-mails")]


def _msk(i: Instance, c: Context) -> list[Quantity]:
    brokers = _num(i.attr("number_of_broker_nodes"), 2)
    instance_type = str(i.attr("broker_node_group_info", "instance_type") or "kafka.t3.small")
    key = "msk_" + instance_type.replace(".", "_").replace("-", "_") + "_hour"
    volume = _num(
        i.attr("broker_node_group_info", "storage_info", "ebs_storage_info", "volume_size"), 1
    )
    return [
        (f"{brokers:g} x {instance_type}", key, brokers * c.hours, brokers * c.hours, ""),
        (
            f"storage {brokers:g} x {volume:g} GB",
            "msk_storage_gb_month",
            brokers * volume,
            brokers * volume,
            "",
        ),
    ]


def _msk_serverless(i: Instance, c: Context) -> list[Quantity]:
    partitions = topic_partitions()
    gb = c.load.events_per_month * 2 / 1024 / 1024
    return [
        ("cluster", "msk_serverless_cluster_hour", c.hours, c.hours, ""),
        (
            f"{partitions} partitions",
            "msk_serverless_partition_hour",
            partitions * c.hours,
            partitions * c.hours,
            "",
        ),
        ("data in (GB)", "msk_serverless_in_gb", 0, gb, "2 KB per event"),
        ("data out (GB)", "msk_serverless_out_gb", 0, gb, ""),
    ]


def _ecr(i: Instance, c: Context) -> list[Quantity]:
    return [
        ("image storage (GB)", "ecr_storage_gb_month", c.load.image_gb, c.load.image_gb * 2, "")
    ]


def _ecs_cluster(i: Instance, c: Context) -> list[Quantity]:
    settings = [b for b in i.block.blocks if b.kind == "setting"]
    enabled = any(
        i.scope.eval(b.attributes.get("value")) in ("enabled", "enhanced")
        for b in settings
        if "value" in b.attributes
    )
    metrics = c.load.container_insights_metrics if enabled else 0
    return [
        (
            "Container Insights metrics",
            "cloudwatch_metric_month",
            metrics,
            metrics,
            "estimate: cluster and service level",
        )
    ]


def _ecs_service(i: Instance, c: Context) -> list[Quantity]:
    # The worker service is "this" and runs the "worker" task; others run their namesake task.
    task_name = "worker" if i.name == "this" else i.name
    task = next(
        (
            t
            for t in c.instances
            if t.module == i.module and t.rtype == "aws_ecs_task_definition" and t.name == task_name
        ),
        None,
    )
    cpu = _num(task.attr("cpu") if task else None, 256) / 1024
    memory = _num(task.attr("memory") if task else None, 512) / 1024
    minimum = _num(i.attr("desired_count"), 1)
    if i.name != "this":
        # A fixed service (the lag-publisher): the same tasks idle and under load, no scaling.
        hours = minimum * c.hours
        note = f"{minimum:g} x {cpu:g} vCPU / {memory:g} GB task, always on; on-demand price"
        return [
            (f"{i.name} vCPU", "fargate_vcpu_hour", hours * cpu, hours * cpu, note),
            (f"{i.name} memory", "fargate_gb_hour", hours * memory, hours * memory, ""),
        ]
    busy_hours = c.load.ml_jobs_per_month * c.load.ml_job_seconds / 3600
    workers_load = max(minimum, busy_hours * c.load.worker_headroom / c.hours)
    note = f"{cpu:g} vCPU / {memory:g} GB tasks; on-demand price (Fargate Spot is cheaper)"
    return [
        (
            f"workers vCPU ({minimum:g} idle, {workers_load:.2f} under load)",
            "fargate_vcpu_hour",
            minimum * cpu * c.hours,
            workers_load * cpu * c.hours,
            note,
        ),
        (
            "workers memory",
            "fargate_gb_hour",
            minimum * memory * c.hours,
            workers_load * memory * c.hours,
            "",
        ),
    ]


def _kms_key(i: Instance, c: Context) -> list[Quantity]:
    # Requests (alarm publishes to the encrypted topic) are few and not priced here.
    return [("customer managed key", "kms_key_month", 1, 1, "requests not priced: a few per alarm")]


RULES: dict[str, Rule] = {
    "aws_vpc_endpoint": _endpoint,
    "aws_flow_log": _flow_log,
    "aws_cloudwatch_log_group": _log_group,
    "aws_secretsmanager_secret": _secret,
    "aws_rds_cluster": _aurora,
    "aws_db_proxy": _proxy,
    "aws_lambda_function": _lambda,
    "aws_lambda_provisioned_concurrency_config": _provisioned,
    "aws_apigatewayv2_api": _http_api,
    "aws_cloudfront_distribution": _distribution,
    "aws_cloudfront_function": _cf_function,
    "aws_cloudfront_monitoring_subscription": _cf_subscription,
    "aws_s3_bucket": _bucket,
    "aws_s3_bucket_metric": _bucket_metric,
    "aws_cloudwatch_metric_alarm": _alarm,
    "aws_cloudwatch_dashboard": _dashboard,
    "aws_budgets_budget": _budget,
    "aws_sns_topic_subscription": _subscription,
    "aws_msk_cluster": _msk,
    "aws_msk_serverless_cluster": _msk_serverless,
    "aws_ecr_repository": _ecr,
    "aws_ecs_cluster": _ecs_cluster,
    "aws_ecs_service": _ecs_service,
    "aws_kms_key": _kms_key,
}


def _phase(instance: Instance) -> int | None:
    if instance.rtype == "aws_vpc_endpoint" and instance.key in ENDPOINT_PHASES:
        return ENDPOINT_PHASES[str(instance.key)]
    if instance.module == "monitoring":
        marker = f"{instance.name}[{instance.key}]"
        return 2 if any(word in marker for word in PHASE2_MONITORING) else 1
    return MODULE_PHASES.get(instance.module.split("[")[0])


def estimate(
    environment: str, instances: list[Instance], book: PriceBook, load: Workload
) -> Estimate:
    """Price every instance; record types and module calls the model cannot place."""
    result = Estimate(environment)
    context = Context(book, load, instances)
    for instance in instances:
        if not instance.count_known:
            result.unpriced.append(f"{instance.address}: count/for_each unknown before apply")
        if instance.rtype in book.free_types:
            result.free.setdefault(instance.rtype, []).append(instance.address)
            continue
        rule = RULES.get(instance.rtype)
        if rule is None:
            result.unpriced.append(
                f"{instance.rtype} ({instance.address}): billable type with no price entry"
            )
            continue
        phase = _phase(instance)
        if phase is None:
            result.unpriced.append(
                f"{instance.address}: module call {instance.module!r} has no phase"
            )
            continue
        for item, key, idle, at_load, note in rule(instance, context):
            if key not in book.prices:
                result.unpriced.append(
                    f"{instance.rtype} ({instance.address}): no price entry {key!r}"
                )
                continue
            usd = book.prices[key].usd
            if idle is UNKNOWN or at_load is UNKNOWN:
                result.unpriced.append(f"{instance.address}: quantity unknown before apply")
                continue
            result.lines.append(
                Line(
                    instance.address,
                    instance.rtype,
                    phase,
                    item,
                    key,
                    idle,
                    at_load,
                    note,
                    usd,
                    idle * usd,
                    at_load * usd,
                )
            )
    return result
