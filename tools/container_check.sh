#!/usr/bin/env bash
# Build the Dockerfile with podman and run the image the way Kubernetes/OpenShift would: a random
# UID in group 0, read-only root filesystem, no capabilities, no privilege escalation, /tmp as the
# only declared writable volume. Check /readyz and a prediction from the host (127.0.0.1 only),
# that the filesystem really is read-only, and that SIGTERM stops it cleanly; print image size,
# build time and start-to-ready time.
#
# No registry can be pulled here: the base image is built from Debian packages with debootstrap
# and imported into podman, cached (keyed by its inputs) between runs on the same machine.
#
# If podman cannot be installed or cannot start a container, this fails with the reason when
# CI=true and is skipped (exit 0) with the reason otherwise.
#
# Environment: PIPESERVE_CI_CACHE (default /var/tmp/pipeserve-ci) holds containers.conf, the base
# rootfs tarball and the last measurements; PIPESERVE_BASE_SUITE (default bookworm: Python 3.11).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${PIPESERVE_CI_CACHE:-/var/tmp/pipeserve-ci}
SUITE=${PIPESERVE_BASE_SUITE:-bookworm}
BASE_PACKAGES=python3,python3-venv,ca-certificates
IMAGE=localhost/pipeserve:check
LABEL=org.pipeserve.check=1
HOST_CA=/etc/ssl/certs/ca-certificates.crt

log() { printf '[container] %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

unavailable() {
    if [[ ${CI:-} == true ]]; then
        log "FAILED: $* (CI=true: the container stage must run here)"
        exit 1
    fi
    log "SKIPPED: $* (set CI=true to make this a failure)"
    exit 0
}

install_tools() {
    local missing=()
    command -v podman > /dev/null || missing+=(podman)
    command -v runc > /dev/null || missing+=(runc)
    command -v debootstrap > /dev/null || missing+=(debootstrap)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get > /dev/null; then
        unavailable "${missing[*]} missing and cannot be installed (needs root and apt-get)"
    fi
    log "installing ${missing[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q "${missing[@]}" > "$CACHE/apt.log" 2>&1; then
        apt-get update -q >> "$CACHE/apt.log" 2>&1 || true
        apt-get install -y -q "${missing[@]}" >> "$CACHE/apt.log" 2>&1 \
            || unavailable "apt-get install ${missing[*]} failed (see $CACHE/apt.log)"
    fi
}

# The Debian mirror this machine's apt already uses (never a hard-coded host): sets MIRROR.
apt_mirror() {
    local uri
    uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' \
        | grep -v -- '-security' | head -n 1 || true)
    [[ -n $uri ]] || uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        | awk '$2 !~ /^\[/ {print $2} $2 ~ /^\[/ {print $3}' | grep -v -- '-security' | head -n 1 || true)
    [[ -n $uri ]] || unavailable "no Debian mirror found in /etc/apt sources for debootstrap"
    MIRROR=$uri
}

