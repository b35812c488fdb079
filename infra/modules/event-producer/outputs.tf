output "function_name" {
  description = "Name of the producer Lambda."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the producer Lambda."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the producer's execution role."
  value       = aws_iam_role.this.arn
}

output "route_keys" {
  description = "Route keys the producer serves on the HTTP API."
  value       = sort(keys(aws_apigatewayv2_route.this))
}

output "region" {
  description = "Region the producer runs in (AWS_REGION is provided by the Lambda runtime)."
  value       = data.aws_region.current.region
}
