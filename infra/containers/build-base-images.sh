#!/usr/bin/env bash
# Build the stand-ins for the public base images that no registry here can serve, with podman:
#   docker.io/library/python:3.11-slim-bookworm   Debian 12 by debootstrap, python3.11, pip, the
#                                                 machine's CA bundle (SSL_CERT_FILE)
#   docker.io/apache/kafka:4.1.1                  the sandbox's Maven Central jars on Java 17,
#                                                 honouring the official image's KAFKA_* contract
#   localhost/dpp-standin/postgres:15-bookworm    Debian's PostgreSQL with the official image's
#                                                 POSTGRES_* contract (compose.rehearsal.yml)
#   public.ecr.aws/lambda/python:3.13             Debian 13 (trixie) by debootstrap, python3.13,
#                                                 and in /var/runtime the runtime's own modules
#                                                 (awslambdaric, boto3: the workspace's locked
#                                                 versions, cp313 wheels); the Lambda rehearsal
#                                                 runs the producer zip in it under aws-lambda-rie
# and write the podman settings this machine needs (runc, cgroupfs, ulimits no higher than the
# hard limits) to a containers.conf of our own, used only through CONTAINERS_CONF.
#
#   infra/containers/build-base-images.sh          build what is missing or out of date (quiet)
#   infra/containers/build-base-images.sh lambda   only the Lambda runtime stand-in
#   infra/containers/build-base-images.sh --env    print `export CONTAINERS_CONF=...` to eval
#
# Idempotent: each image carries a label with the digest of its inputs (this folder, the apt
# mirror, the CA bundle, the Kafka jars) and is rebuilt only when that digest changes.
# Must run as root (debootstrap); never touches /etc/containers or ~/.config/containers.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
CACHE="${DPP_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/dpp}"
STATE="${CACHE}/containers"
KAFKA_VERSION="4.1.1"
KAFKA_TOOLS_LIBS="${CACHE}/kafka-${KAFKA_VERSION}/tools-libs"
HOST_CA_BUNDLE="${DPP_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
LABEL="org.dpp-events.standin-inputs"

PYTHON_IMAGE="docker.io/library/python:3.11-slim-bookworm"
KAFKA_IMAGE="docker.io/apache/kafka:${KAFKA_VERSION}"
POSTGRES_IMAGE="localhost/dpp-standin/postgres:15-bookworm"
# The Lambda runtime the producer's Terraform declares (python3.13, on Amazon Linux 2023, glibc
# 2.34); Debian 13's glibc is newer (2.41), so `dpp producer package` targets manylinux_2_34 and
# the rehearsal checks the zip's wheel tags against 2.34 (what trixie would load, AL2023 might not).
LAMBDA_PYTHON_VERSION="3.13"
LAMBDA_PYTHON_IMAGE="public.ecr.aws/lambda/python:${LAMBDA_PYTHON_VERSION}"
# What the managed runtime ships besides the zip (tests/rehearsal/lambda/emulator.py lists the
# same names for the native 3.11 runtime).
LAMBDA_RUNTIME_DISTRIBUTIONS="awslambdaric simplejson snapshot-restore-py boto3 botocore s3transfer jmespath python-dateutil six urllib3"

