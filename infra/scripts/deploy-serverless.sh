#!/usr/bin/env bash
# Deploy the DPP serverless stack (phase-1 base + phase-2 event pair) to one sub-environment.
#
# Steps: preflight (tools, credentials, artifacts, frontend, state bucket) -> [--bootstrap:
# infra/bootstrap apply] -> build artifacts -> terraform init/workspace -> targeted apply of the
# ECR repository -> push the consumer image -> plan/apply everything (the ECS services start with
# an image that exists) -> run `dpp topics apply` as a one-off ECS task -> build and sync the
# frontend -> invalidate CloudFront -> health checks.
# --dry-run plans only: no workspace, repository, image, topic or file in AWS is created.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: deploy-serverless.sh [-e ENV] [-s SUB_ENV] [-r REGION] [--bootstrap] [--dry-run]
                            [--skip-build] [--skip-frontend] [--web-dir DIR] [-h]

  -e ENV          environment, a folder of infra/environments (default: dev)
  -s SUB_ENV      sub-environment, also the terraform workspace (default: dev01)
  -r REGION       region of the stack; every aws call and terraform get it
                  (default: $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1)
  --bootstrap     first apply infra/bootstrap: the state bucket (S3-native locking) and the
                  GitHub OIDC deploy/plan roles; needs GITHUB_REPOSITORY=owner/name. Run once
                  per account and environment, before the first deploy
  --dry-run       build the local artifacts and run terraform plan only: nothing is applied,
                  pushed, synced or invalidated, and no terraform workspace is created (a new
                  sub-environment is planned against an empty local state)
  --skip-build    use artifacts already in dist/ (CI builds them once and passes them on):
                  dist/producer-lambda.zip, dist/backend-lambda.zip, dist/consumer-image.tar
  --web-dir DIR   Next.js app with a static export (default: $DPP_WEB_DIR or apps/web);
                  its out/ directory is synced to the website bucket
  --skip-frontend do not build/sync the frontend (API-only deploy)
  -h, --help      show this help

