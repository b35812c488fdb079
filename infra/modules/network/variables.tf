variable "name" {
  description = "Name prefix of the network resources, e.g. dev-dev01-dpp."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{3,40}$", var.name))
    error_message = "name must be 3-40 lowercase letters, digits or hyphens."
  }
}

variable "cidr_block" {
  description = "IPv4 CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "cidr_block must be a valid IPv4 CIDR."
  }
}

variable "availability_zone_count" {
  description = "How many availability zones get a private subnet (Aurora and MSK need at least 2)."
  type        = number
  default     = 2

  validation {
    condition     = var.availability_zone_count >= 2 && var.availability_zone_count <= 3
    error_message = "availability_zone_count must be 2 or 3."
  }
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints instead of a NAT gateway (e.g. secretsmanager, logs, ecr.api, ecr.dkr)."
  type        = set(string)
  default     = ["secretsmanager", "logs", "ecr.api", "ecr.dkr"]

  validation {
    condition     = alltrue([for s in var.interface_endpoints : can(regex("^[a-z0-9.-]+$", s))])
    error_message = "interface_endpoints must be AWS service short names such as secretsmanager or ecr.api."
  }
}

variable "endpoint_subnet_count" {
  description = "Number of subnets (AZs) that host interface endpoints; 1 halves the endpoint bill in dev, 2+ for availability."
  type        = number
  default     = 1

  validation {
    condition     = var.endpoint_subnet_count >= 1 && var.endpoint_subnet_count <= 3
    error_message = "endpoint_subnet_count must be between 1 and 3."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
