variable "name" {
  description = "Name of the JWT signing secret, e.g. dev-dev01-dpp-jwt-secret."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{3,64}$", var.name))
    error_message = "name must be 3-64 lowercase letters, digits or hyphens."
  }
}

variable "recovery_window_in_days" {
  description = "Days Secrets Manager keeps a deleted secret (0 deletes at once, 7-30 otherwise)."
  type        = number
  default     = 7

  validation {
    condition     = var.recovery_window_in_days == 0 || (var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30)
    error_message = "recovery_window_in_days must be 0 or between 7 and 30."
  }
}

variable "secret_length" {
  description = "Length of the generated JWT signing key."
  type        = number
  default     = 64

  validation {
    condition     = var.secret_length >= 32
    error_message = "secret_length must be at least 32 characters."
  }
}

variable "kms_key_id" {
  description = "KMS key for the secret; null uses the AWS-managed aws/secretsmanager key."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
