# The lag-publisher: one task of the consumer image running `dpp lag export --cloudwatch`, which
# reads the group's lag from MSK and puts ConsumerLagMessages, ConsumerLagSeconds, WorkerCount and
# DeadLetters (namespace and dimensions from the contract) with PutMetricData. The scaling policy
# and the alarms read exactly those metrics; without this task they would never have data.

resource "aws_iam_role" "lag_publisher" {
  name               = "${var.name}-lag"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "lag_publisher" {
  #checkov:skip=CKV_AWS_356:cloudwatch:PutMetricData has no resource-level permissions; the namespace condition scopes it.
  #checkov:skip=CKV_AWS_111:PutMetricData is the only unconstrained write and is limited to the contract's namespace.
  statement {
    sid       = "KafkaConnect"
    actions   = var.components.lag_publisher.kafka_actions.cluster
    resources = [var.kafka.cluster_arn]
  }
  # End offsets and the oldest unread record's timestamp of every topic the group reads, and the
  # dead-letter topic for the DeadLetters count.
  statement {
    sid       = "KafkaReadTopics"
    actions   = var.components.lag_publisher.kafka_actions.topic
    resources = [for t in distinct(concat(var.kafka.read_topics, var.kafka.write_topics)) : "${var.kafka.topic_arn_prefix}/${t}"]
  }
  statement {
    sid       = "KafkaDescribeGroup"
    actions   = var.components.lag_publisher.kafka_actions.group
    resources = ["${var.kafka.group_arn_prefix}/${var.kafka.consumer_group}"]
  }
  statement {
    sid       = "PutLagMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [local.metrics.namespace]
    }
  }
}

resource "aws_iam_role_policy" "lag_publisher" {
  name   = "kafka-describe-and-put-metrics"
  role   = aws_iam_role.lag_publisher.id
  policy = data.aws_iam_policy_document.lag_publisher.json
}

resource "aws_ecs_task_definition" "lag_publisher" {
  family                   = "${var.name}-lag"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.lag_publisher.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.task.architecture
  }

  container_definitions = jsonencode([{
    name                   = "lag-publisher"
    image                  = local.image
    command                = var.components.lag_publisher.command
    essential              = true
    readonlyRootFilesystem = true
    environment            = local.container_environment.lag_publisher
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "lag-publisher"
      }
    }
  }])

  tags = var.tags
}

# On-demand Fargate, one task: a Spot interruption would blind the scaling policy and the alarms.
resource "aws_ecs_service" "lag_publisher" {
  name                   = "${var.name}-lag"
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.lag_publisher.arn
  desired_count          = 1
  enable_execute_command = false
  propagate_tags         = "SERVICE"

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
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

  tags = var.tags

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}
