#!/usr/bin/env bash
# Installs, from Debian's packages, whatever flakectl's build and tests need and this machine
# lacks. Idempotent: installs nothing when everything is present.
set -euo pipefail
# One package a line, so parallel additions merge cleanly.
packages=(
  build-essential
  cmake
  pkg-config
  clang
  libgit2-dev
  libsodium-dev
  zlib1g-dev
  libssh2-1-dev
  libjansson-dev
  libssl-dev
  libcmocka-dev
  liblzma-dev
  libzstd-dev
  libcurl4-openssl-dev
  libedit-dev
  tmux
  nginx
  fcgiwrap
  git
  openssh-server
  openssh-client
  age
  nix-bin
  sudo
  time
  linux-perf
  python3
  procps
  rsync
  debootstrap
  systemd-container
  util-linux
  jq
  xxd
  bc
  openssl
  iproute2
  mount
  ansible
  man-db
  groff-base
  bash-completion
  zsh
  fish
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
