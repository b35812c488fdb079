variable "bucket_name" {
  description = "Name of the private uploads bucket, e.g. dev-dev01-dpp-uploads."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (lowercase, digits, hyphens)."
  }
}

variable "access" {
  description = "Who gets object access: IAM role names by stable key (e.g. backend => the backend Lambda's role), the key prefix they may use and the object actions they need."
  type = object({
    roles          = optional(map(string), {})
    prefix         = optional(string, "uploads/")
    object_actions = optional(list(string), ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"])
  })
  default = {}

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9/_-]*/$", var.access.prefix))
    error_message = "access.prefix must be a non-empty key prefix ending in /, e.g. uploads/."
  }

  validation {
    condition     = length(var.access.object_actions) > 0 && alltrue([for a in var.access.object_actions : contains(["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:GetObjectAttributes"], a)])
    error_message = "access.object_actions may only hold object-level read/write actions (no bucket administration)."
  }
}

variable "lifecycle_days" {
  description = "Days before overwritten/deleted versions expire, and optionally before current uploads expire (null keeps them)."
  type = object({
    noncurrent_versions = optional(number, 30)
    current_objects     = optional(number)
  })
  default = {}

  validation {
    condition     = var.lifecycle_days.noncurrent_versions >= 1
    error_message = "lifecycle_days.noncurrent_versions must be at least 1."
  }
}

variable "cors_origins" {
  description = "Website origins allowed to PUT with presigned URLs from the browser; empty disables CORS."
  type        = list(string)
  default     = []
}

variable "force_destroy" {
  description = "Allow terraform destroy to empty the bucket (true in throw-away dev, false in prod)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
