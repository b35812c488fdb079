output "state_bucket" {
  description = "Remote-state bucket; infra/environments/<environment>/backend.tf names it."
  value       = aws_s3_bucket.this.bucket
}

output "state_region" {
  description = "Region of the state bucket (backend.tf region)."
  value       = var.aws_region
}

output "deploy_role_arn" {
  description = "Set as the GitHub variable AWS_DEPLOY_ROLE_ARN (apply job on main)."
  value       = aws_iam_role.deploy.arn
}

output "plan_role_arn" {
  description = "Set as the GitHub variable AWS_PLAN_ROLE_ARN (plan job on pull requests)."
  value       = aws_iam_role.plan.arn
}

output "github_oidc_provider_arn" {
  description = "OIDC provider of token.actions.githubusercontent.com."
  value       = local.oidc_provider_arn
}
