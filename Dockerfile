# pipeserve serving image: the package in a venv plus the bundle(s) that `dvc repro` wrote to
# models/, run by pipeserve serve (granian) as a non-root user that OpenShift's restricted-v2 SCC accepts.
#
# Build from a checkout where `make models` (dvc repro) has run:
#   podman build --build-arg BASE_IMAGE=<a Debian/Python 3.11 image> -t pipeserve .
# tools/container_check.sh builds and runs it exactly like CI does.
#
# The bundle is baked in at build time from the build context (models/), not fetched with
# `dvc pull` inside the build: the build then needs no DVC, no remote and no S3 credentials (the
# seed passed them into the build, where they end up in the layers or the build log), and every
# image carries exactly the model it was tested with. `oc start-build --from-dir=.` uploads the
# same context, models/ included. The bundle's sha256 digests are checked during the build.

# Any image with Python 3.11+ and the venv module: pin it by digest in production
# (python:3.11-slim-bookworm@sha256:...). CI passes a base built locally from Debian packages.
ARG BASE_IMAGE=python:3.11-slim-bookworm
# checkov:skip=CKV_DOCKER_7: FROM ${BASE_IMAGE} cannot name a tag itself; the default above is a release tag and CI passes a locally built, content-keyed base

# Stage requirements: the runtime dependency list from pyproject.toml. Only this file goes on,
# so editing other parts of pyproject.toml (tool settings, dev extras) keeps the cache below.
FROM ${BASE_IMAGE} AS requirements
WORKDIR /src
COPY pyproject.toml ./
RUN python3 -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > runtime.txt

# Stage deps: the third-party dependencies in a venv. This layer (most of the image) is rebuilt only
# when the runtime dependencies or the lock change, and shared by every image built from them.
FROM ${BASE_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY --from=requirements /src/runtime.txt ./
COPY requirements/constraints.txt requirements/constraints.txt
RUN python3 -m venv /opt/pipeserve/venv \
    && /opt/pipeserve/venv/bin/pip install -c requirements/constraints.txt -r runtime.txt \
    && /opt/pipeserve/venv/bin/python -c "import site; open(site.getsitepackages()[0] + '/pipeserve-app.pth', 'w').write('/opt/pipeserve/app\n')"

# Stage app: pipeserve itself goes to /opt/pipeserve/app (on the venv's path through the .pth file
# above), so a code change rebuilds a small layer, not the dependencies.
FROM deps AS app
COPY pyproject.toml README.md ./
COPY src src
RUN /opt/pipeserve/venv/bin/pip install --no-deps --target /opt/pipeserve/app . \
    && /opt/pipeserve/venv/bin/pip check
# Refuse to build an image without a model, or with a bundle that does not verify.
COPY models /srv/models
RUN set -e; \
    ls /srv/models/*/bundle.json > /dev/null; \
    for bundle in /srv/models/*/; do /opt/pipeserve/app/bin/pipeserve bundle verify "$bundle"; done
# OpenShift runs the container as an arbitrary UID that belongs to group 0: everything the app
# reads gets the owner's permissions for the group (g=u). Done in the build stages, because a chmod
# in the final stage would copy every file into one more layer.
RUN chmod -R g=u /opt/pipeserve/app /srv/models

# Stage venv: the dependencies without the installer (pip is a build tool, not needed to serve).
FROM deps AS venv
RUN /opt/pipeserve/venv/bin/pip uninstall --yes pip setuptools \
    && chmod -R g=u /opt/pipeserve/venv

FROM ${BASE_IMAGE} AS runtime
# The commit the image is built from (`--build-arg PIPESERVE_SOURCE_REVISION=$(git rev-parse HEAD)`,
# or the BuildConfig's build argument): the server shows it in model metadata and on the model card.
# It lives in the image, not in the bundle, so a commit that does not touch the model leaves the
# bundle's bytes (and dvc.lock) unchanged. Declared here, in the last stage, so that a new value
# rebuilds no earlier layer.
ARG PIPESERVE_SOURCE_REVISION=""
# Owned by 1001, group 0 (modes kept from the build stages, g=u). Nothing is written at run time
# except the server's runtime directory (metrics of the workers, the drain marker) in /dev/shm or
# /tmp, which the Deployment mounts as an emptyDir: the root filesystem can stay read-only.
COPY --from=venv --chown=1001:0 /opt/pipeserve/venv /opt/pipeserve/venv
COPY --from=app --chown=1001:0 /opt/pipeserve/app /opt/pipeserve/app
COPY --from=app --chown=1001:0 /srv/models /srv/models
ENV PATH=/opt/pipeserve/app/bin:/opt/pipeserve/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    PIPESERVE_HOST=0.0.0.0 \
    PIPESERVE_PORT=8080 \
    PIPESERVE_MODEL_DIR=/srv/models \
    PIPESERVE_SOURCE_REVISION=${PIPESERVE_SOURCE_REVISION}
WORKDIR /srv
USER 1001:0
EXPOSE 8080
# On SIGTERM readiness turns 503, then in-flight requests finish (PIPESERVE_GRACEFUL_TIMEOUT); exit 0.
STOPSIGNAL SIGTERM
# For docker/podman only; Kubernetes uses the Deployment's probes instead.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('PIPESERVE_PORT', '8080'), timeout=2)"]
# The server's master (granian, see pipeserve.api.server) is PID 1 and receives SIGTERM directly
# (exec form, no shell in between).
ENTRYPOINT ["pipeserve"]
CMD ["serve"]
