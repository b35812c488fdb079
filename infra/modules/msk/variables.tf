variable "name" {
  description = "Cluster name, e.g. dev-dev01-dpp-msk."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9-]{1,64}$", var.name))
    error_message = "name must be 1-64 letters, digits or hyphens."
  }
}

variable "mode" {
  description = "serverless (MSK Serverless, pay per cluster-hour and partition) or provisioned (small fixed brokers)."
  type        = string
  default     = "provisioned"

  validation {
    condition     = contains(["serverless", "provisioned"], var.mode)
    error_message = "mode must be serverless or provisioned."
  }
}

variable "subnet_ids" {
  description = "Private subnets of the cluster, one per availability zone."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "MSK needs subnets in at least two availability zones."
  }
}

variable "security_group_ids" {
  description = "Security groups of the brokers (ingress 9098 from the producer and the workers)."
  type        = list(string)
}

variable "provisioned" {
  description = "Settings used when mode = provisioned."
  type = object({
    kafka_version       = optional(string, "3.6.0")
    instance_type       = optional(string, "kafka.t3.small")
    brokers_per_subnet  = optional(number, 1)
    volume_size_gb      = optional(number, 10)
    log_retention_days  = optional(number, 14)
    enhanced_monitoring = optional(string, "DEFAULT")
  })
  default = {}

  validation {
    condition     = can(regex("^kafka\\.", var.provisioned.instance_type)) && var.provisioned.volume_size_gb >= 1
    error_message = "provisioned.instance_type must be a kafka.* broker type and volume_size_gb positive."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
