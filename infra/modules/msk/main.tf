# Both flavours authenticate clients with IAM only (SASL/IAM on port 9098, TLS in transit).

resource "aws_msk_serverless_cluster" "this" {
  count = var.mode == "serverless" ? 1 : 0

  cluster_name = var.name

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  client_authentication {
    sasl {
      iam {
        enabled = true
      }
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Broker logs hold no secrets; the AWS-managed key is sufficient.
  #checkov:skip=CKV_AWS_338:Broker logs are kept for the provisioned log_retention_days only.
  count = var.mode == "provisioned" ? 1 : 0

  name              = "/aws/msk/${var.name}"
  retention_in_days = var.provisioned.log_retention_days
  tags              = var.tags
}

resource "aws_msk_configuration" "this" {
  count = var.mode == "provisioned" ? 1 : 0

  name           = var.name
  kafka_versions = [var.provisioned.kafka_version]
  # Topics are created by `dpp topics apply` only, never implicitly by a client.
  server_properties = <<-PROPERTIES
    auto.create.topics.enable=false
    default.replication.factor=2
    min.insync.replicas=1
    num.partitions=6
  PROPERTIES
}

resource "aws_msk_cluster" "this" {
  #checkov:skip=CKV_AWS_81:Data at rest uses the AWS-managed MSK key; a CMK is a per-environment upgrade.
  #checkov:skip=CKV2_AWS_64:No customer-managed KMS key in this module (see CKV_AWS_81).
  count = var.mode == "provisioned" ? 1 : 0

  cluster_name           = var.name
  kafka_version          = var.provisioned.kafka_version
  number_of_broker_nodes = length(var.subnet_ids) * var.provisioned.brokers_per_subnet
  enhanced_monitoring    = var.provisioned.enhanced_monitoring

  broker_node_group_info {
    instance_type   = var.provisioned.instance_type
    client_subnets  = var.subnet_ids
    security_groups = var.security_group_ids

    storage_info {
      ebs_storage_info {
        volume_size = var.provisioned.volume_size_gb
      }
    }
  }

  client_authentication {
    unauthenticated = false
    sasl {
      iam = true
    }
  }

  encryption_info {
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this[0].arn
    revision = aws_msk_configuration.this[0].latest_revision
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.this[0].name
      }
    }
  }

  tags = var.tags
}

locals {
  cluster_arn = var.mode == "serverless" ? aws_msk_serverless_cluster.this[0].arn : aws_msk_cluster.this[0].arn
  bootstrap   = var.mode == "serverless" ? aws_msk_serverless_cluster.this[0].bootstrap_brokers_sasl_iam : aws_msk_cluster.this[0].bootstrap_brokers_sasl_iam
  # arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid> -> topic/... and group/... resources of IAM policies.
  topic_arn_prefix = replace(local.cluster_arn, ":cluster/", ":topic/")
  group_arn_prefix = replace(local.cluster_arn, ":cluster/", ":group/")
}
