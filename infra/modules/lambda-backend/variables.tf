variable "function_name" {
  description = "Name of the Lambda function, e.g. dev-dev01-dpp-api."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9-_]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "package" {
  description = "Deployment package: a local zip path (filename) or an S3 object (s3_bucket + s3_key)."
  type = object({
    filename  = optional(string)
    s3_bucket = optional(string)
    s3_key    = optional(string)
  })

  validation {
    condition     = (var.package.filename != null) != (var.package.s3_bucket != null && var.package.s3_key != null)
    error_message = "Set either package.filename or both package.s3_bucket and package.s3_key."
  }
}

variable "runtime" {
  description = "Lambda runtime identifier."
  type        = string
  default     = "nodejs20.x"

  validation {
    condition     = can(regex("^(nodejs(20|22)\\.x|python3\\.(11|12|13))$", var.runtime))
    error_message = "runtime must be a supported nodejs or python runtime."
  }
}

variable "handler" {
  description = "Function entry point (the guide's apps/server/src/index-lambda.ts builds to index-lambda.handler)."
  type        = string
  default     = "index-lambda.handler"
}

variable "memory_size" {
  description = "Memory in MB (guide: start with 512 and adjust)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Timeout in seconds (guide: 30 for API functions, API Gateway stops waiting at 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "architecture" {
  description = "Instruction set architecture."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "environment" {
  description = "Application settings: the guide's NODE_ENV, DATABASE_URL, JWT_SECRET_ARN and CORS_ORIGIN, plus extra variables."
  type = object({
    node_env       = optional(string, "production")
    database_url   = string
    jwt_secret_arn = string
    cors_origin    = string
    extra          = optional(map(string), {})
  })

  validation {
    condition     = can(regex("^postgres(ql)?://", var.environment.database_url)) && !can(regex("://[^/@]+:[^/@]+@", var.environment.database_url))
    error_message = "environment.database_url must be a postgresql:// URL without an inline password (the password stays in Secrets Manager)."
  }

  validation {
    condition     = can(regex("^https?://", var.environment.cors_origin))
    error_message = "environment.cors_origin must be an http(s) origin."
  }
}

variable "secret_arns" {
  description = "Secrets the function may read (JWT secret, database credentials); nothing else is granted."
  type        = list(string)
  default     = []
}

variable "vpc_config" {
  description = "Private subnets and security groups for database access; null runs outside the VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "log_retention_in_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a retention CloudWatch accepts."
  }
}

variable "provisioned_concurrency" {
  description = "Provisioned concurrent executions on the live alias against cold starts; 0 disables."
  type        = number
  default     = 0

  validation {
    condition     = var.provisioned_concurrency >= 0 && var.provisioned_concurrency <= 100
    error_message = "provisioned_concurrency must be between 0 and 100."
  }
}

variable "reserved_concurrent_executions" {
  description = "Upper bound on concurrent executions; -1 leaves it unreserved."
  type        = number
  default     = -1
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
