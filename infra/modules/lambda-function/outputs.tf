output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Unqualified ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "alias_arn" {
  description = "ARN of the alias callers invoke (grant lambda:InvokeFunction on this)."
  value       = aws_lambda_alias.this.arn
}

output "invoke_arn" {
  description = "ARN API Gateway integrates with: the alias, so provisioned concurrency and versions apply."
  value       = aws_lambda_alias.this.invoke_arn
}

output "qualifier" {
  description = "Alias name API Gateway's permission is scoped to."
  value       = aws_lambda_alias.this.name
}

output "role_name" {
  description = "Name of the execution role, for attaching further least-privilege policies."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.this.name
}

output "environment" {
  description = "Environment variables the function is given (checked against infra/contract/components.json)."
  value       = var.environment
}
