variable "function_name" {
  description = "Name of the Lambda function, e.g. dev-dev01-dpp-api or dev-dev01-dpp-producer."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9-_]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "description" {
  description = "What the function does, shown in the console."
  type        = string
  default     = ""
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

  validation {
    condition     = var.package.filename == null || endswith(coalesce(var.package.filename, ".zip"), ".zip")
    error_message = "package.filename must point to a .zip file."
  }
}

variable "handler" {
  description = "Function entry point, e.g. dpp_producer.lambda_handler.handler (from infra/contract/components.json)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+\\.[A-Za-z0-9_]+$", var.handler))
    error_message = "handler must look like module.function."
  }
}

variable "runtime" {
  description = "Lambda runtime identifier."
  type        = string

  validation {
    condition     = can(regex("^(nodejs(20|22)\\.x|python3\\.(11|12|13))$", var.runtime))
    error_message = "runtime must be nodejs20.x, nodejs22.x or python3.11-python3.13."
  }
}

variable "architecture" {
  description = "Instruction set the package was built for (native wheels such as confluent-kafka must match)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Timeout in seconds (below 30 behind an HTTP API, which stops waiting at 30)."
  type        = number
  default     = 15

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "environment" {
  description = "Environment variables of the function; AWS_REGION is reserved by Lambda and refused."
  type        = map(string)
  default     = {}

  validation {
    condition     = !contains(keys(var.environment), "AWS_REGION")
    error_message = "AWS_REGION is a reserved Lambda variable (the runtime sets it); do not pass it."
  }
}

variable "secret_arns" {
  description = "Secrets Manager secrets the function may read (GetSecretValue, DescribeSecret); nothing else is granted."
  type        = list(string)
  default     = []
}

variable "policy_statements" {
  description = "Further least-privilege IAM statements by stable sid, e.g. the kafka-cluster actions of the contract."
  type = map(object({
    actions   = list(string)
    resources = list(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for sid, s in var.policy_statements : can(regex("^[A-Za-z0-9]+$", sid)) && length(s.actions) > 0 && length(s.resources) > 0])
    error_message = "policy_statements need alphanumeric sids and non-empty actions and resources."
  }
}

variable "vpc_config" {
  description = "Private subnets and security groups (database, brokers, VPC endpoints); null runs outside the VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "alias_name" {
  description = "Alias every caller invokes (API Gateway, other functions); a version is published on each change."
  type        = string
  default     = "live"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,127}$", var.alias_name))
    error_message = "alias_name must be a valid Lambda alias name."
  }
}

variable "provisioned_concurrency" {
  description = "Provisioned concurrent executions on the alias against cold starts; 0 disables."
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

variable "log_retention_in_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a retention CloudWatch accepts."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
