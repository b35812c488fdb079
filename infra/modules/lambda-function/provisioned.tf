# Provisioned concurrency (prod: the backend and the producer, whose warm instances keep their
# Kafka producer connected): the instances stay warm on the live alias, which API Gateway and the
# backend invoke, so requests land on them. The version behind the alias is published on every
# change (main.tf), so the option needs no publish switch of its own.
resource "aws_lambda_provisioned_concurrency_config" "this" {
  count = var.provisioned_concurrency > 0 ? 1 : 0

  function_name                     = aws_lambda_function.this.function_name
  qualifier                         = aws_lambda_alias.this.name
  provisioned_concurrent_executions = var.provisioned_concurrency
}
