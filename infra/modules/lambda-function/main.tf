resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Function logs hold no secrets; the AWS-managed key avoids a $1/month CMK per function.
  #checkov:skip=CKV_AWS_338:Retention is a typed input (30 days in dev); one year is not needed for API logs.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously (API Gateway, RequestResponse); a DLQ only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_272:Code signing needs a Signer profile per artifact; the zip is built and deployed by the same pipeline.
  #checkov:skip=CKV_AWS_173:Environment holds no secrets (ARNs, endpoints and a password-less URL); the AWS-managed key encrypts it at rest.
  #checkov:skip=CKV_AWS_117:VPC attachment is a typed input (vpc_config); every environment sets it for database and broker access.
  #checkov:skip=CKV_AWS_115:Concurrency is capped by reserved_concurrent_executions where an environment needs it.
  function_name = var.function_name
  description   = var.description
  role          = aws_iam_role.this.arn
  runtime       = var.runtime
  handler       = var.handler
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout
  # Always publish: callers invoke the alias, which moves to the new version on each change.
  publish = true

  filename         = var.package.filename
  source_code_hash = var.package.filename == null ? null : filebase64sha256(var.package.filename)
  s3_bucket        = var.package.s3_bucket
  s3_key           = var.package.s3_key

  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = var.environment
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

resource "aws_lambda_alias" "this" {
  name             = var.alias_name
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version

  lifecycle {
    # Terraform creates the alias on the first version and publishes a version on every change;
    # which version the alias serves, and the canary's weighted routing, belong to
    # infra/scripts/deploy-serverless.sh (release, --canary, --rollback). Without this, the next
    # apply would undo a rollback or cut a canary short.
    ignore_changes = [function_version, routing_config]
  }
}

# lambda-backend created the alias only with provisioned concurrency; it now always exists.
moved {
  from = aws_lambda_alias.this[0]
  to   = aws_lambda_alias.this
}
