#!/usr/bin/env bash
# Build the hashicorp/aws Terraform provider from the Go module proxy and place it in a
# filesystem mirror that terraform can use without the Terraform registry.
#
# Usage: infra/tools/build-aws-provider.sh
# Env:   DPP_TOOLS_HOME   (default ~/.cache/dpp/tools)
#        GOMODCACHE / GOCACHE default to persistent dirs under DPP_TOOLS_HOME/go-provider, so an
#        interrupted build resumes where it stopped (the cold build takes well over 2 h on 2 cores).
#        AWS_PROVIDER_MODULE_VERSION  Go module (pseudo-)version to build
#        AWS_PROVIDER_VERSION         version number the mirror advertises to terraform
set -euo pipefail

TOOLS_HOME="${DPP_TOOLS_HOME:-${HOME}/.cache/dpp/tools}"
# The provider repo tags v5/v6 releases without a /vN module suffix, so the proxy only
# serves pseudo-versions. This one is the main-branch commit of 2026-06-02 (CHANGELOG: 6.48.0
# unreleased), advertised to terraform as 6.48.0.
MODULE_VERSION="${AWS_PROVIDER_MODULE_VERSION:-v1.60.1-0.20260602190131-5f2286d6d836}"
PROVIDER_VERSION="${AWS_PROVIDER_VERSION:-6.48.0}"
PLUGIN_DIR="${TOOLS_HOME}/terraform-plugins/registry.terraform.io/hashicorp/aws/${PROVIDER_VERSION}/linux_amd64"
BINARY="${PLUGIN_DIR}/terraform-provider-aws_v${PROVIDER_VERSION}"

if [[ -x "${BINARY}" ]]; then
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "error: go is required to build the AWS provider" >&2; exit 127; }

export GOMODCACHE="${GOMODCACHE:-${TOOLS_HOME}/go-provider/mod}"
export GOCACHE="${GOCACHE:-${TOOLS_HOME}/go-provider/cache}"
mkdir -p "${PLUGIN_DIR}" "${GOMODCACHE}" "${GOCACHE}"
started=${SECONDS}
workdir="$(mktemp -d)"
trap 'rm -rf "${workdir}"' EXIT
echo "building github.com/hashicorp/terraform-provider-aws@${MODULE_VERSION} (this takes a long time)" >&2
GOBIN="${workdir}" GOFLAGS="-buildvcs=false -trimpath" \
  go install -ldflags="-s -w" "github.com/hashicorp/terraform-provider-aws@${MODULE_VERSION}"
mv "${workdir}/terraform-provider-aws" "${BINARY}.tmp"
mv "${BINARY}.tmp" "${BINARY}"
echo "installed ${BINARY} after $(( (SECONDS - started) / 60 )) min" >&2
