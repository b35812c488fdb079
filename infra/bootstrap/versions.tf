terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }

  # The bootstrap creates the state bucket, so its own state cannot live there yet: it is a
  # local file per environment (deploy-serverless.sh --bootstrap passes
  # -backend-config=path=terraform.<environment>.tfstate). Keep it, or move it into the bucket
  # afterwards with `terraform init -migrate-state` (docs/infra.md).
  backend "local" {}
}