# A minimal Debian with Python and venv, imported as a local image. Its tag is a hash of every
# input, so a change of suite, packages or this recipe builds a new one; the same inputs reuse the
# image (or the cached tarball, if podman's storage was reset). Sets BASE.
base_image() {
    local recipe key tag tarball rootfs
    recipe="debootstrap --variant=minbase --include=$BASE_PACKAGES $SUITE; trim v1"
    key=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
    tag=localhost/pipeserve-base:$SUITE-$key
    tarball=$CACHE/base-$SUITE-$key.tar
    if podman image exists "$tag"; then
        log "base image $tag (cached)"
    else
        if [[ ! -s $tarball ]]; then
            rootfs=$CACHE/rootfs-$key
            rm -rf "$rootfs"
            apt_mirror
            log "debootstrap $SUITE ($BASE_PACKAGES) from $MIRROR"
            debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" \
                "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 \
                || unavailable "debootstrap failed (see $CACHE/debootstrap.log)"
            rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* \
                "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
                "$rootfs"/var/log/*
            tar -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
            rm -rf "$rootfs"
        fi
        log "importing $tarball as $tag"
        podman import --change 'CMD ["/bin/bash"]' "$tarball" "$tag" > /dev/null
    fi
    BASE=$tag
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

CONTAINER=
cleanup() {
    if [[ -n $CONTAINER ]]; then
        podman rm --force --time 0 "$CONTAINER" > /dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

mkdir -p "$CACHE"
install_tools

# crun fails on this machine's hybrid cgroups and forced ulimits fail with both runtimes.
cat > "$CACHE/containers.conf" << 'EOF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF=$CACHE/containers.conf

podman info > "$CACHE/podman-info.log" 2>&1 \
    || unavailable "podman cannot start: $(tail -n 1 "$CACHE/podman-info.log")"

compgen -G 'models/*/bundle.json' > /dev/null \
    || { log "FAILED: no bundle in models/: run 'make models' (dvc repro) first"; exit 1; }

base_image
podman run --rm --pull=never --network=none "$BASE" /bin/true > "$CACHE/runtime.log" 2>&1 \
    || unavailable "the container runtime cannot start a container: $(tail -n 1 "$CACHE/runtime.log")"

# pip inside the build trusts this machine's CA bundle; both files are mounted, not copied, so
# they are in no layer.
printf '[global]\ncert = /etc/pipserve-build-ca.crt\n' > "$CACHE/pip.conf"
log "building $IMAGE (BASE_IMAGE=$BASE)"
build_start=$(now)
podman build --pull=never --format docker --label "$LABEL" \
    --build-arg BASE_IMAGE="$BASE" \
    --build-arg PIPESERVE_SOURCE_REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
    --volume "$HOST_CA:/etc/pipserve-build-ca.crt:ro" \
    --volume "$CACHE/pip.conf:/etc/pip.conf:ro" \
    --tag "$IMAGE" . > "$CACHE/build.log" 2>&1 \
    || { tail -n 40 "$CACHE/build.log" >&2; log "FAILED: podman build (log: $CACHE/build.log)"; exit 1; }
build_seconds=$(elapsed "$build_start" "$(now)")
# Superseded layers of this check would pile up run after run; those younger than three days stay
# as the build cache.
podman image prune --force --filter "label=$LABEL" --filter until=72h > /dev/null 2>&1 || true
size_bytes=$(podman image inspect --format '{{.Size}}' "$IMAGE")
size_mb=$(awk -v b="$size_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')

uid=$(shuf -i 100000-1999999999 -n 1)
port=$(free_port)
base=http://127.0.0.1:$port
log "running as uid $uid gid 0, read-only, on $base"
run_start=$(now)
CONTAINER=$(podman run --detach --pull=never \
    --read-only --read-only-tmpfs=false \
    --tmpfs /tmp:rw,nosuid,nodev,size=64m \
    --cap-drop=ALL --security-opt no-new-privileges \
    --user "$uid:0" \
    --health-interval disable \
    --env PIPESERVE_LOG_LEVEL=INFO \
    --publish "127.0.0.1:$port:8080" \
    "$IMAGE" 2> "$CACHE/run.log")

ready=
for _ in $(seq 1 600); do
    if [[ $(podman inspect --format '{{.State.Running}}' "$CONTAINER") != true ]]; then
        podman logs "$CONTAINER" 2>&1 | tail -n 30 >&2
        log "FAILED: the container exited before it was ready"
        exit 1
    fi
    if curl -fsS -o /dev/null --max-time 1 "$base/readyz" 2> /dev/null; then
        ready=yes
        break
    fi
    sleep 0.1
done
ready_seconds=$(elapsed "$run_start" "$(now)")
[[ -n $ready ]] || { podman logs "$CONTAINER" 2>&1 | tail -n 30 >&2; log "FAILED: not ready in 60 s"; exit 1; }

fail() { podman logs "$CONTAINER" 2>&1 | tail -n 30 >&2; log "FAILED: $*"; exit 1; }

prediction=$(curl -fsS --max-time 5 "$base/api/v1/models/iris/predict" \
    -H 'Content-Type: application/json' \
    -d '{"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}') \
    || fail "prediction request failed"
grep -q '"label":"setosa"' <<< "$prediction" || fail "unexpected prediction: $prediction"
curl -fsS --max-time 5 "$base/healthz" | grep -q '"ok"' || fail "/healthz did not answer ok"
# The image's HEALTHCHECK (for docker/podman users; no systemd timers here, so run it once).
podman healthcheck run "$CONTAINER" > /dev/null || fail "the image's HEALTHCHECK failed"

[[ $(podman exec "$CONTAINER" id -u) == "$uid" && $(podman exec "$CONTAINER" id -g) == 0 ]] \
    || fail "the process does not run as $uid:0"
podman exec "$CONTAINER" sh -c 'touch /srv/models/x' 2> /dev/null \
    && fail "the root filesystem is writable"
podman exec "$CONTAINER" sh -c 'touch /tmp/x && rm /tmp/x' || fail "/tmp is not writable"

# Graceful stop: SIGTERM (the image's STOPSIGNAL), the server drains and exits 0 well before the
# timeout after which podman would send SIGKILL.
stop_start=$(now)
podman stop --time 30 "$CONTAINER" > /dev/null 2>> "$CACHE/run.log"
stop_seconds=$(elapsed "$stop_start" "$(now)")
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$CONTAINER")
[[ $exit_code == 0 ]] || fail "exit code $exit_code after SIGTERM (expected 0)"

summary="image ${size_mb} MB, build ${build_seconds} s, start-to-ready ${ready_seconds} s, stop ${stop_seconds} s"
log "ok: $summary"
printf '%s %s %s\n' "$(date -u +%FT%TZ)" "$(git rev-parse --short HEAD 2> /dev/null || echo -)" \
    "$summary" >> "$CACHE/measurements.log"
