data "aws_region" "current" {}

locals {
  region    = data.aws_region.current.region
  alarm_arn = [aws_sns_topic.this.arn]
  # Sum of lag over the watched topics, as metric-math queries.
  lag_queries = { for i, t in var.consumer.topics : "t${i}" => t }
}

data "aws_caller_identity" "current" {}

# CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed alias/aws/sns key
# (its policy cannot be changed to admit cloudwatch.amazonaws.com), so the topic has its own key.
data "aws_iam_policy_document" "alarm_key" {
  #checkov:skip=CKV_AWS_109:A key policy's resource is always "*" (the key itself); the account root keeps administration.
  #checkov:skip=CKV_AWS_111:A key policy's resource is always "*" (the key itself); writes are limited to the account root.
  #checkov:skip=CKV_AWS_356:A key policy's resource is always "*", meaning this key only.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "this" {
  description         = "${var.name} alarm topic"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.alarm_key.json
  tags                = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_sns_topic" "this" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "this" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.key
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each = var.lambda_functions

  alarm_name          = "${var.name}-${each.key}-lambda-errors"
  alarm_description   = "Lambda ${each.value} reported errors"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.thresholds.lambda_errors
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_arn
  ok_actions          = local.alarm_arn
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_duration" {
  for_each = var.lambda_functions

  alarm_name          = "${var.name}-${each.key}-lambda-duration-p95"
  alarm_description   = "Lambda ${each.value} p95 duration is high"
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = each.value }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.thresholds.lambda_duration_p95_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_arn
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name}-api-5xx"
  alarm_description   = "HTTP API returned 5xx responses"
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = var.api.id, Stage = var.api.stage }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.thresholds.api_5xx
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_arn
  ok_actions          = local.alarm_arn
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_latency" {
  alarm_name          = "${var.name}-api-latency-p95"
  alarm_description   = "HTTP API p95 latency is high"
  namespace           = "AWS/ApiGateway"
  metric_name         = "Latency"
  dimensions          = { ApiId = var.api.id, Stage = var.api.stage }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.thresholds.api_latency_p95_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_arn
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "consumer_lag_messages" {
  alarm_name          = "${var.name}-consumer-lag-messages"
  alarm_description   = "Consumer group ${var.consumer.consumer_group} is behind by many messages"
  evaluation_periods  = 3
  threshold           = var.thresholds.lag_messages
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_arn
  ok_actions          = local.alarm_arn
  tags                = var.tags

  dynamic "metric_query" {
    for_each = local.lag_queries
    content {
      id = metric_query.key
      metric {
        namespace   = var.consumer.namespace
        metric_name = "ConsumerLagMessages"
        period      = 60
        stat        = "Maximum"
        dimensions  = { ConsumerGroup = var.consumer.consumer_group, Topic = metric_query.value }
      }
    }
  }

  metric_query {
    id          = "total"
    label       = "ConsumerLagMessages (all topics)"
    expression  = join(" + ", keys(local.lag_queries))
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "consumer_lag_seconds" {
  alarm_name          = "${var.name}-consumer-lag-seconds"
  alarm_description   = "Oldest unprocessed event of ${var.consumer.consumer_group} is too old"
  evaluation_periods  = 3
  threshold           = var.thresholds.lag_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_arn
  ok_actions          = local.alarm_arn
  tags                = var.tags

  dynamic "metric_query" {
    for_each = local.lag_queries
    content {
      id = metric_query.key
      metric {
        namespace   = var.consumer.namespace
        metric_name = "ConsumerLagSeconds"
        period      = 60
        stat        = "Maximum"
        dimensions  = { ConsumerGroup = var.consumer.consumer_group, Topic = metric_query.value }
      }
    }
  }

  metric_query {
    id          = "oldest"
    label       = "ConsumerLagSeconds (worst topic)"
    expression  = "MAX([${join(", ", keys(local.lag_queries))}])"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "Events arrived on dpp.dead-letter"
  namespace           = var.consumer.namespace
  metric_name         = "DeadLetters"
  dimensions          = { ConsumerGroup = var.consumer.consumer_group }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.thresholds.dead_letters
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_arn
  tags                = var.tags
}

resource "aws_budgets_budget" "this" {
  name         = "${var.name}-monthly"
  budget_type  = "COST"
  limit_amount = format("%.2f", var.budget.monthly_limit_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  cost_filter {
    name   = "TagKeyValue"
    values = ["user:Project$dpp"]
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 80
    threshold_type             = "PERCENTAGE"
    notification_type          = "FORECASTED"
    subscriber_email_addresses = var.budget.emails
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 100
    threshold_type             = "PERCENTAGE"
    notification_type          = "ACTUAL"
    subscriber_email_addresses = var.budget.emails
  }

  tags = var.tags
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Lambda errors and p95 duration"
          region = local.region
          metrics = concat(
            [for k, fn in var.lambda_functions : ["AWS/Lambda", "Errors", "FunctionName", fn, { stat = "Sum", label = "${k} errors" }]],
            [for k, fn in var.lambda_functions : ["AWS/Lambda", "Duration", "FunctionName", fn, { stat = "p95", label = "${k} p95 ms", yAxis = "right" }]],
          )
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "HTTP API 5xx and p95 latency"
          region = local.region
          metrics = [
            ["AWS/ApiGateway", "5xx", "ApiId", var.api.id, "Stage", var.api.stage, { stat = "Sum" }],
            ["AWS/ApiGateway", "Latency", "ApiId", var.api.id, "Stage", var.api.stage, { stat = "p95", yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title   = "Consumer lag (messages) by topic"
          region  = local.region
          metrics = [for t in var.consumer.topics : [var.consumer.namespace, "ConsumerLagMessages", "ConsumerGroup", var.consumer.consumer_group, "Topic", t, { stat = "Maximum" }]]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title   = "Consumer lag (seconds) by topic"
          region  = local.region
          metrics = [for t in var.consumer.topics : [var.consumer.namespace, "ConsumerLagSeconds", "ConsumerGroup", var.consumer.consumer_group, "Topic", t, { stat = "Maximum" }]]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title  = "Workers and dead letters"
          region = local.region
          metrics = [
            [var.consumer.namespace, "WorkerCount", "ConsumerGroup", var.consumer.consumer_group, { stat = "Maximum" }],
            [var.consumer.namespace, "DeadLetters", "ConsumerGroup", var.consumer.consumer_group, { stat = "Sum", yAxis = "right" }],
          ]
        }
      },
    ]
  })
}
