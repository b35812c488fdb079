variable "function_name" {
  description = "Name of the producer Lambda, e.g. dev-dev01-dpp-producer."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9-_]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "package_path" {
  description = "Path of the zip built by `dpp producer package` (dist/producer-lambda.zip)."
  type        = string

  validation {
    condition     = endswith(var.package_path, ".zip")
    error_message = "package_path must point to a .zip file."
  }
}

variable "handler" {
  description = "Python handler of the producer API."
  type        = string
  default     = "dpp_producer.lambda_handler.handler"
}

variable "runtime" {
  description = "Python runtime of the producer (the workspace requires Python 3.11)."
  type        = string
  default     = "python3.11"

  validation {
    condition     = can(regex("^python3\\.1[1-3]$", var.runtime))
    error_message = "runtime must be python3.11 to python3.13."
  }
}

variable "architecture" {
  description = "Instruction set the zip was built for (native wheels such as confluent-kafka must match)."
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
}

variable "timeout" {
  description = "Timeout in seconds (below API Gateway's 30 s)."
  type        = number
  default     = 15

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 29
    error_message = "timeout must be 1-29 seconds behind an HTTP API."
  }
}

variable "kafka" {
  description = "Cluster the producer writes to: bootstrap servers, cluster ARN, the topic ARN prefix and its topics."
  type = object({
    bootstrap_servers = string
    cluster_arn       = string
    topic_arn_prefix  = string
    topics            = list(string)
  })

  validation {
    condition     = length(var.kafka.topics) > 0 && alltrue([for t in var.kafka.topics : can(regex("^dpp\\.[a-z0-9.-]+$", t))])
    error_message = "kafka.topics must be non-empty dpp.* topic names."
  }
}

variable "cors_origin" {
  description = "Website origin allowed to call the producer API (CORS_ORIGIN)."
  type        = string

  validation {
    condition     = can(regex("^https?://[^/]+$", var.cors_origin))
    error_message = "cors_origin must be an origin such as https://dev01.hibiji.com (no path)."
  }
}

variable "extra_environment" {
  description = "Additional environment variables of the producer."
  type        = map(string)
  default     = {}
}

variable "api" {
  description = "HTTP API the producer is mounted on: its ID, execution ARN and the route keys it serves."
  type = object({
    id            = string
    execution_arn = string
    route_keys    = optional(list(string), ["ANY /events", "ANY /events/{proxy+}"])
  })
}

variable "vpc_config" {
  description = "Private subnets and security groups to reach the MSK brokers."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
}

variable "log_retention_in_days" {
  description = "Retention of the producer's log group."
  type        = number
  default     = 30
}

variable "provisioned_concurrency" {
  description = "Provisioned concurrent executions on the live alias (warm producers in prod); 0 disables and API Gateway calls $LATEST."
  type        = number
  default     = 0

  validation {
    condition     = var.provisioned_concurrency >= 0 && var.provisioned_concurrency <= 100
    error_message = "provisioned_concurrency must be between 0 and 100."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
