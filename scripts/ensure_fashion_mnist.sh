#!/usr/bin/env bash
# Makes sure Fashion-MNIST can be found: installs Debian's dataset-fashion-mnist when the
# data is missing and apt is usable, otherwise says how to get it.
set -u
python=${1:-python3}
"$python" -m jaxdl.data.fashion_mnist --check >/dev/null 2>&1 && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Fashion-MNIST not found; installing Debian's dataset-fashion-mnist ..."
  { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; } >/dev/null \
    && "$python" -m jaxdl.data.fashion_mnist --check && exit 0
fi
"$python" -m jaxdl.data.fashion_mnist --check
echo "Get the data with 'sudo apt-get install dataset-fashion-mnist', or set JAXDL_DATA_DIR" \
  "to a folder with the four Fashion-MNIST IDX files." >&2
exit 1
