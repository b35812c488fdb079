variable "name" {
  description = "Cluster identifier, e.g. dev-dev01-dpp-db."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,62}$", var.name))
    error_message = "name must start with a letter and use lowercase letters, digits or hyphens."
  }
}

variable "database_name" {
  description = "Name of the initial database."
  type        = string
  default     = "dpp"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.database_name))
    error_message = "database_name must be a valid PostgreSQL identifier."
  }
}

variable "master_username" {
  description = "Master user name; its password is generated and kept in Secrets Manager by RDS."
  type        = string
  default     = "dpp_admin"
}

variable "engine_version" {
  description = "Aurora PostgreSQL engine version."
  type        = string
  default     = "16.4"
}

variable "capacity" {
  description = "Serverless v2 capacity range in ACUs; min_acu = 0 pauses the idle cluster after seconds_until_auto_pause (Aurora PostgreSQL 16.3+)."
  type = object({
    min_acu                  = optional(number, 0.5)
    max_acu                  = optional(number, 2)
    seconds_until_auto_pause = optional(number, 300)
  })
  default = {}

  validation {
    condition     = var.capacity.min_acu >= 0 && var.capacity.max_acu <= 256 && var.capacity.min_acu <= var.capacity.max_acu
    error_message = "capacity must satisfy 0 <= min_acu <= max_acu <= 256."
  }

  validation {
    condition     = var.capacity.seconds_until_auto_pause >= 300 && var.capacity.seconds_until_auto_pause <= 86400
    error_message = "capacity.seconds_until_auto_pause must be 300-86400 seconds."
  }
}

variable "instance_count" {
  description = "Number of db.serverless instances (1 in dev, 2 for a reader in prod)."
  type        = number
  default     = 1

  validation {
    condition     = var.instance_count >= 1 && var.instance_count <= 3
    error_message = "instance_count must be between 1 and 3."
  }
}

variable "subnet_ids" {
  description = "Private subnets (two AZs at least) of the database."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Aurora needs subnets in at least two availability zones."
  }
}

variable "security_group_ids" {
  description = "Security groups of the cluster (ingress from the workloads only)."
  type        = list(string)
}

variable "backup_retention_period" {
  description = "Days of automated backups."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_period >= 1 && var.backup_retention_period <= 35
    error_message = "backup_retention_period must be between 1 and 35."
  }
}

variable "deletion_protection" {
  description = "Protect the cluster against deletion (false only in throw-away dev sub-environments)."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Skip the final snapshot on destroy."
  type        = bool
  default     = false
}

variable "rds_proxy" {
  description = "Optional RDS Proxy for connection pooling from Lambda (guide: RDS Proxy for connection management)."
  type = object({
    enabled             = optional(bool, false)
    idle_client_timeout = optional(number, 1800)
    require_tls         = optional(bool, true)
  })
  default = {}
}

variable "slow_query_ms" {
  description = "Queries slower than this many milliseconds are logged."
  type        = number
  default     = 1000

  validation {
    condition     = var.slow_query_ms >= 100
    error_message = "slow_query_ms must be at least 100 ms."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
