output "cluster_name" {
  description = "ECS cluster of the workers."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "ECS service of the workers."
  value       = aws_ecs_service.this.name
}

output "ecr_repository_url" {
  description = "ECR repository the consumer image is pushed to."
  value       = aws_ecr_repository.this.repository_url
}

output "image" {
  description = "Image the tasks run."
  value       = local.image
}

output "topics_task_definition_arn" {
  description = "Task definition of the one-off `dpp topics apply` task, run by the deploy script."
  value       = aws_ecs_task_definition.topics.arn
}

output "worker_task_definition_arn" {
  description = "Task definition of the worker."
  value       = aws_ecs_task_definition.worker.arn
}

output "network" {
  description = "Subnets and security groups for `aws ecs run-task` of the topic task."
  value       = var.network
}

output "log_group_name" {
  description = "Log group of the workers (EMF metrics are extracted from it)."
  value       = aws_cloudwatch_log_group.this.name
}

output "autoscaling" {
  description = "Effective scaling bounds and cooldowns."
  value = {
    min_workers        = var.autoscaling.min_workers
    max_workers        = local.max_workers
    lag_per_worker     = var.autoscaling.lag_per_worker
    scale_out_cooldown = var.autoscaling.scale_out_cooldown
    scale_in_cooldown  = var.autoscaling.scale_in_cooldown
  }
}

output "lag_publisher_service_name" {
  description = "ECS service running `dpp lag export --cloudwatch`, the source of the scaling and alarm metrics."
  value       = aws_ecs_service.lag_publisher.name
}

output "environments" {
  description = "Container environment of each component (worker, topics, lag_publisher), checked against the contract."
  value       = { for component, spec in var.components : component => spec.environment }
}
