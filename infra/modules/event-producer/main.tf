data "aws_region" "current" {}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Application logs hold no secrets; the AWS-managed key is sufficient.
  #checkov:skip=CKV_AWS_338:Retention is a typed input (30 days in dev).
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.function_name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# kafka-cluster rights limited to connecting and writing its own topics; no group or admin actions.
data "aws_iam_policy_document" "this" {
  #checkov:skip=CKV_AWS_356:Only the ENI and X-Ray actions use "*": they have no resource-level permissions.
  #checkov:skip=CKV_AWS_111:The only unconstrained writes are ENI management for VPC Lambdas and X-Ray segments.
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid       = "KafkaConnect"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
    resources = [var.kafka.cluster_arn]
  }

  statement {
    sid       = "KafkaWriteOwnTopics"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
    resources = [for t in var.kafka.topics : "${var.kafka.topic_arn_prefix}/${t}"]
  }

  statement {
    sid = "VpcNetworkInterfaces"
    actions = [
      "ec2:CreateNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]
    # These EC2 actions do not support resource-level permissions.
    resources = ["*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway; a DLQ only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_272:Code signing needs a Signer profile; the zip is built and deployed by the same pipeline.
  #checkov:skip=CKV_AWS_173:Environment holds no secrets (bootstrap servers and settings); the AWS-managed key encrypts it.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by API Gateway throttling on the stage.
  function_name    = var.function_name
  role             = aws_iam_role.this.arn
  runtime          = var.runtime
  handler          = var.handler
  architectures    = [var.architecture]
  memory_size      = var.memory_size
  timeout          = var.timeout
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  publish          = var.provisioned_concurrency > 0

  # AWS_REGION is not set here: it is a reserved Lambda variable the runtime always provides.
  environment {
    variables = merge(var.extra_environment, {
      KAFKA_BOOTSTRAP_SERVERS = var.kafka.bootstrap_servers
      KAFKA_SECURITY_MODE     = "msk-iam"
      CORS_ORIGIN             = var.cors_origin
    })
  }

  vpc_config {
    subnet_ids         = var.vpc_config.subnet_ids
    security_group_ids = var.vpc_config.security_group_ids
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this]
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = var.api.id
  integration_type       = "AWS_PROXY"
  integration_uri        = local.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = var.timeout * 1000
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:The producer API verifies the caller's JWT itself, like the backend.
  for_each = toset(var.api.route_keys)

  api_id    = var.api.id
  route_key = each.key
  target    = "integrations/${aws_apigatewayv2_integration.this.id}"
}

resource "aws_lambda_permission" "this" {
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  qualifier     = local.qualifier
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${var.api.execution_arn}/*/*"
}
