# Second dashboard, <name>-edge: the site (CloudFront), the buckets, Lambda concurrency and the
# API request count. CloudFront widgets read us-east-1, where CloudFront publishes its metrics.

locals {
  cloudfront_widgets = local.cloudfront_on ? [
    {
      type = "metric", x = 0, y = 0, width = 12, height = 6
      properties = {
        title  = "CloudFront cache hit rate (%) and requests"
        region = "us-east-1"
        metrics = [
          ["AWS/CloudFront", "CacheHitRate", "DistributionId", var.cloudfront.distribution_id, "Region", "Global", { stat = "Average" }],
          ["AWS/CloudFront", "Requests", "DistributionId", var.cloudfront.distribution_id, "Region", "Global", { stat = "Sum", yAxis = "right" }],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 0, width = 12, height = 6
      properties = {
        title  = "CloudFront origin latency (ms) and error rates (%)"
        region = "us-east-1"
        metrics = [
          ["AWS/CloudFront", "OriginLatency", "DistributionId", var.cloudfront.distribution_id, "Region", "Global", { stat = "p95" }],
          ["AWS/CloudFront", "4xxErrorRate", "DistributionId", var.cloudfront.distribution_id, "Region", "Global", { stat = "Average", yAxis = "right" }],
          ["AWS/CloudFront", "5xxErrorRate", "DistributionId", var.cloudfront.distribution_id, "Region", "Global", { stat = "Average", yAxis = "right" }],
        ]
      }
    },
  ] : []

  edge_widgets = [
    {
      type = "metric", x = 0, y = 6, width = 12, height = 6
      properties = {
        title   = "Lambda concurrent executions"
        region  = local.region
        metrics = [for k, fn in var.lambda_functions : ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", fn, { stat = "Maximum", label = k }]]
      }
    },
    {
      type = "metric", x = 12, y = 6, width = 12, height = 6
      properties = {
        title   = "HTTP API request count"
        region  = local.region
        metrics = [["AWS/ApiGateway", "Count", "ApiId", var.api.id, "Stage", var.api.stage, { stat = "Sum" }]]
      }
    },
    {
      type = "metric", x = 0, y = 12, width = 12, height = 6
      properties = {
        title  = "S3 requests and errors (request metrics)"
        region = local.region
        metrics = concat(
          [for k, b in local.request_metric_buckets : ["AWS/S3", "AllRequests", "BucketName", b, "FilterId", local.s3_request_filter, { stat = "Sum", label = "${k} requests" }]],
          [for k, b in local.request_metric_buckets : ["AWS/S3", "4xxErrors", "BucketName", b, "FilterId", local.s3_request_filter, { stat = "Sum", label = "${k} 4xx", yAxis = "right" }]],
          [for k, b in local.request_metric_buckets : ["AWS/S3", "5xxErrors", "BucketName", b, "FilterId", local.s3_request_filter, { stat = "Sum", label = "${k} 5xx", yAxis = "right" }]],
        )
      }
    },
    {
      type = "metric", x = 12, y = 12, width = 12, height = 6
      properties = {
        title  = "S3 storage (daily): bytes and objects"
        region = local.region
        period = 86400
        metrics = concat(
          [for k, b in var.s3_buckets : ["AWS/S3", "BucketSizeBytes", "BucketName", b.name, "StorageType", "StandardStorage", { stat = "Average", label = "${k} bytes" }]],
          [for k, b in var.s3_buckets : ["AWS/S3", "NumberOfObjects", "BucketName", b.name, "StorageType", "AllStorageTypes", { stat = "Average", label = "${k} objects", yAxis = "right" }]],
        )
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "edge" {
  dashboard_name = "${var.name}-edge"
  dashboard_body = jsonencode({ widgets = concat(local.cloudfront_widgets, local.edge_widgets) })
}
