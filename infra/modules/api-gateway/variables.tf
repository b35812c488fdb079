variable "name" {
  description = "Name of the HTTP API, e.g. dev-dev01-dpp-http-api."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{3,64}$", var.name))
    error_message = "name must be 3-64 lowercase letters, digits or hyphens."
  }
}

variable "cors" {
  description = "CORS configuration of the API (allowed origins are the website origins)."
  type = object({
    allow_origins     = list(string)
    allow_methods     = optional(list(string), ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    allow_headers     = optional(list(string), ["authorization", "content-type", "x-correlation-id"])
    allow_credentials = optional(bool, true)
    max_age           = optional(number, 3600)
  })

  validation {
    condition     = length(var.cors.allow_origins) > 0 && !contains(var.cors.allow_origins, "*")
    error_message = "cors.allow_origins must list explicit origins (credentials forbid '*')."
  }
}

variable "integrations" {
  description = "Lambda integrations by stable key: route keys (e.g. \"ANY /{proxy+}\"), the invoke ARN, the function name and optional alias."
  type = map(object({
    route_keys    = list(string)
    invoke_arn    = string
    function_name = string
    qualifier     = optional(string)
    timeout_ms    = optional(number, 29000)
  }))
  default = {}
}

variable "throttling" {
  description = "Default stage throttling (steady requests per second and burst)."
  type = object({
    rate_limit  = optional(number, 100)
    burst_limit = optional(number, 200)
  })
  default = {}

  validation {
    condition     = var.throttling.rate_limit > 0 && var.throttling.burst_limit >= var.throttling.rate_limit
    error_message = "throttling.rate_limit must be positive and burst_limit at least rate_limit."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the access-log group."
  type        = number
  default     = 30
}

variable "custom_domain" {
  description = "Optional custom domain (e.g. api-dev01.hibiji.com) with a regional ACM certificate."
  type = object({
    domain_name     = string
    certificate_arn = string
  })
  default = null

  validation {
    condition     = var.custom_domain == null || can(regex("^arn:aws:acm:", var.custom_domain.certificate_arn))
    error_message = "custom_domain.certificate_arn must be an ACM certificate ARN."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
