variable "environment" {
  description = "Environment whose state bucket and deploy roles are created (a folder of infra/environments)."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "aws_region" {
  description = "Region of the state bucket; must equal the region in infra/environments/<environment>/backend.tf."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region name."
  }
}

variable "state_bucket" {
  description = "Name of the state bucket; null means dpp-terraform-state-<environment>, the bucket backend.tf names."
  type        = string
  default     = null

  validation {
    condition     = var.state_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{2,62}$", coalesce(var.state_bucket, "x-x-x")))
    error_message = "state_bucket must be a valid S3 bucket name."
  }
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the deploy and plan roles."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "create_github_oidc_provider" {
  description = "Create the account's token.actions.githubusercontent.com OIDC provider; false reuses an existing one (an account holds one per URL)."
  type        = bool
  default     = true
}

variable "noncurrent_version_days" {
  description = "Days old state versions are kept before expiry (recovery window for a bad apply)."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_days >= 7
    error_message = "noncurrent_version_days must be at least 7."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
