data "aws_region" "current" {}

locals {
  region      = data.aws_region.current.region
  image       = coalesce(var.image, "${aws_ecr_repository.this.repository_url}:${var.image_tag}")
  max_workers = min(var.autoscaling.max_workers, var.autoscaling.partitions)
  lag_topics  = coalesce(var.autoscaling.lag_topics, var.kafka.read_topics)

  # One container environment per component, exactly what the contract's names were given.
  container_environment = {
    for component, spec in var.components : component => [
      for k in sort(keys(spec.environment)) : { name = k, value = spec.environment[k] }
    ]
  }

  # kafka-cluster actions by resource kind, from infra/contract/components.json.
  worker_kafka = var.components.worker.kafka_actions
  read_actions = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
  txn_ids      = "${coalesce(var.kafka.transactional_id_arn_prefix, replace(var.kafka.cluster_arn, ":cluster/", ":transactional-id/"))}/dpp-worker-${var.kafka.consumer_group}-*"

  # The scaling signal the lag-publisher puts: namespace, names and dimensions from the contract.
  metrics       = var.components.lag_publisher.metrics
  lag_metric    = "ConsumerLagMessages"
  worker_metric = "WorkerCount"
  dimension_values = {
    ConsumerGroup = var.kafka.consumer_group
  }
}

resource "aws_ecr_repository" "this" {
  #checkov:skip=CKV_AWS_136:AES256 at rest is enough for an image of public code; KMS adds a key per environment.
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 20 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 20 }
      action       = { type = "expire" }
    }]
  })
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = var.use_fargate_spot ? "FARGATE_SPOT" : "FARGATE"
    weight            = 1
  }
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Worker logs hold no secrets; the AWS-managed key is sufficient.
  #checkov:skip=CKV_AWS_338:Retention is a typed input (30 days in dev).
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# Execution role: pull the image and write logs, nothing else.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions.
  }
  statement {
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [aws_ecr_repository.this.arn]
  }
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-and-log"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# Worker task role: read its group and topics, write retries, dead letters and results.
resource "aws_iam_role" "worker" {
  name               = "${var.name}-worker"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "KafkaConnect"
    actions   = local.worker_kafka.cluster
    resources = [var.kafka.cluster_arn]
  }
  statement {
    sid       = "KafkaReadTopics"
    actions   = setintersection(local.worker_kafka.topic, local.read_actions)
    resources = [for t in var.kafka.read_topics : "${var.kafka.topic_arn_prefix}/${t}"]
  }
  statement {
    sid       = "KafkaGroup"
    actions   = local.worker_kafka.group
    resources = ["${var.kafka.group_arn_prefix}/${var.kafka.consumer_group}"]
  }
  # Outcomes, retries and dead letters are written in one transaction (transactional.id
  # dpp-worker-<group>-<uuid>), idempotently.
  statement {
    sid       = "KafkaTransactions"
    actions   = local.worker_kafka.transactional_id
    resources = [local.txn_ids]
  }
  dynamic "statement" {
    for_each = length(var.kafka.write_topics) > 0 ? [1] : []
    content {
      sid       = "KafkaWriteRetriesAndResults"
      actions   = setsubtract(local.worker_kafka.topic, ["kafka-cluster:ReadData"])
      resources = [for t in var.kafka.write_topics : "${var.kafka.topic_arn_prefix}/${t}"]
    }
  }
  dynamic "statement" {
    for_each = length(var.secret_arns) > 0 ? [1] : []
    content {
      sid       = "ReadOwnSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = var.secret_arns
    }
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "kafka-consume"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

# Topic task role: the admin rights `dpp topics apply` needs, on dpp.* topics only.
resource "aws_iam_role" "topics" {
  name               = "${var.name}-topics"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "topics" {
  statement {
    sid       = "KafkaConnect"
    actions   = var.components.topics.kafka_actions.cluster
    resources = [var.kafka.cluster_arn]
  }
  statement {
    sid       = "KafkaTopicAdmin"
    actions   = var.components.topics.kafka_actions.topic
    resources = ["${var.kafka.topic_arn_prefix}/${var.kafka.admin_topic_glob}"]
  }
}

resource "aws_iam_role_policy" "topics" {
  name   = "kafka-topic-admin"
  role   = aws_iam_role.topics.id
  policy = data.aws_iam_policy_document.topics.json
}

resource "aws_ecs_task_definition" "worker" {
  family = var.name
  # Keep replaced revisions ACTIVE: ECS refuses to point a service at an INACTIVE (deregistered)
  # revision, and `deploy-serverless.sh --rollback` goes back to the previous one.
  skip_destroy             = true
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task.cpu
  memory                   = var.task.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.worker.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.task.architecture
  }

  container_definitions = jsonencode([{
    name                   = "consumer"
    image                  = local.image
    command                = var.components.worker.command
    essential              = true
    readonlyRootFilesystem = true
    environment            = local.container_environment.worker
    # Stop gracefully: the worker commits offsets and closes the consumer on SIGTERM.
    stopTimeout = 60
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "worker"
      }
    }
  }])

  tags = var.tags
}

