output "cluster_identifier" {
  description = "Identifier of the Aurora cluster."
  value       = aws_rds_cluster.this.cluster_identifier
}

output "cluster_arn" {
  description = "ARN of the Aurora cluster."
  value       = aws_rds_cluster.this.arn
}

output "endpoint" {
  description = "Host applications connect to: the RDS Proxy endpoint when enabled, the writer endpoint otherwise."
  value       = local.host
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_rds_cluster.this.port
}

output "database_url" {
  description = "DATABASE_URL without password (the password is read from master_user_secret_arn at runtime)."
  value       = "postgresql://${var.master_username}@${local.host}:${aws_rds_cluster.this.port}/${var.database_name}?sslmode=require"
}

output "master_user_secret_arn" {
  description = "ARN of the RDS-managed Secrets Manager secret with the master credentials."
  value       = aws_rds_cluster.this.master_user_secret[0].secret_arn
}