Environment: IMAGE_TAG (default: git commit), HEALTH_TIMEOUT seconds (default: 120),
             DPP_BACKEND_DIR (Node backend to build into dist/backend-lambda.zip),
             GITHUB_REPOSITORY (owner/name, for --bootstrap).
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
REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
BOOTSTRAP=false
DRY_RUN=false
SKIP_BUILD=false
SKIP_FRONTEND=false
WEB_DIR="${DPP_WEB_DIR:-apps/web}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    -e|--environment) [[ $# -ge 2 ]] || die "$1 needs a value"; ENVIRONMENT="$2"; shift 2 ;;
    -s|--sub-environment) [[ $# -ge 2 ]] || die "$1 needs a value"; SUB_ENVIRONMENT="$2"; shift 2 ;;
    -r|--region) [[ $# -ge 2 ]] || die "$1 needs a value"; REGION="$2"; shift 2 ;;
    --bootstrap) BOOTSTRAP=true; shift ;;
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
[[ "${REGION}" =~ ^[a-z]{2}-[a-z]+-[0-9]$ ]] || die "invalid region '${REGION}'"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ENV_DIR="${REPO_ROOT}/infra/environments/${ENVIRONMENT}"
BOOTSTRAP_DIR="${REPO_ROOT}/infra/bootstrap"
DIST="${REPO_ROOT}/dist"
[[ -d "${ENV_DIR}" ]] || die "no such environment: ${ENV_DIR}"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-120}"
IMAGE_TAG="${IMAGE_TAG:-$(git -C "${REPO_ROOT}" rev-parse --short=12 HEAD 2>/dev/null || echo manual)}"
# The state bucket and its region as backend.tf declares them (the bootstrap creates exactly these).
backend_setting() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" "${ENV_DIR}/backend.tf" 2>/dev/null | head -n 1; }
STATE_BUCKET="$(backend_setting bucket)"
STATE_BUCKET="${STATE_BUCKET:-dpp-terraform-state-${ENVIRONMENT}}"
STATE_REGION="$(backend_setting region)"
STATE_REGION="${STATE_REGION:-${REGION}}"

# Every aws call carries the region explicitly: a profile's default region must never decide
# where the image, the topic task or the site go.
awsr() { aws --region "${REGION}" "$@"; }

# ---- preflight: everything that can be missing fails here, before anything is built or applied

require terraform aws
awsr sts get-caller-identity --output text >/dev/null 2>&1 \
  || die "no usable AWS credentials (aws sts get-caller-identity failed); configure a profile or OIDC role"

if [[ "${SKIP_BUILD}" == true ]]; then
  for artifact in producer-lambda.zip backend-lambda.zip; do
    [[ -s "${DIST}/${artifact}" ]] || die "--skip-build given but dist/${artifact} is missing"
  done
elif [[ -z "${DPP_BACKEND_DIR:-}" && ! -s "${DIST}/backend-lambda.zip" ]]; then
  die "dist/backend-lambda.zip is missing (set DPP_BACKEND_DIR to the Node backend, or put the zip in dist/)"
fi
if [[ "${SKIP_FRONTEND}" == false && "${DRY_RUN}" == false ]]; then
  [[ -d "${WEB_DIR}" ]] || die "frontend directory '${WEB_DIR}' not found (use --web-dir DIR or --skip-frontend)"
  if [[ -f "${WEB_DIR}/package.json" ]]; then
    require npm
  elif [[ ! -d "${WEB_DIR}/out" ]]; then
    die "no frontend build: ${WEB_DIR} has neither package.json nor a static export in out/ (use --skip-frontend for an API-only deploy)"
  fi
fi

# ---- bootstrap: state bucket, lock and GitHub OIDC roles (once per account and environment)

if [[ "${BOOTSTRAP}" == true ]]; then
  [[ "${GITHUB_REPOSITORY:-}" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] \
    || die "--bootstrap needs GITHUB_REPOSITORY=owner/name (the repository whose workflows may deploy)"
  BOOTSTRAP_VARS=(
    -var "environment=${ENVIRONMENT}"
    -var "aws_region=${STATE_REGION}"
    -var "state_bucket=${STATE_BUCKET}"
    -var "github_repository=${GITHUB_REPOSITORY}"
  )
  log "bootstrap: state bucket ${STATE_BUCKET} (${STATE_REGION}) and GitHub OIDC roles"
  terraform -chdir="${BOOTSTRAP_DIR}" init -input=false -backend-config="path=terraform.${ENVIRONMENT}.tfstate"
  if [[ "${DRY_RUN}" == true ]]; then
    terraform -chdir="${BOOTSTRAP_DIR}" plan -input=false "${BOOTSTRAP_VARS[@]}"
  else
    terraform -chdir="${BOOTSTRAP_DIR}" apply -input=false -auto-approve "${BOOTSTRAP_VARS[@]}"
  fi
fi

if ! aws --region "${STATE_REGION}" s3api head-bucket --bucket "${STATE_BUCKET}" >/dev/null 2>&1; then
  if [[ "${BOOTSTRAP}" == true && "${DRY_RUN}" == true ]]; then
    log "dry run: the bootstrap plan above creates ${STATE_BUCKET}; the stack cannot be planned before it exists"
    exit 0
  fi
  die "state bucket ${STATE_BUCKET} not found in ${STATE_REGION}: run once with --bootstrap (GITHUB_REPOSITORY=owner/name) first, see docs/infra.md 'First deploy'"
fi

# ---- artifacts

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
  [[ -s "${DIST}/backend-lambda.zip" ]] || die "dist/backend-lambda.zip is missing (set DPP_BACKEND_DIR to the Node backend)"
  if [[ "${DRY_RUN}" == false ]]; then
    require docker
    log "building the consumer image from consumer/Dockerfile"
    docker build -f "${REPO_ROOT}/consumer/Dockerfile" -t "dpp-consumer:${IMAGE_TAG}" "${REPO_ROOT}"
  fi
}

if [[ "${SKIP_BUILD}" == false ]]; then
  build_artifacts
fi

TF_VARS=(
  -var "environment=${ENVIRONMENT}"
  -var "sub_environment=${SUB_ENVIRONMENT}"
  -var "aws_region=${REGION}"
  -var "artifacts={backend_zip=\"${DIST}/backend-lambda.zip\",producer_zip=\"${DIST}/producer-lambda.zip\",consumer_image_tag=\"${IMAGE_TAG}\"}"
)

# ---- terraform: init and workspace

TF_DIR="${ENV_DIR}"
SCRATCH=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() { if [[ -n "${SCRATCH}" ]]; then rm -rf "${SCRATCH}"; fi; }
trap cleanup EXIT
tf() { terraform -chdir="${TF_DIR}" "$@"; }
tf_out() { tf output -raw "$1"; }

log "terraform init (${ENVIRONMENT}), workspace ${SUB_ENVIRONMENT}"
tf init -input=false
if tf workspace list 2>/dev/null | sed 's/^[* ]*//' | grep -qx "${SUB_ENVIRONMENT}"; then
  tf workspace select "${SUB_ENVIRONMENT}"
elif [[ "${DRY_RUN}" == true ]]; then
  # A new sub-environment has an empty state; plan that from a scratch copy with a local
  # backend instead of creating the workspace in the bucket. The copy sits beside the
  # environment so the relative module and contract paths still resolve.
  log "dry run: workspace ${SUB_ENVIRONMENT} does not exist; planning against an empty local state (nothing is created)"
  SCRATCH="$(mktemp -d "${REPO_ROOT}/infra/environments/.dry-run-${ENVIRONMENT}-XXXXXX")"
  cp -R "${ENV_DIR}/." "${SCRATCH}/"
  rm -rf "${SCRATCH}/.terraform" "${SCRATCH}/.terraform.lock.hcl"
  printf 'terraform {\n  backend "local" {}\n}\n' >"${SCRATCH}/dry_run_override.tf"
  TF_DIR="${SCRATCH}"
  tf init -input=false -reconfigure
else
  tf workspace new "${SUB_ENVIRONMENT}"
fi

PLAN_FILE="${TF_DIR}/${SUB_ENVIRONMENT}.tfplan"
if [[ "${DRY_RUN}" == true ]]; then
  tf plan -input=false -out="${PLAN_FILE}" "${TF_VARS[@]}"
  log "dry run: plan written to ${PLAN_FILE}; nothing applied"
  exit 0
fi

# ---- the image before the services: ECR repository first, push, then everything

log "creating the consumer ECR repository (targeted apply) before the ECS services"
tf apply -input=false -auto-approve \
  -target=module.consumer.aws_ecr_repository.this \
  -target=module.consumer.aws_ecr_lifecycle_policy.this \
  "${TF_VARS[@]}"
ECR_URL="$(tf_out consumer_ecr_repository_url)"
REGISTRY="${ECR_URL%%/*}"
REPOSITORY="${ECR_URL#*/}"

if awsr ecr describe-images --repository-name "${REPOSITORY}" --image-ids "imageTag=${IMAGE_TAG}" >/dev/null 2>&1; then
  log "image ${ECR_URL}:${IMAGE_TAG} already pushed (tags are immutable)"
else
  log "pushing the consumer image ${ECR_URL}:${IMAGE_TAG}"
  require docker
  if [[ -f "${DIST}/consumer-image.tar" ]]; then
    docker load -i "${DIST}/consumer-image.tar"
  fi
  awsr ecr get-login-password | docker login --username AWS --password-stdin "${REGISTRY}"
  docker tag "dpp-consumer:${IMAGE_TAG}" "${ECR_URL}:${IMAGE_TAG}"
  docker push "${ECR_URL}:${IMAGE_TAG}"
fi

tf plan -input=false -out="${PLAN_FILE}" "${TF_VARS[@]}"
tf apply -input=false "${PLAN_FILE}"

CLUSTER="$(tf_out consumer_cluster_name)"
SERVICE="$(tf_out consumer_service_name)"

log "creating topics: one-off ECS task running dpp topics apply"
TASK_ARN="$(awsr ecs run-task --cluster "${CLUSTER}" \
  --task-definition "$(tf_out topics_task_definition_arn)" \
  --launch-type FARGATE \
  --network-configuration "{\"awsvpcConfiguration\": $(tf output -json topics_task_network)}" \
  --query 'tasks[0].taskArn' --output text)"
[[ -n "${TASK_ARN}" && "${TASK_ARN}" != "None" ]] || die "could not start the topic task"
awsr ecs wait tasks-stopped --cluster "${CLUSTER}" --tasks "${TASK_ARN}"
EXIT_CODE="$(awsr ecs describe-tasks --cluster "${CLUSTER}" --tasks "${TASK_ARN}" \
  --query 'tasks[0].containers[0].exitCode' --output text)"
[[ "${EXIT_CODE}" == "0" ]] || die "dpp topics apply failed (exit ${EXIT_CODE}); see the /ecs log group"
awsr ecs update-service --cluster "${CLUSTER}" --service "${SERVICE}" --force-new-deployment >/dev/null

API_URL="$(tf_out next_public_api_url)"
API_ENDPOINT="$(tf_out api_endpoint)"
WEBSITE_URL="$(tf_out website_url)"
if [[ "${SKIP_FRONTEND}" == false ]]; then
  BUCKET="$(tf_out website_bucket)"
  DISTRIBUTION="$(tf_out cloudfront_distribution_id)"
  if [[ -f "${WEB_DIR}/package.json" ]]; then
    log "building the frontend with NEXT_PUBLIC_API_URL=${API_URL}"
    (cd "${WEB_DIR}" && npm ci && NEXT_PUBLIC_API_URL="${API_URL}" npm run build)
  fi
  [[ -d "${WEB_DIR}/out" ]] || die "no static export at ${WEB_DIR}/out"
  log "syncing ${WEB_DIR}/out to s3://${BUCKET}"
  # Guide: long cache (1 year) for static assets, short (1 hour) for HTML/JSON.
  awsr s3 sync "${WEB_DIR}/out" "s3://${BUCKET}" --delete \
    --exclude "*.html" --exclude "*.json" \
    --cache-control "public, max-age=31536000, immutable"
  awsr s3 sync "${WEB_DIR}/out" "s3://${BUCKET}" \
    --exclude "*" --include "*.html" --include "*.json" \
    --cache-control "public, max-age=3600"
  awsr cloudfront create-invalidation --distribution-id "${DISTRIBUTION}" --paths "/*" >/dev/null
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
health_check producer "${API_ENDPOINT}/healthz"
if [[ "${SKIP_FRONTEND}" == false ]]; then
  health_check website "${WEBSITE_URL}/"
fi
log "deployed ${ENVIRONMENT}-${SUB_ENVIRONMENT}: site ${WEBSITE_URL}, API ${API_URL}"
