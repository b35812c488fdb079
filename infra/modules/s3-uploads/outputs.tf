output "bucket_name" {
  description = "Name of the uploads bucket (UPLOADS_BUCKET of the backend)."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the uploads bucket."
  value       = aws_s3_bucket.this.arn
}

output "prefix" {
  description = "Key prefix the granted role may use (UPLOADS_PREFIX of the backend)."
  value       = var.access.prefix
}

output "access_policy_json" {
  description = "The least-privilege policy document attached to each role of access.roles (for other roles)."
  value       = data.aws_iam_policy_document.access.json
}
