resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

# Slow queries (guide: "monitor slow queries") are logged; full statement logging would write personal data to logs.
resource "aws_rds_cluster_parameter_group" "this" {
  name        = var.name
  family      = "aurora-postgresql${split(".", var.engine_version)[0]}"
  description = "DPP Aurora PostgreSQL parameters"

  parameter {
    name  = "log_min_duration_statement"
    value = tostring(var.slow_query_ms)
  }

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  tags = var.tags
}

resource "aws_rds_cluster" "this" {
  #checkov:skip=CKV2_AWS_27:Statement logging is limited to slow queries (log_min_duration_statement) to keep personal data out of logs.
  #checkov:skip=CKV_AWS_327:Storage is encrypted with the AWS-managed RDS key; a CMK is a per-environment upgrade.
  #checkov:skip=CKV2_AWS_8:Aurora's automated backups (backup_retention_period) are the backup plan; AWS Backup adds cost only.
  #checkov:skip=CKV_AWS_162:Applications authenticate with the Secrets Manager credentials, optionally through RDS Proxy.
  #checkov:skip=CKV_AWS_139:deletion_protection is a typed input; throw-away dev sub-environments turn it off.
  cluster_identifier              = var.name
  engine                          = "aurora-postgresql"
  engine_mode                     = "provisioned"
  engine_version                  = var.engine_version
  database_name                   = var.database_name
  master_username                 = var.master_username
  manage_master_user_password     = true
  db_subnet_group_name            = aws_db_subnet_group.this.name
  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.this.name
  vpc_security_group_ids          = var.security_group_ids
  storage_encrypted               = true
  backup_retention_period         = var.backup_retention_period
  preferred_backup_window         = "03:00-04:00"
  copy_tags_to_snapshot           = true
  deletion_protection             = var.deletion_protection
  skip_final_snapshot             = var.skip_final_snapshot
  final_snapshot_identifier       = var.skip_final_snapshot ? null : "${var.name}-final"
  enabled_cloudwatch_logs_exports = ["postgresql"]

  # min 0 ACU lets an idle cluster pause (no ACU-hours billed); the first connection resumes it.
  serverlessv2_scaling_configuration {
    min_capacity             = var.capacity.min_acu
    max_capacity             = var.capacity.max_acu
    seconds_until_auto_pause = var.capacity.min_acu == 0 ? var.capacity.seconds_until_auto_pause : null
  }

  tags = var.tags
}

resource "aws_rds_cluster_instance" "this" {
  #checkov:skip=CKV_AWS_118:Enhanced monitoring needs an extra role and costs; Performance Insights covers dev.
  #checkov:skip=CKV_AWS_353:Performance Insights is enabled below; checkov does not see it on serverless instances.
  #checkov:skip=CKV_AWS_354:Performance Insights uses the AWS-managed key.
  count = var.instance_count

  identifier                   = "${var.name}-${count.index + 1}"
  cluster_identifier           = aws_rds_cluster.this.id
  instance_class               = "db.serverless"
  engine                       = aws_rds_cluster.this.engine
  engine_version               = aws_rds_cluster.this.engine_version
  db_subnet_group_name         = aws_db_subnet_group.this.name
  auto_minor_version_upgrade   = true
  performance_insights_enabled = true
  publicly_accessible          = false
  tags                         = var.tags
}

data "aws_iam_policy_document" "proxy_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  count = var.rds_proxy.enabled ? 1 : 0

  name               = "${var.name}-proxy"
  assume_role_policy = data.aws_iam_policy_document.proxy_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "proxy" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_rds_cluster.this.master_user_secret[0].secret_arn]
  }
}

resource "aws_iam_role_policy" "this" {
  count = var.rds_proxy.enabled ? 1 : 0

  name   = "read-db-secret"
  role   = aws_iam_role.this[0].id
  policy = data.aws_iam_policy_document.proxy.json
}

resource "aws_db_proxy" "this" {
  count = var.rds_proxy.enabled ? 1 : 0

  name                   = var.name
  engine_family          = "POSTGRESQL"
  role_arn               = aws_iam_role.this[0].arn
  vpc_subnet_ids         = var.subnet_ids
  vpc_security_group_ids = var.security_group_ids
  require_tls            = var.rds_proxy.require_tls
  idle_client_timeout    = var.rds_proxy.idle_client_timeout

  auth {
    auth_scheme = "SECRETS"
    iam_auth    = "DISABLED"
    secret_arn  = aws_rds_cluster.this.master_user_secret[0].secret_arn
  }

  tags = var.tags
}

resource "aws_db_proxy_default_target_group" "this" {
  count = var.rds_proxy.enabled ? 1 : 0

  db_proxy_name = aws_db_proxy.this[0].name
}

resource "aws_db_proxy_target" "this" {
  count = var.rds_proxy.enabled ? 1 : 0

  db_proxy_name         = aws_db_proxy.this[0].name
  target_group_name     = aws_db_proxy_default_target_group.this[0].name
  db_cluster_identifier = aws_rds_cluster.this.cluster_identifier
}

locals {
  host = var.rds_proxy.enabled ? aws_db_proxy.this[0].endpoint : aws_rds_cluster.this.endpoint
}
