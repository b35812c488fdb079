output "secret_arn" {
  description = "ARN of the JWT secret (the JWT_SECRET_ARN of the backend)."
  value       = aws_secretsmanager_secret.this.arn
}

output "secret_name" {
  description = "Name of the JWT secret."
  value       = aws_secretsmanager_secret.this.name
}
