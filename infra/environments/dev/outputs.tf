output "name_prefix" {
  description = "Prefix of every resource name: <environment>-<sub_environment>-dpp."
  value       = local.name
}

output "next_public_api_url" {
  description = "NEXT_PUBLIC_API_URL for the frontend build (https://api-<sub_environment>.<domain> with a certificate)."
  value       = module.api.api_url
}

output "api_endpoint" {
  description = "execute-api endpoint of the HTTP API (health checks work before DNS is switched)."
  value       = module.api.api_endpoint
}

output "website_url" {
  description = "URL of the static site."
  value       = module.website.website_url
}

output "website_bucket" {
  description = "Bucket the frontend build is synced to."
  value       = module.website.bucket_name
}

output "cloudfront_distribution_id" {
  description = "Distribution invalidated after each sync."
  value       = module.website.distribution_id
}

output "backend_function_name" {
  description = "Backend API Lambda."
  value       = module.backend.function_name
}

output "producer_function_name" {
  description = "Producer API Lambda."
  value       = module.producer.function_name
}

output "producer_alias_arn" {
  description = "Alias backend Lambdas invoke through the Lambda VPC endpoint (DPP_EVENTS_FUNCTION)."
  value       = module.producer.alias_arn
}

output "lag_publisher_service_name" {
  description = "ECS service publishing the lag metrics the scaling policy and the alarms read."
  value       = module.consumer.lag_publisher_service_name
}

output "kafka_bootstrap_servers" {
  description = "KAFKA_BOOTSTRAP_SERVERS of the event pair."
  value       = module.msk.bootstrap_brokers_sasl_iam
}

output "consumer_ecr_repository_url" {
  description = "Repository the consumer image is pushed to."
  value       = module.consumer.ecr_repository_url
}

output "consumer_cluster_name" {
  description = "ECS cluster of the workers and of the topic task."
  value       = module.consumer.cluster_name
}

output "consumer_service_name" {
  description = "ECS service of the workers."
  value       = module.consumer.service_name
}

output "topics_task_definition_arn" {
  description = "One-off `dpp topics apply` task definition run at deploy time."
  value       = module.consumer.topics_task_definition_arn
}

output "topics_task_network" {
  description = "awsvpcConfiguration for aws ecs run-task of the topic task."
  value = {
    subnets        = module.consumer.network.subnet_ids
    securityGroups = module.consumer.network.security_group_ids
    assignPublicIp = "DISABLED"
  }
}

output "database_endpoint" {
  description = "Host the applications connect to."
  value       = module.database.endpoint
}

output "jwt_secret_arn" {
  description = "JWT_SECRET_ARN."
  value       = module.secrets.secret_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the environment."
  value       = module.monitoring.dashboard_name
}

output "custom_domain_targets" {
  description = "Where Route 53 records should point (records are maintained by hand, never by this stack)."
  value = {
    website = { name = local.site_domain, target = module.website.distribution_domain_name, zone_id = module.website.distribution_hosted_zone_id }
    api     = module.api.custom_domain_target
  }
}

output "uploads_bucket" {
  description = "Private uploads bucket (the backend's UPLOADS_BUCKET; objects under UPLOADS_PREFIX only)."
  value       = module.uploads.bucket_name
}

output "edge_dashboard_name" {
  description = "CloudWatch dashboard of the site, buckets, Lambda concurrency and API request count."
  value       = module.monitoring.edge_dashboard_name
}
