# dev: the phase-1 serverless base (site, API, backend Lambda, Aurora, secrets, VPC) and the
# phase-2 event pair (MSK, producer Lambda, consumer workers), all named
# ${environment}-${sub_environment}-dpp-<part>.

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

locals {
  name         = "${var.environment}-${var.sub_environment}-dpp"
  site_domain  = "${var.sub_environment}.${var.domain_name}"
  api_domain   = "api-${var.sub_environment}.${var.domain_name}"
  website_cert = var.certificates.website_us_east_1
  api_cert     = var.certificates.api_regional
  cors_origin  = local.website_cert == null ? module.website.website_url : "https://${local.site_domain}"

  tags = merge(var.extra_tags, {
    Project        = "dpp"
    Environment    = var.environment
    SubEnvironment = var.sub_environment
    ManagedBy      = "terraform"
    Repository     = "dpp-events"
  })

  # Topic names are owned by the CLI (`dpp topics apply`); the list here only scopes IAM and alarms.
  # dpp.demo.echo carries the post-deploy verification event (deploy-serverless.sh --verify-only).
  main_topics   = ["dpp.demo.echo", "dpp.persona.embedding", "dpp.persona.classification", "dpp.persona.batch", "dpp.job.results"]
  retry_topics  = flatten([for t in local.main_topics : [for n in [1, 2, 3] : "${t}.retry.${n}"]])
  dead_letter   = "dpp.dead-letter"
  worker_topics = ["dpp.demo.echo", "dpp.persona.embedding", "dpp.persona.classification", "dpp.persona.batch"]

  # The deployment contract: command or handler, environment names, routes, kafka-cluster
  # actions and metrics of every component, declared once for Terraform and the tests.
  contract       = jsondecode(file("${path.module}/../../contract/components.json")).components
  consumer_group = "dpp-ml-workers"

  # The backend may touch uploads under this prefix only (s3-uploads grants nothing else); the
  # contract fixes it, so the grant and the backend's UPLOADS_PREFIX cannot drift apart.
  uploads_prefix = local.contract.backend.environment_values.UPLOADS_PREFIX

  # A value for every environment name a component declares; a name missing here fails the plan
  # (and tests/infra/test_contract.py). DPP_ENV is the environment itself: `dev` is a deployed
  # environment, never the sandbox. UPLOADS_BUCKET is the bucket's name, not
  # module.uploads.bucket_name: the bucket policy needs the backend's role (a cycle).
  environment_values = {
    DPP_ENV                 = var.environment
    JWT_SECRET_ARN          = module.secrets.secret_arn
    KAFKA_BOOTSTRAP_SERVERS = module.msk.bootstrap_brokers_sasl_iam
    KAFKA_SECURITY_MODE     = "msk-iam"
    AWS_REGION              = var.aws_region
    DPP_CONSUMER_GROUP      = local.consumer_group
    DATABASE_URL            = module.database.database_url
    DATABASE_SECRET_ARN     = module.database.master_user_secret_arn
    CORS_ORIGIN             = local.cors_origin
    NODE_ENV                = "production"
    UPLOADS_BUCKET          = "${local.name}-uploads"
    UPLOADS_PREFIX          = local.uploads_prefix
    # Off unless var.tracing says otherwise (the same settings for the producer and the workers).
    DPP_TRACING                 = var.tracing.mode
    OTEL_EXPORTER_OTLP_ENDPOINT = var.tracing.otlp_endpoint
  }
  # DPP_EVENTS_FUNCTION names the producer alias, so it is added where module.producer exists.
  late_environment = ["DPP_EVENTS_FUNCTION"]
  environment = {
    for component, spec in local.contract : component => merge(
      { for name in spec.environment : name => local.environment_values[name] if !contains(local.late_environment, name) },
      spec.environment_values,
    )
  }

  # kafka-cluster ARNs by the resource kinds the contract uses.
  kafka_arns = {
    cluster                     = module.msk.cluster_arn
    topic_arn_prefix            = module.msk.topic_arn_prefix
    group_arn_prefix            = module.msk.group_arn_prefix
    transactional_id_arn_prefix = replace(module.msk.cluster_arn, ":cluster/", ":transactional-id/")
  }
  producer_kafka = local.contract.producer.kafka_actions
}

