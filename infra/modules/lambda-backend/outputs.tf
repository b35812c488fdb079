output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "ARN API Gateway integrates with (the live alias when provisioned concurrency is on)."
  value       = local.invoke_arn
}

output "qualifier" {
  description = "Alias API Gateway invokes, or null for $LATEST."
  value       = local.qualifier
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
