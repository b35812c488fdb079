output "cluster_arn" {
  description = "ARN of the MSK cluster (serverless or provisioned)."
  value       = local.cluster_arn
}

output "bootstrap_brokers_sasl_iam" {
  description = "KAFKA_BOOTSTRAP_SERVERS for IAM-authenticated clients (port 9098)."
  value       = local.bootstrap
}

output "topic_arn_prefix" {
  description = "Prefix of topic ARNs in IAM policies: <prefix>/<topic name>."
  value       = local.topic_arn_prefix
}

output "group_arn_prefix" {
  description = "Prefix of consumer-group ARNs in IAM policies: <prefix>/<group id>."
  value       = local.group_arn_prefix
}

output "mode" {
  description = "Which flavour was deployed."
  value       = var.mode
}