# One-off task for `dpp topics apply`: same image and CLI as the worker, different role and command.
# Topic names, partitions and configs live in the CLI only; Terraform defines no topics.
resource "aws_ecs_task_definition" "topics" {
  family                   = "${var.name}-topics"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.topics.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.task.architecture
  }

  container_definitions = jsonencode([{
    name                   = "topics"
    image                  = local.image
    command                = var.components.topics.command
    essential              = true
    readonlyRootFilesystem = true
    environment            = local.container_environment.topics
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "topics"
      }
    }
  }])

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  name                   = var.name
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.worker.arn
  desired_count          = var.autoscaling.min_workers
  enable_execute_command = false
  propagate_tags         = "SERVICE"

  capacity_provider_strategy {
    capacity_provider = var.use_fargate_spot ? "FARGATE_SPOT" : "FARGATE"
    weight            = 1
  }

  network_configuration {
    subnets          = var.network.subnet_ids
    security_groups  = var.network.security_group_ids
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    # Application Auto Scaling owns the worker count.
    ignore_changes = [desired_count]
  }

  tags = var.tags

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.autoscaling.min_workers
  max_capacity       = local.max_workers
  tags               = var.tags
}

# Target tracking on lag per worker: total ConsumerLagMessages of the group over its topics,
# divided by WorkerCount, kept at lag_per_worker (100) - the in-process autoscaler's rule.
resource "aws_appautoscaling_policy" "this" {
  name               = "${var.name}-lag-per-worker"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.lag_per_worker
    scale_out_cooldown = var.autoscaling.scale_out_cooldown
    scale_in_cooldown  = var.autoscaling.scale_in_cooldown

    customized_metric_specification {
      dynamic "metrics" {
        for_each = { for i, t in local.lag_topics : "lag${i}" => t }
        content {
          id          = metrics.key
          return_data = false
          metric_stat {
            stat = "Maximum"
            metric {
              namespace   = local.metrics.namespace
              metric_name = local.lag_metric
              dynamic "dimensions" {
                for_each = local.metrics.metrics[local.lag_metric].dimensions
                content {
                  name  = dimensions.value
                  value = merge(local.dimension_values, { Topic = metrics.value })[dimensions.value]
                }
              }
            }
          }
        }
      }

      metrics {
        id          = "workers"
        return_data = false
        metric_stat {
          stat = "Maximum"
          metric {
            namespace   = local.metrics.namespace
            metric_name = local.worker_metric
            dynamic "dimensions" {
              for_each = local.metrics.metrics[local.worker_metric].dimensions
              content {
                name  = dimensions.value
                value = local.dimension_values[dimensions.value]
              }
            }
          }
        }
      }

      metrics {
        id          = "lag_per_worker"
        label       = "ConsumerLagMessages per worker"
        expression  = "(${join(" + ", [for i, _ in local.lag_topics : "lag${i}"])}) / workers"
        return_data = true
      }
    }
  }
}
