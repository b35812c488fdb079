variable "environment" {
  description = "Environment (dev, staging, prod): first part of every resource name."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "sub_environment" {
  description = "Sub-environment such as dev01: second part of every name and the terraform workspace."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+[0-9]{2}$", var.sub_environment))
    error_message = "sub_environment must look like dev01, qa02 or prod01."
  }
}

variable "domain_name" {
  description = "Apex domain; the site is <sub_environment>.<domain> and the API api-<sub_environment>.<domain>."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]+(\\.[a-z0-9-]+)+$", var.domain_name))
    error_message = "domain_name must be a DNS name such as hibiji.com."
  }
}

variable "aws_region" {
  description = "Region of the stack (CloudFront certificates always live in us-east-1)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region name."
  }
}

variable "certificates" {
  description = "ACM certificates for the custom domains; null serves on the CloudFront and execute-api names (Route 53 records stay manual)."
  type = object({
    website_us_east_1 = optional(string)
    api_regional      = optional(string)
  })
  default = {}
}

variable "artifacts" {
  description = "Paths of the artifacts deploy-serverless.sh builds once: backend zip, producer zip (dpp producer package) and the consumer image tag."
  type = object({
    backend_zip        = optional(string, "../../../dist/backend-lambda.zip")
    producer_zip       = optional(string, "../../../dist/producer-lambda.zip")
    consumer_image_tag = optional(string, "latest")
  })
  default = {}
}

variable "database" {
  description = "Aurora Serverless v2 capacity (min 0 ACU: pauses after pause_after_seconds idle) and RDS Proxy switch (off: a proxy would keep the cluster awake)."
  type = object({
    min_acu             = optional(number, 0)
    max_acu             = optional(number, 2)
    pause_after_seconds = optional(number, 300)
    rds_proxy           = optional(bool, false)
  })
  default = {}

  validation {
    condition     = var.database.min_acu <= var.database.max_acu && var.database.max_acu <= 16
    error_message = "database needs min_acu <= max_acu <= 16 in this environment."
  }
}

variable "backend_provisioned_concurrency" {
  description = "Provisioned concurrency of the backend API Lambda (0 in dev)."
  type        = number
  default     = 0

  validation {
    condition     = var.backend_provisioned_concurrency >= 0 && var.backend_provisioned_concurrency <= 10
    error_message = "backend_provisioned_concurrency must be 0-10."
  }
}

variable "msk_mode" {
  description = "MSK flavour: provisioned (2 x kafka.t3.small, ~$70/month) or serverless (~$550/month minimum)."
  type        = string
  default     = "provisioned"

  validation {
    condition     = contains(["serverless", "provisioned"], var.msk_mode)
    error_message = "msk_mode must be serverless or provisioned."
  }
}

variable "consumer_fargate_spot" {
  description = "Run the consumer workers on Fargate Spot."
  type        = bool
  default     = true
}

variable "monthly_budget_usd" {
  description = "AWS Budgets limit for the environment in USD."
  type        = number
  default     = 150

  validation {
    condition     = var.monthly_budget_usd > 0
    error_message = "monthly_budget_usd must be positive."
  }
}

variable "alert_emails" {
  description = "Who receives alarms and budget notifications."
  type        = list(string)
  default     = ["devops@hibiji.com"]

  validation {
    condition     = length(var.alert_emails) > 0 && alltrue([for e in var.alert_emails : can(regex("^[^@ ]+@[^@ ]+$", e))])
    error_message = "alert_emails must hold at least one e-mail address."
  }
}

variable "extra_tags" {
  description = "Tags added to the common tags."
  type        = map(string)
  default     = {}
}

variable "tracing" {
  description = "OpenTelemetry tracing of the producer Lambda and the workers (DPP_TRACING): off, or otlp to export spans over OTLP/HTTP to otlp_endpoint (OTEL_EXPORTER_OTLP_ENDPOINT). The default endpoint is where an AWS Distro for OpenTelemetry collector listens beside the code: the ADOT Lambda layer's extension, or a collector sidecar in the worker task (neither is deployed by this configuration; see docs/operators.md#tracing)."
  type = object({
    mode          = optional(string, "off")
    otlp_endpoint = optional(string, "http://localhost:4318")
  })
  default = {}

  validation {
    condition     = contains(["off", "otlp"], var.tracing.mode) && can(regex("^https?://", var.tracing.otlp_endpoint))
    error_message = "tracing.mode is off or otlp; tracing.otlp_endpoint is an http(s) URL."
  }
}
