# Sourced by scripts/test: the dashboard's browser test drives Debian's Chromium, and its
# screenshots need a CJK font. Installed once per machine.
if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "wenquanyi"; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  packages=(chromium fonts-wqy-microhei)
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q "${packages[@]}" >/dev/null ||
    { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${packages[@]}" >/dev/null; }
fi