module "network" {
  source = "../../modules/network"

  name = local.name
  # No NAT: lambda (backend -> producer alias), monitoring (lag-publisher PutMetricData) and
  # the image pull / secrets / logs endpoints are the only ways out of the private subnets.
  interface_endpoints   = ["secretsmanager", "logs", "ecr.api", "ecr.dkr", "lambda", "monitoring"]
  endpoint_subnet_count = 1
  tags                  = local.tags
}

module "secrets" {
  source = "../../modules/secrets"

  name                    = "${local.name}-jwt-secret"
  recovery_window_in_days = 7
  tags                    = local.tags
}

module "database" {
  source = "../../modules/aurora-serverless"

  name                = "${local.name}-db"
  subnet_ids          = module.network.private_subnet_ids
  security_group_ids  = [module.network.security_group_ids.database]
  capacity            = { min_acu = var.database.min_acu, max_acu = var.database.max_acu, seconds_until_auto_pause = var.database.pause_after_seconds }
  rds_proxy           = { enabled = var.database.rds_proxy }
  deletion_protection = false
  skip_final_snapshot = true
  tags                = local.tags
}

module "website" {
  source = "../../modules/s3-static-website"

  bucket_name   = "${local.name}-website"
  force_destroy = true
  custom_domain = local.website_cert == null ? null : { domain_name = local.site_domain, certificate_arn = local.website_cert }
  tags          = local.tags
}

module "backend" {
  source = "../../modules/lambda-function"

  function_name = "${local.name}-api"
  description   = "Backend API (the guide's apps/server)"
  package       = { filename = var.artifacts.backend_zip }
  handler       = local.contract.backend.handler
  runtime       = "nodejs20.x"
  architecture  = "arm64"
  timeout       = 29
  environment   = merge(local.environment.backend, { DPP_EVENTS_FUNCTION = module.producer.alias_arn })
  secret_arns   = [module.secrets.secret_arn, module.database.master_user_secret_arn]
  # Backend -> producer through the Lambda interface endpoint (no NAT): invoke the live alias only.
  policy_statements = {
    InvokeProducer = { actions = ["lambda:InvokeFunction"], resources = [module.producer.alias_arn] }
  }
  vpc_config              = { subnet_ids = module.network.private_subnet_ids, security_group_ids = [module.network.security_group_ids.lambda] }
  provisioned_concurrency = var.backend_provisioned_concurrency
  tags                    = local.tags
}

module "uploads" {
  source = "../../modules/s3-uploads"

  bucket_name   = "${local.name}-uploads"
  access        = { roles = { backend = module.backend.role_name }, prefix = local.uploads_prefix }
  cors_origins  = distinct([local.cors_origin, "https://${local.site_domain}"])
  force_destroy = true
  tags          = local.tags
}

module "api" {
  source = "../../modules/api-gateway"

  name          = "${local.name}-http-api"
  cors          = { allow_origins = distinct([local.cors_origin, "https://${local.site_domain}"]) }
  custom_domain = local.api_cert == null ? null : { domain_name = local.api_domain, certificate_arn = local.api_cert }
  # Route keys come from the contract; the producer's are more specific than the backend's
  # ANY /{proxy+}, so API Gateway sends /v1/events... and the probes to the producer.
  integrations = {
    backend = {
      route_keys    = local.contract.backend.routes
      invoke_arn    = module.backend.invoke_arn
      function_name = module.backend.function_name
      qualifier     = module.backend.qualifier
    }
    producer = {
      route_keys    = local.contract.producer.routes
      invoke_arn    = module.producer.invoke_arn
      function_name = module.producer.function_name
      qualifier     = module.producer.qualifier
    }
  }
  tags = local.tags
}

