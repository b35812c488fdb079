# Remote state per environment: one bucket per environment, one key per sub-environment
# (terraform workspace = sub_environment, selected by deploy-serverless.sh -s).
# Locking uses S3 conditional writes (use_lockfile, Terraform >= 1.10): no DynamoDB table.
terraform {
  backend "s3" {
    bucket               = "dpp-terraform-state-prod"
    key                  = "serverless/terraform.tfstate"
    workspace_key_prefix = "prod"
    region               = "us-east-1"
    encrypt              = true
    use_lockfile         = true
  }
}
