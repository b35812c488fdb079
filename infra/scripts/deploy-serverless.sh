#!/usr/bin/env bash
# Deploy the DPP serverless stack (phase-1 base + phase-2 event pair) to one sub-environment.
#
# Steps: build artifacts -> terraform init/workspace/plan -> apply -> push the consumer image ->
# run `dpp topics apply` as a one-off ECS task -> build and sync the frontend -> invalidate
# CloudFront -> health checks. --dry-run stops after the plan and changes nothing in AWS.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: deploy-serverless.sh [-e ENV] [-s SUB_ENV] [--dry-run] [--skip-build] [--web-dir DIR] [-h]

  -e ENV          environment, a folder of infra/environments (default: dev)
  -s SUB_ENV      sub-environment, also the terraform workspace (default: dev01)
  --dry-run       build the local artifacts and run terraform plan only: nothing is applied,
                  pushed, synced or invalidated
  --skip-build    use artifacts already in dist/ (CI builds them once and passes them on):
                  dist/producer-lambda.zip, dist/backend-lambda.zip, dist/consumer-image.tar
  --web-dir DIR   Next.js app with a static export (default: $DPP_WEB_DIR or apps/web);
                  its out/ directory is synced to the website bucket
  --skip-frontend do not build/sync the frontend (API-only deploy)
  -h, --help      show this help

Environment: IMAGE_TAG (default: git commit), HEALTH_TIMEOUT seconds (default: 120),
             DPP_BACKEND_DIR (Node backend to build into dist/backend-lambda.zip).
USAGE
}