log() { printf 'build-base-images: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Quiet unless something fails: capture output, show its tail only on error.
run_quiet() {
  local out rc=0
  out="$(mktemp)"
  "$@" >"${out}" 2>&1 || rc=$?
  if [[ ${rc} -ne 0 ]]; then
    tail -n 60 "${out}" >&2
    rm -f "${out}"
    die "command failed (${rc}): $*"
  fi
  rm -f "${out}"
}

write_containers_conf() {
  # runc because crun refuses hybrid cgroup hierarchies; cgroupfs because podman may run
  # without a systemd session; explicit ulimits because the runtime cannot raise them above
  # the caller's hard limit (podman's default asks for 1048576 open files: EPERM otherwise).
  local nofile nproc
  nofile="$(ulimit -Hn)"; [[ "${nofile}" == unlimited || "${nofile}" -gt 65536 ]] && nofile=65536
  nproc="$(ulimit -Hu)"; [[ "${nproc}" == unlimited || "${nproc}" -gt 32768 ]] && nproc=32768
  mkdir -p "${STATE}"
  local conf="${STATE}/containers.conf" tmp
  tmp="$(mktemp "${STATE}/.containers.conf.XXXXXX")"
  cat >"${tmp}" <<EOF
# Written by infra/containers/build-base-images.sh; used only via CONTAINERS_CONF.
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  if cmp -s "${tmp}" "${conf}"; then rm -f "${tmp}"; else mv "${tmp}" "${conf}"; fi
}

containers_conf() {
  # A user's own CONTAINERS_CONF wins; ours is only the default for these scripts and tests.
  if [[ -n "${CONTAINERS_CONF:-}" ]]; then
    printf '%s\n' "${CONTAINERS_CONF}"
  else
    printf '%s\n' "${STATE}/containers.conf"
  fi
}

if [[ "${1:-}" == "--env" ]]; then
  write_containers_conf
  printf 'export CONTAINERS_CONF=%q\n' "$(containers_conf)"
  exit 0
fi
ONLY=""
if [[ "${1:-}" == "lambda" ]]; then ONLY="lambda"; shift; fi
[[ $# -eq 0 ]] || die "usage: $0 [--env | lambda]"

[[ "$(id -u)" -eq 0 ]] || die "run as root (debootstrap and rootful podman need it)"
for tool in podman debootstrap runc; do
  command -v "${tool}" >/dev/null 2>&1 || die "${tool} is missing: apt-get install -y podman runc debootstrap"
done
[[ -r "${HOST_CA_BUNDLE}" ]] || die "no CA bundle at ${HOST_CA_BUNDLE} (set DPP_CA_BUNDLE)"
write_containers_conf
export CONTAINERS_CONF
CONTAINERS_CONF="$(containers_conf)"

apt_mirror() {
  # The Debian mirror apt uses here (deb822 first, then the one-line format).
  local uri=""
  if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
    uri="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
  fi
  if [[ -z "${uri}" && -r /etc/apt/sources.list ]]; then
    uri="$(awk '/^deb / && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)"
  fi
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

security_mirror() {
  local uri=""
  if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
    uri="$(awk '/^URIs:/ && $2 ~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
  fi
  printf '%s\n' "${uri:-http://deb.debian.org/debian-security}"
}

WORKDIRS=()
trap 'rm -rf "${WORKDIRS[@]}"' EXIT
new_workdir() { # name -> WORKDIR, a scratch folder removed when the script exits
  WORKDIR="$(mktemp -d "/var/tmp/dpp-$1.XXXXXX")"
  WORKDIRS+=("${WORKDIR}")
}

digest_of() { # files/dirs and strings -> one sha256
  {
    for item in "$@"; do
      if [[ -d "${item}" ]]; then
        (cd "${item}" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
      elif [[ -f "${item}" ]]; then
        sha256sum <"${item}"
      else
        printf '%s\n' "${item}"
      fi
    done
  } | sha256sum | cut -c1-32
}

image_is_current() { # image digest
  local have
  have="$(podman image inspect --format "{{ index .Labels \"${LABEL}\" }}" "$1" 2>/dev/null || true)"
  [[ "${have}" == "$2" ]]
}

build_python_base() {
  local mirror security digest work
  mirror="$(apt_mirror)"
  security="$(security_mirror)"
  # The recipe is this function's own text, so editing the rest of the script rebuilds nothing.
  digest="$(digest_of "$(declare -f build_python_base)" "${mirror}" "${security}" "${HOST_CA_BUNDLE}" \
    /usr/local/share/ca-certificates)"
  image_is_current "${PYTHON_IMAGE}" "${digest}" && return 0
  log "debootstrap Debian 12 with python3.11 from ${mirror} (about 2 minutes, once)"
  new_workdir python-base; work="${WORKDIR}"
  mkdir -p "${STATE}/debs"
  run_quiet debootstrap --variant=minbase --include=python3.11,python3-pip,ca-certificates \
    --cache-dir="${STATE}/debs" bookworm "${work}/rootfs" "${mirror}"
  local rootfs="${work}/rootfs"
  # The official image's layout: python, pip and their short names in /usr/local/bin, and no
  # PEP 668 marker (the image's Python is the application's to install into).
  ln -sf /usr/bin/python3.11 "${rootfs}/usr/local/bin/python3.11"
  ln -sf python3.11 "${rootfs}/usr/local/bin/python3"
  ln -sf python3.11 "${rootfs}/usr/local/bin/python"
  ln -sf /usr/bin/pip3 "${rootfs}/usr/local/bin/pip3"
  ln -sf pip3 "${rootfs}/usr/local/bin/pip"
  rm -f "${rootfs}"/usr/lib/python3*/EXTERNALLY-MANAGED
  # The machine's CA bundle (it may hold a TLS-inspecting proxy's CA) replaces Debian's, and
  # its local CAs go where update-ca-certificates keeps them when a later apt run rebuilds it.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "${rootfs}/usr/local/share/ca-certificates/"
  fi
  cp "${HOST_CA_BUNDLE}" "${rootfs}/etc/ssl/certs/ca-certificates.crt"
  rm -f "${rootfs}/etc/apt/sources.list"
  cat >"${rootfs}/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${security}
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Like the slim images: no apt lists, no downloaded packages, no docs (the man folders stay:
  # openjdk's postinst links into man1 and fails without it).
  rm -rf "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/cache/apt/*.bin \
    "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/usr/share/doc/*
  local python_version
  python_version="$(chroot "${rootfs}" python3.11 -c 'import platform; print(platform.python_version())')"
  tar -C "${rootfs}" --numeric-owner -cf "${work}/rootfs.tar" .
  run_quiet podman import \
    --change "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV LANG=C.UTF-8" \
    --change "ENV PYTHON_VERSION=${python_version}" \
    --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
    --change "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt" \
    --change "LABEL ${LABEL}=${digest}" \
    --change "LABEL org.opencontainers.image.description=stand-in for ${PYTHON_IMAGE} (debootstrap)" \
    --change 'CMD ["python3"]' \
    "${work}/rootfs.tar" "${PYTHON_IMAGE}"
}

kafka_jars() {
  # The sandbox's jars (dpp_cli.sandbox.distribution, shared cache), plus kafka-tools for the
  # official image's bin/ scripts (the health check runs kafka-broker-api-versions.sh).
  (cd "${ROOT}" && uv run --frozen --quiet python -c \
    'from dpp_cli.sandbox.distribution import kafka_libs; print(kafka_libs())')
  if [[ ! -f "${KAFKA_TOOLS_LIBS}/.complete" ]]; then
    command -v mvn >/dev/null 2>&1 || die "mvn is missing: apt-get install -y maven"
    mkdir -p "${KAFKA_TOOLS_LIBS}"
    # Run outside the project so no pom.xml nearby changes what Maven resolves.
    (cd "${STATE}" && run_quiet mvn -q -B dependency:copy \
      "-Dartifact=org.apache.kafka:kafka-tools:${KAFKA_VERSION}" \
      "-DoutputDirectory=${KAFKA_TOOLS_LIBS}")
    printf '%s\n' "${KAFKA_VERSION}" >"${KAFKA_TOOLS_LIBS}/.complete"
  fi
}

build_kafka() {
  local libs digest work
  libs="$(kafka_jars | tail -n 1)"
  digest="$(digest_of "${HERE}/kafka" "$(podman image inspect --format '{{.Id}}' "${PYTHON_IMAGE}")" \
    "${libs}/.complete" "${KAFKA_TOOLS_LIBS}/.complete")"
  image_is_current "${KAFKA_IMAGE}" "${digest}" && return 0
  log "building the ${KAFKA_IMAGE} stand-in from the Maven Central jars"
  new_workdir kafka-image; work="${WORKDIR}"
  cp -r "${HERE}/kafka/." "${work}/"
  mkdir -p "${work}/libs"
  cp "${libs}"/*.jar "${KAFKA_TOOLS_LIBS}"/*.jar "${work}/libs/"
  run_quiet podman build --network host --label "${LABEL}=${digest}" \
    --build-arg "KAFKA_VERSION=${KAFKA_VERSION}" -t "${KAFKA_IMAGE}" "${work}"
}

build_postgres() {
  local digest
  digest="$(digest_of "${HERE}/postgres" "$(podman image inspect --format '{{.Id}}' "${PYTHON_IMAGE}")")"
  image_is_current "${POSTGRES_IMAGE}" "${digest}" && return 0
  log "building ${POSTGRES_IMAGE} (Debian's PostgreSQL, the official image's POSTGRES_* contract)"
  run_quiet podman build --network host --label "${LABEL}=${digest}" \
    -t "${POSTGRES_IMAGE}" "${HERE}/postgres"
}

lambda_runtime_requirements() {
  # The workspace's locked versions of the runtime's own distributions, one `name==version` a line.
  local names
  names="$(tr ' ' '|' <<<"${LAMBDA_RUNTIME_DISTRIBUTIONS}")"
  (cd "${ROOT}" && uv export --frozen --no-hashes --no-header --no-annotate --all-packages \
    --all-groups --no-emit-workspace) | grep -E "^(${names})==" | sed 's/ *;.*//' | LC_ALL=C sort
}

build_lambda_python() {
  local mirror requirements digest work arch
  mirror="$(apt_mirror)"
  requirements="$(lambda_runtime_requirements)"
  [[ "$(wc -l <<<"${requirements}")" -eq "$(wc -w <<<"${LAMBDA_RUNTIME_DISTRIBUTIONS}")" ]] ||
    die "uv.lock lacks some of: ${LAMBDA_RUNTIME_DISTRIBUTIONS}"
  digest="$(digest_of "$(declare -f build_lambda_python)" "${mirror}" "${HOST_CA_BUNDLE}" "${requirements}")"
  image_is_current "${LAMBDA_PYTHON_IMAGE}" "${digest}" && return 0
  command -v uv >/dev/null 2>&1 || die "uv is missing (./dev installs it)"
  log "debootstrap Debian 13 with python${LAMBDA_PYTHON_VERSION} from ${mirror} (about 2 minutes, once)"
  new_workdir lambda-python; work="${WORKDIR}"
  mkdir -p "${STATE}/debs-trixie"
  run_quiet debootstrap --variant=minbase --include="python${LAMBDA_PYTHON_VERSION},ca-certificates" \
    --cache-dir="${STATE}/debs-trixie" trixie "${work}/rootfs" "${mirror}"
  local rootfs="${work}/rootfs"
  # The official image's layout: the task in /var/task, the runtime's modules in /var/runtime.
  mkdir -p "${rootfs}/var/task" "${rootfs}/var/runtime"
  arch="$(uname -m)"
  printf '%s\n' "${requirements}" >"${work}/runtime.txt"
  run_quiet uv pip install --target "${rootfs}/var/runtime" --python-version "${LAMBDA_PYTHON_VERSION}" \
    --python-platform "${arch}-manylinux_2_34" --only-binary :all: --no-deps --no-compile \
    -r "${work}/runtime.txt"
  # The managed runtime ships its modules compiled; the read-only task cannot be written to.
  run_quiet chroot "${rootfs}" "python${LAMBDA_PYTHON_VERSION}" -m compileall -q /var/runtime
  ln -sf "/usr/bin/python${LAMBDA_PYTHON_VERSION}" "${rootfs}/usr/local/bin/python3"
  cp "${HOST_CA_BUNDLE}" "${rootfs}/etc/ssl/certs/ca-certificates.crt"
  rm -rf "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/cache/apt/*.bin \
    "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/usr/share/doc/*
  local python_version
  python_version="$(chroot "${rootfs}" "python${LAMBDA_PYTHON_VERSION}" -c 'import platform; print(platform.python_version())')"
  tar -C "${rootfs}" --numeric-owner -cf "${work}/rootfs.tar" .
  run_quiet podman import \
    --change "ENV PATH=/usr/local/bin:/usr/bin:/bin" \
    --change "ENV LANG=en_US.UTF-8" \
    --change "ENV LAMBDA_TASK_ROOT=/var/task" \
    --change "ENV LAMBDA_RUNTIME_DIR=/var/runtime" \
    --change "ENV PYTHON_VERSION=${python_version}" \
    --change "WORKDIR /var/task" \
    --change "LABEL ${LABEL}=${digest}" \
    --change "LABEL org.opencontainers.image.description=stand-in for ${LAMBDA_PYTHON_IMAGE} (debootstrap trixie)" \
    --change "CMD [\"python${LAMBDA_PYTHON_VERSION}\"]" \
    "${work}/rootfs.tar" "${LAMBDA_PYTHON_IMAGE}"
}

if [[ "${ONLY}" == "lambda" ]]; then
  build_lambda_python
  exit 0
fi
# The Lambda stand-in shares nothing with the others: it builds while they do.
# A background subshell runs no EXIT trap of ours: it removes its own scratch folder.
(trap 'rm -rf "${WORKDIRS[@]}"' EXIT; build_lambda_python) &
lambda_build=$!
build_python_base
# The two service stand-ins only share the base: build them side by side (apt downloads overlap).
(trap 'rm -rf "${WORKDIRS[@]}"' EXIT; build_kafka) &
kafka_build=$!
build_postgres &
postgres_build=$!
status=0
wait "${kafka_build}" || status=$?
wait "${postgres_build}" || status=$?
wait "${lambda_build}" || status=$?
exit "${status}"
