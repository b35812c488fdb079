#!/usr/bin/env bash
# Deploy the DPP serverless stack (phase-1 base + phase-2 event pair) to one sub-environment.
#
# Steps: preflight (tools, credentials, artifacts, frontend, state bucket) -> [--bootstrap:
# infra/bootstrap apply] -> build artifacts -> terraform init/workspace -> targeted apply of the
# ECR repository -> push the consumer image -> plan/apply everything (the ECS services start with
# an image that exists) -> run `dpp topics apply` as a one-off ECS task -> build and sync the
# frontend -> release the Lambda aliases (all at once, or a producer canary) -> health checks ->
# post-deploy verification (an event through the pair).
# --dry-run plans only: no workspace, repository, image, topic or file in AWS is created.
# --rollback and --verify-only act on a deployed stack alone (no build, no terraform).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: deploy-serverless.sh [-e ENV] [-s SUB_ENV] [-r REGION] [--bootstrap] [--dry-run]
                            [--skip-build] [--skip-frontend] [--web-dir DIR]
                            [--canary PERCENT [--bake MINUTES]] [--no-verify] [-h]
       deploy-serverless.sh [-e ENV] [-s SUB_ENV] [-r REGION] --rollback [--dry-run]
       deploy-serverless.sh [-e ENV] [-s SUB_ENV] [-r REGION] --verify-only [--api-url URL]

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
  --canary PERCENT
                  release the producer as a canary: publish a version, send PERCENT (1-99) of
                  the `live` alias traffic to it (weighted alias routing), watch the producer's
                  error and p95-duration alarms for the bake time, then promote it (alias on the
                  new version, no routing) or roll back by itself (routing removed, alias stays
                  on the old version, the deploy exits non-zero). Without --canary the aliases
                  move to the new versions at once
  --bake MINUTES  how long the canary's alarms are watched (default: 10; 0 = one look)
  --no-verify     skip the post-deploy verification after a deploy
  --rollback      roll back in one command, no build and no terraform: the producer's `live`
                  alias to the previous published version (or, with a canary in flight, its
                  routing removed) and the consumer service to the previous task definition
                  revision; with --dry-run, print what it would do
  --verify-only   run the post-deploy verification alone against the deployed stack
  --api-url URL   API the verification posts to (default: the stack's execute-api endpoint)
  -h, --help      show this help

Post-deploy verification: mints a 5-minute token from the stack's JWT secret (Secrets Manager),
posts a demo.echo.requested.v1 event, follows GET /v1/jobs/{id} to `succeeded`, checks that the
worker service runs at least one task and that ConsumerLagMessages (DPP/Events) is within bounds;
any failure exits non-zero and says what to look at.

Environment: IMAGE_TAG (default: git commit), HEALTH_TIMEOUT seconds (default: 120),
             DPP_BACKEND_DIR (Node backend to build into dist/backend-lambda.zip),
             GITHUB_REPOSITORY (owner/name, for --bootstrap),
             CANARY_POLL_SECONDS (alarm poll interval during the bake, default: 30),
             VERIFY_TIMEOUT seconds for the job to succeed (default: 180),
             VERIFY_MAX_LAG messages per topic (default: 1000, the lag alarm's threshold).
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
MODE="deploy"
CANARY_PERCENT=""
BAKE_MINUTES=10
VERIFY=true
API_URL_OVERRIDE=""

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
    --canary) [[ $# -ge 2 ]] || die "$1 needs a value"; CANARY_PERCENT="$2"; shift 2 ;;
    --bake) [[ $# -ge 2 ]] || die "$1 needs a value"; BAKE_MINUTES="$2"; shift 2 ;;
    --no-verify) VERIFY=false; shift ;;
    --rollback) MODE="rollback"; shift ;;
    --verify-only) MODE="verify"; shift ;;
    --api-url) [[ $# -ge 2 ]] || die "$1 needs a value"; API_URL_OVERRIDE="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

[[ "${ENVIRONMENT}" =~ ^[a-z]+$ ]] || die "invalid environment '${ENVIRONMENT}'"
[[ "${SUB_ENVIRONMENT}" =~ ^[a-z]+[0-9]{2}$ ]] || die "invalid sub-environment '${SUB_ENVIRONMENT}' (expected e.g. dev01)"
[[ "${REGION}" =~ ^[a-z]{2}-[a-z]+-[0-9]$ ]] || die "invalid region '${REGION}'"
if [[ -n "${CANARY_PERCENT}" ]]; then
  [[ "${CANARY_PERCENT}" =~ ^[0-9]{1,2}$ && "${CANARY_PERCENT}" -ge 1 ]] \
    || die "--canary needs a whole percentage from 1 to 99, got '${CANARY_PERCENT}'"
  [[ "${MODE}" == deploy ]] || die "--canary belongs to a deploy, not to --${MODE/verify/verify-only}"
fi
[[ "${BAKE_MINUTES}" =~ ^[0-9]+$ ]] || die "--bake needs whole minutes, got '${BAKE_MINUTES}'"

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

# Names follow the environments' convention (<environment>-<sub_environment>-dpp-<part>), so
# --rollback and --verify-only work in an incident without terraform or its state.
NAME="${ENVIRONMENT}-${SUB_ENVIRONMENT}-dpp"
PRODUCER_FUNCTION="${NAME}-producer"
BACKEND_FUNCTION="${NAME}-api"
ALIAS="live"
CONSUMER_CLUSTER="${NAME}-consumer"
CONSUMER_SERVICE="${NAME}-consumer"
JWT_SECRET_ID="${NAME}-jwt-secret"
HTTP_API_NAME="${NAME}-http-api"
PRODUCER_ALARMS=("${NAME}-producer-lambda-errors" "${NAME}-producer-lambda-duration-p95")
LAG_NAMESPACE="DPP/Events"
CONSUMER_GROUP="dpp-ml-workers"
CANARY_POLL_SECONDS="${CANARY_POLL_SECONDS:-30}"
VERIFY_TIMEOUT="${VERIFY_TIMEOUT:-180}"
VERIFY_MAX_LAG="${VERIFY_MAX_LAG:-1000}"
NO_ROUTING='{"AdditionalVersionWeights":{}}'

# A step that changes something: printed always, run only outside --dry-run.
step() { # description command...
  local description="$1"
  shift
  if [[ "${DRY_RUN}" == true ]]; then
    log "dry run: would ${description}: $*"
  else
    log "${description}"
    "$@"
  fi
}

# ---- release: the Lambda aliases (Terraform creates them and then leaves version and routing to
# this script, see lifecycle.ignore_changes in modules/lambda-function)

alias_version() { awsr lambda get-alias --function-name "$1" --name "${ALIAS}" --query FunctionVersion --output text; }

# Publishing is idempotent: with $LATEST unchanged since the last version (Terraform publishes on
# every change), Lambda answers with that version instead of creating another.
publish_version() {
  awsr lambda publish-version --function-name "$1" --query Version --output text
}

# The producer alarms as "name<TAB>state" lines; fails when an alarm does not exist, since a
# canary that nothing watches must not be promoted.
alarm_states() {
  local states
  states="$(awsr cloudwatch describe-alarms --alarm-names "${PRODUCER_ALARMS[@]}" \
    --query 'MetricAlarms[].[AlarmName,StateValue]' --output text)"
  local alarm
  for alarm in "${PRODUCER_ALARMS[@]}"; do
    grep -q "^${alarm}[[:space:]]" <<<"${states}" \
      || die "alarm ${alarm} not found: the canary cannot be watched (is the monitoring module applied?)"
  done
  printf '%s\n' "${states}"
}

firing_alarms() { alarm_states | awk -F'\t' '$2 == "ALARM" { print $1 }' | paste -sd ' ' -; }

release_all_at_once() { # function
  local function="$1" old new
  old="$(alias_version "${function}")"
  new="$(publish_version "${function}")"
  if [[ "${new}" == "${old}" ]]; then
    log "release ${function}: alias ${ALIAS} already on version ${new}"
    return
  fi
  step "release ${function}: alias ${ALIAS} version ${old} -> ${new}" \
    awsr lambda update-alias --function-name "${function}" --name "${ALIAS}" \
    --function-version "${new}" --routing-config "${NO_ROUTING}" --output text --query AliasArn
}

release_canary() {
  local function="${PRODUCER_FUNCTION}" old new weight firing deadline
  old="$(alias_version "${function}")"
  new="$(publish_version "${function}")"
  if [[ "${new}" == "${old}" ]]; then
    log "canary ${function}: alias ${ALIAS} already on version ${new}; nothing to release"
    return
  fi
  firing="$(firing_alarms)"
  [[ -z "${firing}" ]] || die "canary ${function}: alarms already firing before the canary (${firing}); fix them first, alias stays on version ${old}"
  weight="$(printf '0.%02d' "${CANARY_PERCENT}")"
  step "canary ${function}: ${CANARY_PERCENT}% of alias ${ALIAS} to version ${new}, the rest stays on ${old}" \
    awsr lambda update-alias --function-name "${function}" --name "${ALIAS}" \
    --function-version "${old}" --routing-config "{\"AdditionalVersionWeights\":{\"${new}\":${weight}}}" \
    --output text --query AliasArn
  deadline=$((SECONDS + BAKE_MINUTES * 60))
  log "canary ${function}: watching ${PRODUCER_ALARMS[*]} for ${BAKE_MINUTES} min (every ${CANARY_POLL_SECONDS}s)"
  while true; do
    firing="$(firing_alarms)"
    if [[ -n "${firing}" ]]; then
      step "canary ${function}: alarm ${firing} fired; rolling back (routing removed, alias stays on version ${old})" \
        awsr lambda update-alias --function-name "${function}" --name "${ALIAS}" \
        --function-version "${old}" --routing-config "${NO_ROUTING}" --output text --query AliasArn
      die "canary of ${function} version ${new} rolled back: ${firing} fired; see the /aws/lambda/${function} logs and the dashboard"
    fi
    log "canary ${function}: alarms OK"
    (( SECONDS < deadline )) || break
    sleep "${CANARY_POLL_SECONDS}"
  done
  step "canary ${function}: promoting version ${new} (alias ${ALIAS} on ${new}, no routing)" \
    awsr lambda update-alias --function-name "${function}" --name "${ALIAS}" \
    --function-version "${new}" --routing-config "${NO_ROUTING}" --output text --query AliasArn
}

# ---- rollback: the producer alias and the consumer service, one command

rollback_producer() {
  local function="${PRODUCER_FUNCTION}" current weights previous version
  current="$(alias_version "${function}")"
  weights="$(awsr lambda get-alias --function-name "${function}" --name "${ALIAS}" \
    --query 'RoutingConfig.AdditionalVersionWeights' --output json)"
  if [[ -n "${weights//[[:space:]]/}" && "${weights//[[:space:]]/}" != "null" && "${weights//[[:space:]]/}" != "{}" ]]; then
    step "rollback ${function}: canary in flight (${weights//[[:space:]]/}); routing removed, alias ${ALIAS} stays on version ${current}" \
      awsr lambda update-alias --function-name "${function}" --name "${ALIAS}" \
      --function-version "${current}" --routing-config "${NO_ROUTING}" --output text --query AliasArn
    return
  fi
  # The previous version is the highest published version below the alias's current one
  # (Terraform publishes one per change and never deletes them).
  [[ "${current}" =~ ^[0-9]+$ ]] || die "rollback ${function}: alias ${ALIAS} not found (or on \$LATEST)"
  previous=0
  for version in $(awsr lambda list-versions-by-function --function-name "${function}" \
    --query 'Versions[].Version' --output text); do
    [[ "${version}" =~ ^[0-9]+$ ]] || continue  # $LATEST
    if (( version < current && version > previous )); then
      previous="${version}"
    fi
  done
  (( previous > 0 )) || die "rollback ${function}: no published version before ${current}"
  step "rollback ${function}: alias ${ALIAS} version ${current} -> ${previous}" \
    awsr lambda update-alias --function-name "${function}" --name "${ALIAS}" \
    --function-version "${previous}" --routing-config "${NO_ROUTING}" --output text --query AliasArn
}

rollback_consumer() {
  local current family revision previous="" previous_revision=0 arn arn_family arn_revision
  current="$(awsr ecs describe-services --cluster "${CONSUMER_CLUSTER}" --services "${CONSUMER_SERVICE}" \
    --query 'services[0].taskDefinition' --output text)"
  [[ "${current}" == *:task-definition/*:* ]] || die "rollback ${CONSUMER_SERVICE}: service not found in cluster ${CONSUMER_CLUSTER}"
  family="${current##*:task-definition/}"
  family="${family%:*}"
  revision="${current##*:}"
  # --family-prefix also matches the -topics and -lag families: keep the exact family only.
  for arn in $(awsr ecs list-task-definitions --family-prefix "${family}" --status ACTIVE \
    --sort DESC --query 'taskDefinitionArns[]' --output text); do
    arn_family="${arn##*:task-definition/}"
    arn_family="${arn_family%:*}"
    arn_revision="${arn##*:}"
    if [[ "${arn_family}" == "${family}" ]] && (( arn_revision < revision && arn_revision > previous_revision )); then
      previous="${arn}"
      previous_revision="${arn_revision}"
    fi
  done
  [[ -n "${previous}" ]] || die "rollback ${CONSUMER_SERVICE}: no ACTIVE task definition of ${family} before revision ${revision}"
  step "rollback ${CONSUMER_SERVICE}: task definition ${family}:${revision} -> ${family}:${previous_revision}" \
    awsr ecs update-service --cluster "${CONSUMER_CLUSTER}" --service "${CONSUMER_SERVICE}" \
    --task-definition "${previous}" --query 'service.taskDefinition' --output text
  step "rollback ${CONSUMER_SERVICE}: waiting for the service to be stable" \
    awsr ecs wait services-stable --cluster "${CONSUMER_CLUSTER}" --services "${CONSUMER_SERVICE}"
}

# ---- post-deploy verification: an event through the pair, the workers, the lag

# Mints an HS256 token (stdlib only) from the secret, posts the event, follows the job. Prints
# the problem on stdout and exits non-zero when the job does not succeed in time.
VERIFY_PROGRAM='
import base64, hashlib, hmac, json, sys, time, urllib.error, urllib.request
api, timeout = sys.argv[1].rstrip("/"), float(sys.argv[2])
secret = sys.stdin.read().strip()
if secret.startswith("{"):  # the console shape {"jwt_secret": "..."}, as the producer accepts
    document = json.loads(secret)
    secret = next(str(document[k]) for k in ("jwt_secret", "JWT_SECRET", "secret") if k in document)
def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
now = int(time.time())
claims = {"sub": "deploy-verify", "scope": "events:demo", "iat": now, "exp": now + 300}
signing = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
token = signing + "." + b64(hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest())
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
def call(method, path, body=None):
    request = urllib.request.Request(api + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")[:300]
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)
event = {"type": "demo.echo.requested.v1", "source": "urn:dpp:deploy-verify",
         "data": {"session_id": "deploy-verify-%d" % now, "message": "post-deploy verification"}}
status, answer = call("POST", "/v1/events", json.dumps(event).encode())
if status != 202:
    print("POST %s/v1/events answered %s: %s; look at the producer (/aws/lambda/...-producer logs, "
          "its JWT_SECRET_ARN and its access to MSK)" % (api, status, answer))
    sys.exit(1)
job_id = answer["id"]
print("event %s accepted on %s[%s]@%s" % (job_id, answer.get("topic"), answer.get("partition"), answer.get("offset")), file=sys.stderr)
deadline, job = time.monotonic() + timeout, {}
while time.monotonic() < deadline:
    status, job = call("GET", "/v1/jobs/" + job_id)
    if status == 200 and job.get("status") == "succeeded":
        print("job %s succeeded" % job_id, file=sys.stderr)
        sys.exit(0)
    if status == 200 and job.get("status") == "dead":
        break
    time.sleep(2)
state = job.get("status", "unknown") if isinstance(job, dict) else "unknown (%s)" % job
error = job.get("error") if isinstance(job, dict) else None
hint = ("the workers did not finish it: look at the worker service events and its /ecs logs, "
        "and at whether the worker reaches its database (DATABASE_URL, DATABASE_SECRET_ARN, the "
        "database security group) and MSK")
lowered = (error or "").lower()
if any(word in lowered for word in ("database", "postgres", "psycopg", "sqlalchemy", "connection refused", "could not connect")):
    hint = "the worker cannot reach its database: look at the database endpoint and security group, DATABASE_URL / DATABASE_SECRET_ARN of the worker task, and the worker logs"
print("job %s is %s after %ss (error: %s); %s" % (job_id, state, int(timeout), error, hint))
sys.exit(1)
'

verify_deploy() { # api-url jwt-secret-id
  local api="$1" secret_id="$2" failures=() problem running topics topic lag start end
  require python3
  log "verify: posting demo.echo.requested.v1 to ${api} and following the job (deadline ${VERIFY_TIMEOUT}s)"
  if ! problem="$(awsr secretsmanager get-secret-value --secret-id "${secret_id}" \
    --query SecretString --output text | python3 -c "${VERIFY_PROGRAM}" "${api}" "${VERIFY_TIMEOUT}")"; then
    failures+=("${problem:-could not read the JWT secret ${secret_id} from Secrets Manager}")
  fi

  running="$(awsr ecs describe-services --cluster "${CONSUMER_CLUSTER}" --services "${CONSUMER_SERVICE}" \
    --query 'services[0].runningCount' --output text)"
  if [[ "${running}" =~ ^[0-9]+$ ]] && (( running >= 1 )); then
    log "verify: ${running} worker task(s) running in ${CONSUMER_SERVICE}"
  else
    failures+=("no worker task running in ${CONSUMER_CLUSTER}/${CONSUMER_SERVICE} (runningCount ${running:-?}); look at the service events (aws ecs describe-services) and the stopped tasks' reasons")
  fi

  start="$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -v-10M +%Y-%m-%dT%H:%M:%SZ)"
  end="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  topics="$(awsr cloudwatch list-metrics --namespace "${LAG_NAMESPACE}" --metric-name ConsumerLagMessages \
    --dimensions "Name=ConsumerGroup,Value=${CONSUMER_GROUP}" \
    --query "Metrics[].Dimensions[?Name=='Topic'].Value[]" --output text)"
  if [[ -z "${topics//[[:space:]]/}" || "${topics}" == "None" ]]; then
    failures+=("no ConsumerLagMessages metric in ${LAG_NAMESPACE} for ${CONSUMER_GROUP}; look at the ${CONSUMER_SERVICE}-lag service (the lag-publisher) and its logs")
  fi
  for topic in ${topics}; do
    [[ "${topic}" == "None" ]] && continue
    lag="$(awsr cloudwatch get-metric-statistics --namespace "${LAG_NAMESPACE}" \
      --metric-name ConsumerLagMessages \
      --dimensions "Name=ConsumerGroup,Value=${CONSUMER_GROUP}" "Name=Topic,Value=${topic}" \
      --start-time "${start}" --end-time "${end}" --period 300 --statistics Maximum \
      --query 'max(Datapoints[].Maximum)' --output text)"
    if [[ ! "${lag}" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
      failures+=("no ConsumerLagMessages datapoint for ${topic} in the last 10 minutes; look at the ${CONSUMER_SERVICE}-lag service (the lag-publisher)")
    elif (( ${lag%.*} > VERIFY_MAX_LAG )); then
      failures+=("lag of ${CONSUMER_GROUP} on ${topic} is ${lag%.*} messages (bound ${VERIFY_MAX_LAG}); look at the worker count, the worker logs and the dashboard")
    else
      log "verify: lag on ${topic} is ${lag%.*} (bound ${VERIFY_MAX_LAG})"
    fi
  done

  if (( ${#failures[@]} > 0 )); then
    local failure
    for failure in "${failures[@]}"; do
      printf 'deploy-serverless: verify FAILED: %s\n' "${failure}" >&2
    done
    exit 1
  fi
  log "verify: the event pair works (event -> worker -> succeeded), workers running, lag within bounds"
}

# ---- preflight: everything that can be missing fails here, before anything is built or applied

if [[ "${MODE}" != deploy ]]; then
  require aws
  awsr sts get-caller-identity --output text >/dev/null 2>&1 \
    || die "no usable AWS credentials (aws sts get-caller-identity failed); configure a profile or OIDC role"
  if [[ "${MODE}" == rollback ]]; then
    log "rollback ${ENVIRONMENT}-${SUB_ENVIRONMENT}: producer alias ${ALIAS} and consumer service"
    rollback_producer
    rollback_consumer
    log "rolled back ${ENVIRONMENT}-${SUB_ENVIRONMENT}; the next deploy releases again (see docs/infra.md 'Canary and rollback')"
  else
    API="${API_URL_OVERRIDE}"
    if [[ -z "${API}" ]]; then
      API="$(awsr apigatewayv2 get-apis --query "Items[?Name=='${HTTP_API_NAME}'].ApiEndpoint | [0]" --output text)"
      [[ -n "${API}" && "${API}" != "None" ]] || die "HTTP API ${HTTP_API_NAME} not found in ${REGION}"
    fi
    verify_deploy "${API}" "${JWT_SECRET_ID}"
  fi
  exit 0
fi

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
  if [[ -n "${CANARY_PERCENT}" ]]; then
    log "dry run: would publish a version of ${PRODUCER_FUNCTION}, send ${CANARY_PERCENT}% of alias ${ALIAS} to it, watch ${PRODUCER_ALARMS[*]} for ${BAKE_MINUTES} min, then promote it or roll back"
  else
    log "dry run: would move alias ${ALIAS} of ${PRODUCER_FUNCTION} and ${BACKEND_FUNCTION} to their new versions"
  fi
  if [[ "${VERIFY}" == true ]]; then
    log "dry run: would verify: post demo.echo.requested.v1, follow the job to succeeded, check the workers of ${CONSUMER_SERVICE} and the lag of ${CONSUMER_GROUP}"
  fi
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

# Terraform published the new versions; the aliases move here (all at once, or a canary).
release_all_at_once "$(tf_out backend_function_name)"
if [[ -n "${CANARY_PERCENT}" ]]; then
  release_canary
else
  release_all_at_once "$(tf_out producer_function_name)"
fi

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
if [[ "${VERIFY}" == true ]]; then
  verify_deploy "${API_URL_OVERRIDE:-${API_ENDPOINT}}" "$(tf_out jwt_secret_arn)"
fi
log "deployed ${ENVIRONMENT}-${SUB_ENVIRONMENT}: site ${WEBSITE_URL}, API ${API_URL}"
