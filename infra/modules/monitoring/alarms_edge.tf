# Edge and storage observability the migration guide lists: CloudFront cache hit rate and origin
# latency, S3 request and storage metrics, Lambda concurrent executions and API request count.
# CloudFront publishes its metrics in us-east-1 only, so these alarms work in stacks of that region.

locals {
  cloudfront_on         = var.cloudfront != null
  cloudfront_additional = local.cloudfront_on && try(var.cloudfront.additional_metrics, false)
  request_metric_buckets = {
    for k, b in var.s3_buckets : k => b.name if b.request_metrics
  }
  # Filter name of the request metrics configuration: it is the FilterId dimension of the metrics.
  s3_request_filter = "EntireBucket"
}

# CacheHitRate and OriginLatency exist only with the additional-metrics subscription
# (8 extra metrics per distribution, billed as CloudWatch metrics): made explicit here.
resource "aws_cloudfront_monitoring_subscription" "this" {
  count = local.cloudfront_additional ? 1 : 0

  distribution_id = var.cloudfront.distribution_id

  monitoring_subscription {
    realtime_metrics_subscription_config {
      realtime_metrics_subscription_status = "Enabled"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "cloudfront_cache_hit_rate" {
  count = local.cloudfront_additional ? 1 : 0

  alarm_name          = "${var.name}-cloudfront-cache-hit-rate"
  alarm_description   = "CloudFront serves too many requests from the origin (cache hit rate low)"
  namespace           = "AWS/CloudFront"
  metric_name         = "CacheHitRate"
  dimensions          = { DistributionId = var.cloudfront.distribution_id, Region = "Global" }
  statistic           = "Average"
  period              = 900
  evaluation_periods  = 4
  threshold           = var.thresholds.cloudfront_cache_hit_rate_min_pct
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_arn
  ok_actions          = local.alarm_arn
  tags                = var.tags

  depends_on = [aws_cloudfront_monitoring_subscription.this]
}

resource "aws_cloudwatch_metric_alarm" "cloudfront_origin_latency" {
  count = local.cloudfront_additional ? 1 : 0

  alarm_name          = "${var.name}-cloudfront-origin-latency-p95"
  alarm_description   = "S3 origin answers CloudFront slowly (p95 origin latency high)"
  namespace           = "AWS/CloudFront"
  metric_name         = "OriginLatency"
  dimensions          = { DistributionId = var.cloudfront.distribution_id, Region = "Global" }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.thresholds.cloudfront_origin_latency_p95_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_arn
  tags                = var.tags

  depends_on = [aws_cloudfront_monitoring_subscription.this]
}

resource "aws_cloudwatch_metric_alarm" "lambda_concurrency" {
  for_each = var.lambda_functions

  alarm_name          = "${var.name}-${each.key}-lambda-concurrency"
  alarm_description   = "Lambda ${each.value} runs many concurrent executions (throttling ahead)"
  namespace           = "AWS/Lambda"
  metric_name         = "ConcurrentExecutions"
  dimensions          = { FunctionName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.thresholds.lambda_concurrent_executions
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_arn
  ok_actions          = local.alarm_arn
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_requests" {
  alarm_name          = "${var.name}-api-request-count"
  alarm_description   = "HTTP API request count is unusually high (traffic spike or a client loop)"
  namespace           = "AWS/ApiGateway"
  metric_name         = "Count"
  dimensions          = { ApiId = var.api.id, Stage = var.api.stage }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.thresholds.api_requests_per_5min
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_arn
  tags                = var.tags
}

# S3 request metrics are opt-in per bucket: one filter over the whole bucket.
resource "aws_s3_bucket_metric" "this" {
  for_each = local.request_metric_buckets

  bucket = each.value
  name   = local.s3_request_filter
}

resource "aws_cloudwatch_metric_alarm" "s3_5xx" {
  for_each = local.request_metric_buckets

  alarm_name          = "${var.name}-${each.key}-s3-5xx"
  alarm_description   = "S3 bucket ${each.value} returned 5xx errors"
  namespace           = "AWS/S3"
  metric_name         = "5xxErrors"
  dimensions          = { BucketName = each.value, FilterId = local.s3_request_filter }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.thresholds.s3_5xx_errors
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_arn
  tags                = var.tags

  depends_on = [aws_s3_bucket_metric.this]
}

# Daily storage metrics are free and on for every bucket.
resource "aws_cloudwatch_metric_alarm" "s3_bucket_size" {
  for_each = var.s3_buckets

  alarm_name          = "${var.name}-${each.key}-s3-size"
  alarm_description   = "S3 bucket ${each.value.name} grew beyond the expected size"
  namespace           = "AWS/S3"
  metric_name         = "BucketSizeBytes"
  dimensions          = { BucketName = each.value.name, StorageType = "StandardStorage" }
  statistic           = "Average"
  period              = 86400
  evaluation_periods  = 1
  threshold           = var.thresholds.s3_bucket_size_gb * 1073741824
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_arn
  tags                = var.tags
}
