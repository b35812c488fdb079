#!/usr/bin/env bash
# Remove the ECS-era stack (ECS services, ALB, RDS, NAT gateway, VPC...) of one sub-environment
# while keeping every Route 53 record and hosted zone, as the migration guide demands.
#
# How: the legacy Terraform state is listed; Route 53 resources are first forgotten
# (`terraform state rm`, which leaves them untouched in AWS) so that the destroy that follows
# cannot reach them, not even as dependents of an ALB. --dry-run only lists.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: serverless-migration-cleanup.sh [-e ENV] [-s SUB_ENV] [--legacy-dir DIR] [--dry-run] [--yes] [-h]

  -e ENV            environment (default: dev)
  -s SUB_ENV        sub-environment = terraform workspace of the legacy stack (default: dev01)
  --legacy-dir DIR  Terraform directory of the ECS-era stack
                    (default: $DPP_LEGACY_TF_DIR or terraform/environments/ENV)
  --dry-run         list what would be destroyed and what is kept; change nothing
  --yes             do not ask for confirmation (required when stdin is not a terminal)
  -h, --help        show this help
USAGE
}

die() { printf 'serverless-migration-cleanup: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'serverless-migration-cleanup: %s\n' "$*" >&2; }

ENVIRONMENT="dev"
SUB_ENVIRONMENT="dev01"
DRY_RUN=false
ASSUME_YES=false
LEGACY_DIR="${DPP_LEGACY_TF_DIR:-}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    -e|--environment) [[ $# -ge 2 ]] || die "$1 needs a value"; ENVIRONMENT="$2"; shift 2 ;;
    -s|--sub-environment) [[ $# -ge 2 ]] || die "$1 needs a value"; SUB_ENVIRONMENT="$2"; shift 2 ;;
    --legacy-dir) [[ $# -ge 2 ]] || die "$1 needs a value"; LEGACY_DIR="$2"; shift 2 ;;
    --dry-run) DRY_RUN=true; shift ;;
    -y|--yes) ASSUME_YES=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

[[ "${ENVIRONMENT}" =~ ^[a-z]+$ ]] || die "invalid environment '${ENVIRONMENT}'"
[[ "${SUB_ENVIRONMENT}" =~ ^[a-z]+[0-9]{2}$ ]] || die "invalid sub-environment '${SUB_ENVIRONMENT}'"
LEGACY_DIR="${LEGACY_DIR:-terraform/environments/${ENVIRONMENT}}"
[[ -d "${LEGACY_DIR}" ]] || die "legacy Terraform directory '${LEGACY_DIR}' not found (use --legacy-dir)"

for tool in terraform aws; do
  command -v "${tool}" >/dev/null 2>&1 || die "required tool '${tool}' is not on PATH"
done
aws sts get-caller-identity --output text >/dev/null 2>&1 \
  || die "no usable AWS credentials (aws sts get-caller-identity failed)"

tf() { terraform -chdir="${LEGACY_DIR}" "$@"; }

tf init -input=false >/dev/null
# Select only: a missing workspace means there is nothing to clean, never create one.
tf workspace select "${SUB_ENVIRONMENT}" >/dev/null \
  || die "workspace '${SUB_ENVIRONMENT}' does not exist in ${LEGACY_DIR}"

keep=()
destroy=()
while IFS= read -r address; do
  [[ -n "${address}" ]] || continue
  case "${address}" in
    data.*|*.data.*) ;;  # data sources own nothing
    aws_route53_*|*.aws_route53_*) keep+=("${address}") ;;
    *) destroy+=("${address}") ;;
  esac
done < <(tf state list)

printf 'Kept (Route 53, never touched): %d\n' "${#keep[@]}"
for address in "${keep[@]}"; do printf '  keep     %s\n' "${address}"; done
printf 'To destroy in %s-%s: %d\n' "${ENVIRONMENT}" "${SUB_ENVIRONMENT}" "${#destroy[@]}"
for address in "${destroy[@]}"; do printf '  destroy  %s\n' "${address}"; done

if [[ "${DRY_RUN}" == true ]]; then
  log "dry run: nothing changed"
  exit 0
fi
if [[ ${#destroy[@]} -eq 0 ]]; then
  log "nothing to destroy"
  exit 0
fi

if [[ "${ASSUME_YES}" == false ]]; then
  [[ -t 0 ]] || die "refusing to destroy without confirmation: stdin is not a terminal, pass --yes"
  printf 'Type the sub-environment name (%s) to destroy these resources: ' "${SUB_ENVIRONMENT}" >&2
  read -r answer
  [[ "${answer}" == "${SUB_ENVIRONMENT}" ]] || die "confirmation did not match; nothing changed"
fi

if [[ ${#keep[@]} -gt 0 ]]; then
  log "forgetting ${#keep[@]} Route 53 resources in the legacy state (they stay in AWS)"
  tf state rm "${keep[@]}" >/dev/null
fi
log "destroying the ECS-era resources"
tf destroy -input=false -auto-approve
log "done: Route 53 records were kept; point them at the new stack (guide step 3)"
