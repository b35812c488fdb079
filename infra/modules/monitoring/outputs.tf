output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.this.arn
}

output "alarm_names" {
  description = "Names of all alarms."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.lambda_errors : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.lambda_duration : a.alarm_name],
    [
      aws_cloudwatch_metric_alarm.api_5xx.alarm_name,
      aws_cloudwatch_metric_alarm.api_latency.alarm_name,
      aws_cloudwatch_metric_alarm.consumer_lag_messages.alarm_name,
      aws_cloudwatch_metric_alarm.consumer_lag_seconds.alarm_name,
      aws_cloudwatch_metric_alarm.dead_letters.alarm_name,
    ],
  )
}

output "budget_name" {
  description = "Name of the monthly cost budget."
  value       = aws_budgets_budget.this.name
}

output "edge_dashboard_name" {
  description = "Name of the edge and storage dashboard (CloudFront, S3, Lambda concurrency, API count)."
  value       = aws_cloudwatch_dashboard.edge.dashboard_name
}

output "edge_alarm_names" {
  description = "Names of the edge and storage alarms."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.cloudfront_cache_hit_rate : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.cloudfront_origin_latency : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.lambda_concurrency : a.alarm_name],
    [aws_cloudwatch_metric_alarm.api_requests.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.s3_5xx : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.s3_bucket_size : a.alarm_name],
  )
}