die() { printf 'deploy-serverless: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'deploy-serverless: %s\n' "$*" >&2; }
require() {
  local tool
  for tool in "$@"; do
    command -v "${tool}" >/dev/null 2>&1 || die "required tool '${tool}' is not on PATH"
  done
}

ENVIRONMENT="dev"
SUB_ENVIRONMENT="dev01"
DRY_RUN=false
SKIP_BUILD=false
SKIP_FRONTEND=false
WEB_DIR="${DPP_WEB_DIR:-apps/web}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    -e|--environment) [[ $# -ge 2 ]] || die "$1 needs a value"; ENVIRONMENT="$2"; shift 2 ;;
    -s|--sub-environment) [[ $# -ge 2 ]] || die "$1 needs a value"; SUB_ENVIRONMENT="$2"; shift 2 ;;
    --dry-run) DRY_RUN=true; shift ;;
    --skip-build) SKIP_BUILD=true; shift ;;
    --skip-frontend) SKIP_FRONTEND=true; shift ;;
    --web-dir) [[ $# -ge 2 ]] || die "$1 needs a value"; WEB_DIR="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

[[ "${ENVIRONMENT}" =~ ^[a-z]+$ ]] || die "invalid environment '${ENVIRONMENT}'"
[[ "${SUB_ENVIRONMENT}" =~ ^[a-z]+[0-9]{2}$ ]] || die "invalid sub-environment '${SUB_ENVIRONMENT}' (expected e.g. dev01)"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ENV_DIR="${REPO_ROOT}/infra/environments/${ENVIRONMENT}"
DIST="${REPO_ROOT}/dist"
[[ -d "${ENV_DIR}" ]] || die "no such environment: ${ENV_DIR}"
PLAN_FILE="${ENV_DIR}/${SUB_ENVIRONMENT}.tfplan"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-120}"

require terraform aws
aws sts get-caller-identity --output text >/dev/null 2>&1 \
  || die "no usable AWS credentials (aws sts get-caller-identity failed); configure a profile or OIDC role"

tf() { terraform -chdir="${ENV_DIR}" "$@"; }
tf_out() { tf output -raw "$1"; }

build_artifacts() {
  mkdir -p "${DIST}"
  require uv
  log "building dist/producer-lambda.zip (dpp producer package)"
  (cd "${REPO_ROOT}" && uv run --frozen dpp producer package)
  [[ -f "${DIST}/producer-lambda.zip" ]] || die "dpp producer package did not produce dist/producer-lambda.zip"
  if [[ -n "${DPP_BACKEND_DIR:-}" ]]; then
    require npm zip
    log "building dist/backend-lambda.zip from ${DPP_BACKEND_DIR}"
    (cd "${DPP_BACKEND_DIR}" && npm ci && npm run build && cd dist && zip -qr "${DIST}/backend-lambda.zip" .)
  fi
  [[ -f "${DIST}/backend-lambda.zip" ]] || die "dist/backend-lambda.zip is missing (set DPP_BACKEND_DIR to the Node backend)"
  if [[ "${DRY_RUN}" == false ]]; then
    require docker
    log "building the consumer image from consumer/Dockerfile"
    docker build -f "${REPO_ROOT}/consumer/Dockerfile" -t "dpp-consumer:${IMAGE_TAG}" "${REPO_ROOT}"
  fi
}

IMAGE_TAG="${IMAGE_TAG:-$(git -C "${REPO_ROOT}" rev-parse --short=12 HEAD 2>/dev/null || echo manual)}"

if [[ "${SKIP_BUILD}" == true ]]; then
  for artifact in producer-lambda.zip backend-lambda.zip; do
    [[ -f "${DIST}/${artifact}" ]] || die "--skip-build given but dist/${artifact} is missing"
  done
else
  build_artifacts
fi

TF_VARS=(
  -var "environment=${ENVIRONMENT}"
  -var "sub_environment=${SUB_ENVIRONMENT}"
  -var "artifacts={backend_zip=\"${DIST}/backend-lambda.zip\",producer_zip=\"${DIST}/producer-lambda.zip\",consumer_image_tag=\"${IMAGE_TAG}\"}"
)

log "terraform init (${ENVIRONMENT}), workspace ${SUB_ENVIRONMENT}"
tf init -input=false
tf workspace select -or-create=true "${SUB_ENVIRONMENT}"
tf plan -input=false -out="${PLAN_FILE}" "${TF_VARS[@]}"

if [[ "${DRY_RUN}" == true ]]; then
  log "dry run: plan written to ${PLAN_FILE}; nothing applied"
  exit 0
fi

tf apply -input=false "${PLAN_FILE}"

ECR_URL="$(tf_out consumer_ecr_repository_url)"
CLUSTER="$(tf_out consumer_cluster_name)"
SERVICE="$(tf_out consumer_service_name)"
REGISTRY="${ECR_URL%%/*}"
REGION="$(aws configure get region 2>/dev/null || true)"
REGION="${AWS_REGION:-${REGION:-us-east-1}}"

log "pushing the consumer image ${ECR_URL}:${IMAGE_TAG}"
if [[ -f "${DIST}/consumer-image.tar" ]]; then
  docker load -i "${DIST}/consumer-image.tar"
fi
aws ecr get-login-password --region "${REGION}" | docker login --username AWS --password-stdin "${REGISTRY}"
docker tag "dpp-consumer:${IMAGE_TAG}" "${ECR_URL}:${IMAGE_TAG}"
docker push "${ECR_URL}:${IMAGE_TAG}"

log "creating topics: one-off ECS task running dpp topics apply"
TASK_ARN="$(aws ecs run-task --cluster "${CLUSTER}" \
  --task-definition "$(tf_out topics_task_definition_arn)" \
  --launch-type FARGATE \
  --network-configuration "{\"awsvpcConfiguration\": $(tf output -json topics_task_network)}" \
  --query 'tasks[0].taskArn' --output text)"
[[ -n "${TASK_ARN}" && "${TASK_ARN}" != "None" ]] || die "could not start the topic task"
aws ecs wait tasks-stopped --cluster "${CLUSTER}" --tasks "${TASK_ARN}"
EXIT_CODE="$(aws ecs describe-tasks --cluster "${CLUSTER}" --tasks "${TASK_ARN}" \
  --query 'tasks[0].containers[0].exitCode' --output text)"
[[ "${EXIT_CODE}" == "0" ]] || die "dpp topics apply failed (exit ${EXIT_CODE}); see the /ecs log group"
aws ecs update-service --cluster "${CLUSTER}" --service "${SERVICE}" --force-new-deployment >/dev/null

API_URL="$(tf_out next_public_api_url)"
API_ENDPOINT="$(tf_out api_endpoint)"
WEBSITE_URL="$(tf_out website_url)"
if [[ "${SKIP_FRONTEND}" == false ]]; then
  [[ -d "${WEB_DIR}" ]] || die "frontend directory '${WEB_DIR}' not found (use --web-dir DIR or --skip-frontend)"
  BUCKET="$(tf_out website_bucket)"
  DISTRIBUTION="$(tf_out cloudfront_distribution_id)"
  if [[ -f "${WEB_DIR}/package.json" ]]; then
    require npm
    log "building the frontend with NEXT_PUBLIC_API_URL=${API_URL}"
    (cd "${WEB_DIR}" && npm ci && NEXT_PUBLIC_API_URL="${API_URL}" npm run build)
  fi
  [[ -d "${WEB_DIR}/out" ]] || die "no static export at ${WEB_DIR}/out"
  log "syncing ${WEB_DIR}/out to s3://${BUCKET}"
  # Guide: long cache (1 year) for static assets, short (1 hour) for HTML/JSON.
  aws s3 sync "${WEB_DIR}/out" "s3://${BUCKET}" --delete \
    --exclude "*.html" --exclude "*.json" \
    --cache-control "public, max-age=31536000, immutable"
  aws s3 sync "${WEB_DIR}/out" "s3://${BUCKET}" \
    --exclude "*" --include "*.html" --include "*.json" \
    --cache-control "public, max-age=3600"
  aws cloudfront create-invalidation --distribution-id "${DISTRIBUTION}" --paths "/*" >/dev/null
fi

health_check() { # name url
  local name="$1" url="$2" deadline=$((SECONDS + HEALTH_TIMEOUT))
  until curl -fsS --max-time 10 -o /dev/null "${url}"; do
    if (( SECONDS >= deadline )); then
      die "health check '${name}' failed: ${url} not healthy after ${HEALTH_TIMEOUT}s"
    fi
    sleep 5
  done
  log "health check '${name}' ok: ${url}"
}

require curl
health_check api "${API_ENDPOINT}/health"
if [[ "${SKIP_FRONTEND}" == false ]]; then
  health_check website "${WEBSITE_URL}/"
fi
log "deployed ${ENVIRONMENT}-${SUB_ENVIRONMENT}: site ${WEBSITE_URL}, API ${API_URL}"
