output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Default execute-api endpoint of the API."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "execution_arn" {
  description = "Execution ARN, for Lambda permissions of routes added by other modules."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "stage_name" {
  description = "Name of the auto-deployed stage."
  value       = aws_apigatewayv2_stage.this.name
}

output "api_url" {
  description = "Public base URL: https://<custom domain> when set, the execute-api endpoint otherwise (NEXT_PUBLIC_API_URL)."
  value       = var.custom_domain == null ? aws_apigatewayv2_api.this.api_endpoint : "https://${var.custom_domain.domain_name}"
}

output "custom_domain_target" {
  description = "Regional domain name and hosted zone for a Route 53 alias to the custom domain, or null."
  value = var.custom_domain == null ? null : {
    domain_name    = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].target_domain_name
    hosted_zone_id = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].hosted_zone_id
  }
}