# ---- phase 2: the event pair -------------------------------------------------------------

module "msk" {
  source = "../../modules/msk"

  name               = "${local.name}-msk"
  mode               = var.msk_mode
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.security_group_ids.kafka]
  tags               = local.tags
}

module "producer" {
  source = "../../modules/lambda-function"

  function_name = "${local.name}-producer"
  description   = "Producer API: validates events and writes them to MSK"
  package       = { filename = var.artifacts.producer_zip }
  handler       = local.contract.producer.handler
  runtime       = local.contract.producer.runtime
  timeout       = 15
  environment   = local.environment.producer
  secret_arns   = [module.secrets.secret_arn, module.database.master_user_secret_arn]
  policy_statements = {
    KafkaCluster = { actions = local.producer_kafka.cluster, resources = [local.kafka_arns.cluster] }
    KafkaTopics  = { actions = local.producer_kafka.topic, resources = [for t in local.worker_topics : "${local.kafka_arns.topic_arn_prefix}/${t}"] }
  }
  vpc_config = { subnet_ids = module.network.private_subnet_ids, security_group_ids = [module.network.security_group_ids.lambda] }
  tags       = local.tags
}

module "consumer" {
  source = "../../modules/event-consumer"

  name             = "${local.name}-consumer"
  image_tag        = var.artifacts.consumer_image_tag
  use_fargate_spot = var.consumer_fargate_spot
  kafka = {
    bootstrap_servers           = module.msk.bootstrap_brokers_sasl_iam
    cluster_arn                 = local.kafka_arns.cluster
    topic_arn_prefix            = local.kafka_arns.topic_arn_prefix
    group_arn_prefix            = local.kafka_arns.group_arn_prefix
    transactional_id_arn_prefix = local.kafka_arns.transactional_id_arn_prefix
    consumer_group              = local.consumer_group
    read_topics                 = concat(local.worker_topics, [for t in local.retry_topics : t if !startswith(t, "dpp.job.results")], ["dpp.control"])
    write_topics                = concat(local.retry_topics, [local.dead_letter, "dpp.job.results"])
  }
  components = {
    worker        = merge(local.contract.worker, { environment = local.environment.worker })
    topics        = merge(local.contract.topics, { environment = local.environment.topics })
    lag_publisher = merge(local.contract["lag-publisher"], { environment = local.environment["lag-publisher"] })
  }
  autoscaling = {
    min_workers        = 1
    max_workers        = 8
    partitions         = 6
    lag_per_worker     = 100
    scale_out_cooldown = 60
    scale_in_cooldown  = 300
    lag_topics         = local.worker_topics
  }
  secret_arns = [module.database.master_user_secret_arn]
  network     = { subnet_ids = module.network.private_subnet_ids, security_group_ids = [module.network.security_group_ids.workers] }
  tags        = local.tags
}

module "monitoring" {
  source = "../../modules/monitoring"

  name             = local.name
  lambda_functions = { api = module.backend.function_name, producer = module.producer.function_name }
  api              = { id = module.api.api_id, stage = module.api.stage_name }
  consumer = {
    namespace      = local.contract["lag-publisher"].metrics.namespace
    consumer_group = local.consumer_group
    topics         = local.worker_topics
    ecs_cluster    = module.consumer.cluster_name
    ecs_service    = module.consumer.service_name
  }
  budget       = { monthly_limit_usd = var.monthly_budget_usd, emails = var.alert_emails }
  alarm_emails = var.alert_emails
  cloudfront   = { distribution_id = module.website.distribution_id }
  # Request metrics (billed) on uploads only; the site bucket is watched through CloudFront.
  s3_buckets = {
    website = { name = module.website.bucket_name }
    uploads = { name = module.uploads.bucket_name, request_metrics = true }
  }
  tags = local.tags
}
