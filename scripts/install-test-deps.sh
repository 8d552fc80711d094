#!/usr/bin/env bash
# Installs what the test suite needs on Debian 12 (run as root; idempotent):
#   - the servers and reference clients the lab starts on loopback: openssl (s_server,
#     s_client), nginx, gnutls-bin (gnutls-serv, gnutls-cli), sslscan, nmap, samba (smbd),
#     samba-common-bin (smbpasswd, testparm) and smbclient;
#   - strongSwan's charon and swanctl with the standard and extra plugins (the IKE responders),
#     and ike-scan (the IKE oracle);
#   - libreswan 4.10's pluto, a second IKE implementation: Debian's libreswan package
#     Conflicts with strongswan-charon (both provide ike-server), so its .deb is unpacked into
#     /opt/probe-lab/libreswan (never installed) and its runtime libraries and libnss3-tools
#     (certutil) are installed;
#   - tcpdump (captures/pcap/record.py records the capture-reader test captures with it);
#   - tshark, the oracle of tests/pcap/test_fingerprint.py (tshark 4.0's tls.handshake.ja3 and
#     ja3s on the committed TLS captures);
#   - the STARTTLS servers of tests/lab/starttls.py: dovecot-core, -imapd and -pop3d, slapd and
#     ldap-utils, prosody (with lua-unbound, its recommended resolver), postgresql-15 and
#     mariadb-server(-core: mariadbd, mariadb-install-db); their packages start system daemons on the standard ports (143, 110, 389,
#     5222, 5432, 3306), so starts are forbidden during the install and any instance that is
#     running anyway is stopped and disabled afterwards (the lab runs its own instances);
#   - gcc, libc6-dev and python3-dev: sstp-server (the SSTP lab server) builds a C extension;
#   - util-linux (unshare: gnutls-serv runs in a private network namespace because it cannot
#     be told to listen on loopback only) and iproute2 (ss: tests check listeners);
#   - Python 3 with pip and venv, then probe itself with its [test] extras (editable).
# It starts no service: the tests start and stop their own servers.
#
# Environment: PYTHON (default python3) picks the interpreter. With a Debian-managed
# interpreter outside a virtualenv, pip is given --break-system-packages (PEP 668); set
# PROBE_VENV=/path to install into a virtualenv there instead.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"

packages=(
    ca-certificates
    openssl
    nginx-light
    gnutls-bin
    sslscan
    nmap
    samba
    samba-common-bin
    smbclient
    strongswan-charon
    strongswan-swanctl
    libstrongswan-standard-plugins
    libstrongswan-extra-plugins
    ike-scan
    libnss3-tools
    libcurl3-nss
    libevent-core-2.1-7
    libevent-pthreads-2.1-7
    libldap-2.5-0
    libldns3
    libnspr4
    libnss3
    libunbound8
    libcap-ng0
    libaudit1
    libpam0g
    libselinux1
    libsystemd0
    libcrypt1
    dns-root-data
    gcc
    libc6-dev
    python3-dev
    util-linux
    iproute2
    tcpdump
    dovecot-core
    dovecot-imapd
    dovecot-pop3d
    slapd
    ldap-utils
    prosody
    lua-unbound
    postgresql-15
    postgresql-client-15
    mariadb-server
    mariadb-server-core
    tshark
    python3
    python3-pip
    python3-venv
)

if [[ ${EUID} -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "install-test-deps: run as root (or install sudo)" >&2
        exit 1
    fi
else
    sudo=()
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-test-deps: apt-get update" >&2
"${sudo[@]}" apt-get update -qq
echo "install-test-deps: apt-get install ${packages[*]}" >&2
# Debian's nginx and samba packages try to start their daemons after installing; there may be
# no init system (containers), and the tests must find nothing listening: forbid service starts
# meanwhile.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e ${policy} ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "${policy}" >/dev/null
    "${sudo[@]}" chmod 755 "${policy}"
    created_policy=1
fi
cleanup() {
    if [[ ${created_policy} -eq 1 ]]; then
        "${sudo[@]}" rm -f "${policy}"
    fi
}
trap cleanup EXIT
"${sudo[@]}" apt-get install -y -qq --no-install-recommends --no-upgrade "${packages[@]}" >/dev/null

# The STARTTLS lab's packages must leave no system daemon behind (a policy-rc.d that was
# already there may allow starts): stop any that runs, bypassing policy-rc.d, and disable it.
for service in dovecot slapd prosody postgresql mariadb; do
    if [[ -x /etc/init.d/${service} ]]; then
        "${sudo[@]}" /etc/init.d/${service} stop >/dev/null 2>&1 || true
        "${sudo[@]}" update-rc.d "${service}" disable >/dev/null 2>&1 || true
    fi
done

# libreswan for tests/lab/libreswan.py, unpacked beside strongSwan (see the header).
libreswan_root=/opt/probe-lab/libreswan
if [[ ! -x ${libreswan_root}/usr/libexec/ipsec/pluto ]]; then
    echo "install-test-deps: unpacking libreswan into ${libreswan_root}" >&2
    deb_dir="$(mktemp -d)"
    chmod 755 "${deb_dir}" # apt's _apt user writes the download
    (cd "${deb_dir}" && "${sudo[@]}" apt-get download -qq libreswan)
    "${sudo[@]}" mkdir -p "${libreswan_root}"
    "${sudo[@]}" dpkg-deb -x "${deb_dir}"/libreswan_*.deb "${libreswan_root}"
    rm -rf "${deb_dir}"
fi

# Fail here, not in the middle of the tests, when something did not land.
for binary in openssl nginx gnutls-serv gnutls-cli sslscan nmap smbd smbpasswd testparm smbclient \
    swanctl ike-scan certutil unshare ss tcpdump dovecot slapd ldapsearch ldapwhoami psql prosody mariadbd \
    mariadb-install-db setpriv /usr/lib/postgresql/15/bin/postgres "${python}"; do
    if ! command -v "${binary}" >/dev/null 2>&1 && [[ ! -x /usr/sbin/${binary} ]]; then
        echo "install-test-deps: ${binary} is still missing after apt-get install" >&2
        exit 1
    fi
done

if [[ -n ${PROBE_VENV:-} ]]; then
    "${python}" -m venv "${PROBE_VENV}"
    python="${PROBE_VENV}/bin/python"
fi

pip_flags=(--quiet --disable-pip-version-check --root-user-action=ignore)
if "${python}" - <<'PY'
import sys, sysconfig, pathlib
in_venv = sys.prefix != sys.base_prefix
managed = pathlib.Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED").exists()
sys.exit(0 if managed and not in_venv else 1)
PY
then
    pip_flags+=(--break-system-packages)
fi

echo "install-test-deps: ${python} -m pip install -e .[test]" >&2
cd "${repo_root}"
"${python}" -m pip install "${pip_flags[@]}" -e ".[test]"
# The SSTP lab server (sorz/sstp-server): 0.6.x is the last release for Python 3.11. Its C
# extension must be built with PY_SSIZE_T_CLEAN or it fails at run time on 3.10+ (the fix
# upstream's 0.7 makes), hence a source build here rather than a test extra, never from a
# cached wheel that was built without the flag.
echo "install-test-deps: sstp-server<0.7 (built with PY_SSIZE_T_CLEAN)" >&2
CFLAGS=-DPY_SSIZE_T_CLEAN "${python}" -m pip install "${pip_flags[@]}" --no-binary sstp-server \
    --no-cache-dir --force-reinstall --no-deps 'sstp-server<0.7'
echo "install-test-deps: done" >&2
