data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Subnets are keyed by AZ name, so a new AZ never moves existing subnets; only the first N are used.
  state = "available"
}

data "aws_region" "current" {}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, var.availability_zone_count)
  # Stable keys so adding an AZ never renumbers existing subnets.
  private_subnets = { for i, az in local.azs : az => cidrsubnet(var.cidr_block, 4, i) }
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = "${var.name}-vpc" })
}

# Lock down the default security group (CIS 5.4): nothing uses it.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_subnet" "this" {
  for_each = local.private_subnets

  vpc_id            = aws_vpc.this.id
  availability_zone = each.key
  cidr_block        = each.value

  tags = merge(var.tags, { Name = "${var.name}-private-${each.key}", Tier = "private" })
}

# No internet gateway and no NAT gateway: private subnets only reach AWS services through
# the endpoints below (S3 gateway endpoint is free; interface endpoints are billed per AZ-hour).
resource "aws_route_table" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-private" })
}

resource "aws_route_table_association" "this" {
  for_each = aws_subnet.this

  subnet_id      = each.value.id
  route_table_id = aws_route_table.this.id
}

resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = "REJECT"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.this.arn
  iam_role_arn         = aws_iam_role.this.arn
  tags                 = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Flow logs hold no secrets; the AWS-managed key is sufficient.
  #checkov:skip=CKV_AWS_338:Rejected-traffic logs are only needed for 30 days of troubleshooting.
  name              = "/vpc/${var.name}/flow-logs"
  retention_in_days = 30
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-vpc-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "write-flow-logs"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.this.id]
  tags              = merge(var.tags, { Name = "${var.name}-s3" })
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-endpoints"
  description = "HTTPS from inside the VPC to the interface endpoints"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-endpoints" })
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from the VPC"
  cidr_ipv4         = var.cidr_block
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_endpoint" "interface" {
  for_each = var.interface_endpoints

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = slice([for az in local.azs : aws_subnet.this[az].id], 0, min(var.endpoint_subnet_count, length(local.azs)))
  security_group_ids  = [aws_security_group.endpoints.id]
  tags                = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# Workload security groups: one per tier, rules added by the tier that needs the access.
resource "aws_security_group" "lambda" {
  #checkov:skip=CKV2_AWS_5:Attached in other modules (Lambda, Aurora, ECS, MSK) that receive its ID from the outputs.
  name        = "${var.name}-lambda"
  description = "Backend and producer Lambdas"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-lambda" })
}

resource "aws_vpc_security_group_egress_rule" "lambda_vpc" {
  security_group_id = aws_security_group.lambda.id
  description       = "Database, Kafka and endpoints inside the VPC"
  cidr_ipv4         = var.cidr_block
  ip_protocol       = "-1"
}

resource "aws_vpc_security_group_egress_rule" "lambda_s3" {
  security_group_id = aws_security_group.lambda.id
  description       = "S3 through the gateway endpoint"
  prefix_list_id    = aws_vpc_endpoint.s3.prefix_list_id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_security_group" "database" {
  #checkov:skip=CKV2_AWS_5:Attached in other modules (Lambda, Aurora, ECS, MSK) that receive its ID from the outputs.
  name        = "${var.name}-database"
  description = "Aurora PostgreSQL, reachable from the workloads only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-database" })
}

resource "aws_vpc_security_group_ingress_rule" "database_from_lambda" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the Lambdas"
  referenced_security_group_id = aws_security_group.lambda.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_vpc_security_group_ingress_rule" "database_from_workers" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the consumer workers"
  referenced_security_group_id = aws_security_group.workers.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_security_group" "workers" {
  #checkov:skip=CKV2_AWS_5:Attached in other modules (Lambda, Aurora, ECS, MSK) that receive its ID from the outputs.
  name        = "${var.name}-workers"
  description = "ECS Fargate consumer workers and one-off tasks"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-workers" })
}

resource "aws_vpc_security_group_egress_rule" "workers_vpc" {
  security_group_id = aws_security_group.workers.id
  description       = "Database, Kafka and endpoints inside the VPC"
  cidr_ipv4         = var.cidr_block
  ip_protocol       = "-1"
}

resource "aws_vpc_security_group_egress_rule" "workers_s3" {
  security_group_id = aws_security_group.workers.id
  description       = "ECR image layers from S3 through the gateway endpoint"
  prefix_list_id    = aws_vpc_endpoint.s3.prefix_list_id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_security_group" "kafka" {
  #checkov:skip=CKV2_AWS_5:Attached in other modules (Lambda, Aurora, ECS, MSK) that receive its ID from the outputs.
  name        = "${var.name}-kafka"
  description = "MSK brokers, IAM-authenticated clients from the workloads only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-kafka" })
}

resource "aws_vpc_security_group_ingress_rule" "kafka" {
  for_each = {
    lambda  = aws_security_group.lambda.id
    workers = aws_security_group.workers.id
  }

  security_group_id            = aws_security_group.kafka.id
  description                  = "Kafka IAM listener from ${each.key}"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
}
