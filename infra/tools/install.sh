#!/usr/bin/env bash
# Install the offline infrastructure checkers into ~/.cache/dpp/tools/bin.
#
# Idempotent and quiet: prints nothing when everything is already there.
#   tflint:     go install from the Go module proxy
#   actionlint: go install from the Go module proxy
#   aws-lambda-rie: the AWS Lambda Runtime Interface Emulator, go install from the Go module
#               proxy (it publishes no tagged module version; the pseudo-version is pinned)
#   ShellCheck: the Debian package (apt-get), linked into the tools bin
#   checkov:    its own isolated environment (uv tool), never the project's lock
#   terraform:  must already be on PATH (the machine image ships 1.11.x); when it is not,
#               OpenTofu is built with go install and exposed as `terraform`.
# The AWS provider is NOT built here (it takes too long for CI); see build-aws-provider.sh.
set -euo pipefail

TOOLS_HOME="${DPP_TOOLS_HOME:-${HOME}/.cache/dpp/tools}"
BIN="${TOOLS_HOME}/bin"
TFLINT_VERSION="v0.64.0"
ACTIONLINT_VERSION="v1.7.12"
OPENTOFU_VERSION="v1.10.10"
RIE_VERSION="v0.0.0-20261030222936-bef5c4ba774d"
CHECKOV_VERSION="3.3.30"
mkdir -p "${BIN}"

log() { printf 'install.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required to install the infra tools ($2)"; }

# Quiet unless something fails: capture output, show it only on error.
run_quiet() {
  local out rc=0
  out="$(mktemp)"
  "$@" >"${out}" 2>&1 || rc=$?
  if [[ ${rc} -ne 0 ]]; then
    cat "${out}" >&2
    rm -f "${out}"
    die "command failed (${rc}): $*"
  fi
  rm -f "${out}"
}

go_tool() { # name module version
  local name="$1" module="$2" version="$3" stamp="${BIN}/.$1.version"
  if [[ -x "${BIN}/${name}" && "$(cat "${stamp}" 2>/dev/null)" == "${version}" ]]; then
    return 0
  fi
  need go "install Go >= 1.24"
  run_quiet env GOBIN="${BIN}" GOFLAGS="-buildvcs=false -trimpath" \
    go install -ldflags="-s -w" "${module}@${version}"
  printf '%s' "${version}" >"${stamp}"
}

go_tool tflint github.com/terraform-linters/tflint "${TFLINT_VERSION}"
go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "${ACTIONLINT_VERSION}"
go_tool aws-lambda-rie github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie "${RIE_VERSION}"

if ! command -v terraform >/dev/null 2>&1 && [[ ! -x "${BIN}/terraform" ]]; then
  # No terraform binary on this machine and no HashiCorp release channel reachable:
  # OpenTofu is a drop-in replacement for fmt/validate/plan and builds from the proxy.
  go_tool tofu github.com/opentofu/opentofu/cmd/tofu "${OPENTOFU_VERSION}"
  ln -sf "${BIN}/tofu" "${BIN}/terraform"
fi

if ! command -v shellcheck >/dev/null 2>&1; then
  need apt-get "shellcheck comes from Debian"
  if [[ "$(id -u)" -ne 0 ]]; then
    die "shellcheck is missing; run: sudo apt-get install -y shellcheck"
  fi
  run_quiet apt-get update
  run_quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends shellcheck
fi
if [[ ! -e "${BIN}/shellcheck" ]]; then
  ln -sf "$(command -v shellcheck)" "${BIN}/shellcheck"
fi

if [[ ! -x "${BIN}/checkov" || "$(cat "${BIN}/.checkov.version" 2>/dev/null)" != "${CHECKOV_VERSION}" ]]; then
  need uv "checkov is installed with 'uv tool install' into an isolated environment"
  run_quiet env UV_TOOL_DIR="${TOOLS_HOME}/uv-tools" UV_TOOL_BIN_DIR="${BIN}" \
    uv tool install --force --python 3.11 "checkov==${CHECKOV_VERSION}"
  printf '%s' "${CHECKOV_VERSION}" >"${BIN}/.checkov.version"
fi
