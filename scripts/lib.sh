# Shared by the scripts in this folder: install Debian packages when missing.
# apt_install CMD PACKAGE: install PACKAGE unless CMD is on the PATH (needs root).
apt_install() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "$(basename "$0"): $1 is missing and we are not root: apt-get install $2" >&2
    return 1
  fi
  echo "$(basename "$0"): installing $2 from Debian's packages" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null
}
