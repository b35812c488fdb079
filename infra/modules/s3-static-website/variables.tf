variable "bucket_name" {
  description = "Name of the private bucket holding the static export, e.g. dev-dev01-dpp-website."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (lowercase, digits, hyphens)."
  }
}

variable "custom_domain" {
  description = "Optional custom domain (alias) and ACM certificate in us-east-1 for the distribution."
  type = object({
    domain_name     = string
    certificate_arn = string
  })
  default = null

  validation {
    condition     = var.custom_domain == null || can(regex("^arn:aws:acm:us-east-1:", var.custom_domain.certificate_arn))
    error_message = "CloudFront certificates must be ACM certificates in us-east-1."
  }
}

variable "cache_ttl" {
  description = "Cache lifetimes in seconds: long for hashed assets, short for HTML/JSON (guide: 1 year and 1 hour)."
  type = object({
    assets   = optional(number, 31536000)
    html     = optional(number, 3600)
    no_cache = optional(number, 0)
  })
  default = {}

  validation {
    condition     = var.cache_ttl.assets >= var.cache_ttl.html
    error_message = "Assets must not be cached shorter than HTML."
  }
}

variable "price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "force_destroy" {
  description = "Allow terraform destroy to empty the bucket (true in dev, false in prod)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
