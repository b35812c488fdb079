variable "name" {
  description = "Prefix of the dashboard, alarms and budget, e.g. dev-dev01-dpp."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{3,40}$", var.name))
    error_message = "name must be 3-40 lowercase letters, digits or hyphens."
  }
}

variable "lambda_functions" {
  description = "Lambda functions to watch, by stable key (e.g. api, producer) => function name."
  type        = map(string)
}

variable "api" {
  description = "HTTP API to watch."
  type = object({
    id    = string
    stage = optional(string, "$default")
  })
}

variable "consumer" {
  description = "Consumer group and topics whose lag is watched (EMF metrics of the worker)."
  type = object({
    namespace      = optional(string, "DPP/Events")
    consumer_group = optional(string, "dpp-ml-workers")
    topics         = list(string)
    ecs_cluster    = optional(string)
    ecs_service    = optional(string)
  })
}

variable "thresholds" {
  description = "Alarm thresholds."
  type = object({
    lambda_errors          = optional(number, 5)
    lambda_duration_p95_ms = optional(number, 10000)
    api_5xx                = optional(number, 5)
    api_latency_p95_ms     = optional(number, 3000)
    lag_messages           = optional(number, 1000)
    lag_seconds            = optional(number, 300)
    dead_letters           = optional(number, 0)
    # Edge and storage alarms (alarms_edge.tf).
    cloudfront_cache_hit_rate_min_pct = optional(number, 70)
    cloudfront_origin_latency_p95_ms  = optional(number, 1000)
    lambda_concurrent_executions      = optional(number, 50)
    api_requests_per_5min             = optional(number, 30000)
    s3_5xx_errors                     = optional(number, 5)
    s3_bucket_size_gb                 = optional(number, 50)
  })
  default = {}
}

variable "budget" {
  description = "Monthly AWS Budgets cost alarm: limit in USD and who is notified at 80% forecast and 100% actual."
  type = object({
    monthly_limit_usd = number
    emails            = list(string)
  })

  validation {
    condition     = var.budget.monthly_limit_usd > 0 && length(var.budget.emails) > 0
    error_message = "budget needs a positive monthly_limit_usd and at least one e-mail."
  }
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (one subscription each; each address confirms by e-mail)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@ ]+@[^@ ]+\\.[^@ ]+$", e))])
    error_message = "alarm_emails must be e-mail addresses."
  }
}

variable "cloudfront" {
  description = "CloudFront distribution to watch (cache hit rate, origin latency); additional_metrics turns on the paid additional-metrics subscription those two metrics need. null watches none."
  type = object({
    distribution_id    = string
    additional_metrics = optional(bool, true)
  })
  default = null
}

variable "s3_buckets" {
  description = "Buckets to watch by stable key: daily storage metrics always (free); request_metrics = true adds an EntireBucket request-metrics filter (billed as CloudWatch metrics) and a 5xx alarm."
  type = map(object({
    name            = string
    request_metrics = optional(bool, false)
  }))
  default = {}
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
