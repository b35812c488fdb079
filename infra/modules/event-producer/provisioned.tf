# Provisioned concurrency (prod): a published version behind the live alias, kept warm; API
# Gateway then invokes the alias so requests land on the warm instances.
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
  invoke_arn = var.provisioned_concurrency > 0 ? aws_lambda_alias.this[0].invoke_arn : aws_lambda_function.this.invoke_arn
  qualifier  = var.provisioned_concurrency > 0 ? aws_lambda_alias.this[0].name : null
}
