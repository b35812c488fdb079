variable "name" {
  description = "Name of the worker service, cluster and roles, e.g. dev-dev01-dpp-consumer."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{3,48}$", var.name))
    error_message = "name must be 3-48 lowercase letters, digits or hyphens."
  }
}

variable "image" {
  description = "Consumer image (built from consumer/Dockerfile) as repository:tag; null uses this module's ECR repository with image_tag."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Tag of the image in this module's ECR repository when image is null (the deploy script pushes the git SHA)."
  type        = string
  default     = "latest"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,128}$", var.image_tag))
    error_message = "image_tag must be a valid image tag."
  }
}

variable "components" {
  description = "The worker, topic task and lag-publisher from infra/contract/components.json: command, environment (name => value, built by the environment from the contract's names), kafka-cluster actions by resource kind, and the lag-publisher's metrics."
  type = object({
    worker = object({
      command       = list(string)
      environment   = map(string)
      kafka_actions = map(list(string))
    })
    topics = object({
      command       = list(string)
      environment   = map(string)
      kafka_actions = map(list(string))
    })
    lag_publisher = object({
      command       = list(string)
      environment   = map(string)
      kafka_actions = map(list(string))
      metrics = object({
        namespace = string
        metrics = map(object({
          unit       = string
          dimensions = list(string)
        }))
      })
    })
  })

  validation {
    condition = alltrue([
      for c in values(var.components) : length(c.command) > 0 && c.environment["KAFKA_SECURITY_MODE"] == "msk-iam" && length(lookup(c.kafka_actions, "cluster", [])) > 0
    ])
    error_message = "every component needs a command, KAFKA_SECURITY_MODE=msk-iam and kafka-cluster cluster actions."
  }

  validation {
    condition     = alltrue([for m in ["ConsumerLagMessages", "WorkerCount"] : contains(keys(var.components.lag_publisher.metrics.metrics), m)])
    error_message = "the lag-publisher must publish ConsumerLagMessages and WorkerCount, which the scaling policy reads."
  }

  validation {
    condition     = alltrue([for k in ["cluster", "topic", "group", "transactional_id"] : length(lookup(var.components.worker.kafka_actions, k, [])) > 0])
    error_message = "the worker needs cluster, topic, group and transactional_id kafka-cluster actions."
  }
}

variable "task" {
  description = "Fargate task size and platform."
  type = object({
    cpu          = optional(number, 512)
    memory       = optional(number, 1024)
    architecture = optional(string, "X86_64")
  })
  default = {}

  validation {
    condition     = contains(["X86_64", "ARM64"], var.task.architecture) && var.task.cpu >= 256 && var.task.memory >= 512
    error_message = "task.architecture must be X86_64 or ARM64, cpu >= 256 and memory >= 512."
  }
}

variable "use_fargate_spot" {
  description = "Run workers on Fargate Spot (about 70% cheaper; interruptions are safe because offsets are committed after processing)."
  type        = bool
  default     = false
}

variable "kafka" {
  description = "Cluster, consumer group and topics of the worker (read), the topics it writes (retries, dead letters, results) and the admin topic pattern of the topic task."
  type = object({
    bootstrap_servers = string
    cluster_arn       = string
    topic_arn_prefix  = string
    group_arn_prefix  = string
    # arn:aws:kafka:<region>:<account>:transactional-id/<cluster>/<uuid>; null derives it.
    transactional_id_arn_prefix = optional(string)
    consumer_group              = optional(string, "dpp-ml-workers")
    read_topics                 = list(string)
    write_topics                = list(string)
    admin_topic_glob            = optional(string, "dpp.*")
  })

  validation {
    condition     = length(var.kafka.read_topics) > 0 && can(regex("^[a-zA-Z0-9._-]+$", var.kafka.consumer_group))
    error_message = "kafka.read_topics must be non-empty and consumer_group a valid group id."
  }
}

variable "autoscaling" {
  description = "Lag-based scaling, matching the in-process autoscaler: lag per worker target, bounds and cooldowns; never more workers than partitions."
  type = object({
    min_workers        = optional(number, 1)
    max_workers        = optional(number, 8)
    partitions         = optional(number, 6)
    lag_per_worker     = optional(number, 100)
    scale_out_cooldown = optional(number, 60)
    scale_in_cooldown  = optional(number, 300)
    lag_topics         = optional(list(string))
  })
  default = {}

  validation {
    condition = (
      var.autoscaling.min_workers >= 1 &&
      var.autoscaling.min_workers <= var.autoscaling.max_workers &&
      var.autoscaling.lag_per_worker > 0 &&
      var.autoscaling.scale_out_cooldown >= 0 &&
      var.autoscaling.scale_in_cooldown >= var.autoscaling.scale_out_cooldown
    )
    error_message = "autoscaling needs 1 <= min_workers <= max_workers, lag_per_worker > 0 and scale_in_cooldown >= scale_out_cooldown."
  }
}

variable "secret_arns" {
  description = "Secrets the worker may read (e.g. the database credentials)."
  type        = list(string)
  default     = []
}

variable "network" {
  description = "Private subnets and security groups of the tasks."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
}

variable "log_retention_in_days" {
  description = "Retention of the worker log group (it also carries the EMF metrics)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
