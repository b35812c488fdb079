locals {
  env_vars = merge(var.environment.extra, {
    NODE_ENV       = var.environment.node_env
    DATABASE_URL   = var.environment.database_url
    JWT_SECRET_ARN = var.environment.jwt_secret_arn
    CORS_ORIGIN    = var.environment.cors_origin
  })
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Application logs hold no secrets; the AWS-managed key avoids a $1/month CMK per function.
  #checkov:skip=CKV_AWS_338:Retention is a typed input (30 days in dev); one year is not needed for API logs.
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

# Least privilege: its own log group, its own secrets, and the ENI calls VPC Lambdas need.
data "aws_iam_policy_document" "this" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  dynamic "statement" {
    for_each = length(var.secret_arns) > 0 ? [1] : []
    content {
      sid       = "ReadOwnSecrets"
      actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
      resources = var.secret_arns
    }
  }

  dynamic "statement" {
    for_each = var.vpc_config == null ? [] : [1]
    content {
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
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway; a DLQ only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_272:Code signing needs a Signer profile per artifact; the zip is built and deployed by the same pipeline.
  #checkov:skip=CKV_AWS_173:Environment holds no secrets (ARNs and a password-less URL); the AWS-managed key encrypts it at rest.
  #checkov:skip=CKV_AWS_117:VPC attachment is a typed input (vpc_config); every environment sets it for database access.
  #checkov:skip=CKV_AWS_115:Concurrency is capped by reserved_concurrent_executions where an environment needs it.
  function_name = var.function_name
  role          = aws_iam_role.this.arn
  runtime       = var.runtime
  handler       = var.handler
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout
  publish       = var.provisioned_concurrency > 0

  filename         = var.package.filename
  source_code_hash = var.package.filename == null ? null : filebase64sha256(var.package.filename)
  s3_bucket        = var.package.s3_bucket
  s3_key           = var.package.s3_key

  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = local.env_vars
  }

  dynamic "vpc_config" {
    for_each = var.vpc_config == null ? [] : [var.vpc_config]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
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

data "aws_iam_policy_document" "xray" {
  statement {
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "xray" {
  name   = "xray-traces"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.xray.json
}

resource "aws_lambda_alias" "this" {
  count = var.provisioned_concurrency > 0 ? 1 : 0

  name             = "live"
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}

resource "aws_lambda_provisioned_concurrency_config" "this" {
  count = var.provisioned_concurrency > 0 ? 1 : 0

  function_name                     = aws_lambda_function.this.function_name
  qualifier                         = aws_lambda_alias.this[0].name
  provisioned_concurrent_executions = var.provisioned_concurrency
}

locals {
  # API Gateway must call the alias when provisioned concurrency is on, or it would miss the warm instances.
  invoke_arn = var.provisioned_concurrency > 0 ? aws_lambda_alias.this[0].invoke_arn : aws_lambda_function.this.invoke_arn
  qualifier  = var.provisioned_concurrency > 0 ? aws_lambda_alias.this[0].name : null
}
