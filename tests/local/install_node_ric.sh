#!/bin/sh
# Install AWS's Node runtime interface client (npm aws-lambda-ric 4.0.2), the second independent
# client the emulator is tested against (tests/local/test_runtime_node.py).
# Its preinstall builds a bundled curl and aws-lambda-cpp with cmake, make and g++ (about 40 s on
# 2 cores); node-gyp needs the Node headers (nodedir=/usr with Debian/NodeSource nodejs).
# The install goes OUTSIDE the repository so node_modules is never committed:
#   ${NODE_RIC_DIR:-$HOME/.cache/relaykit/node-ric}/node_modules/aws-lambda-ric
set -eu
DIR="${NODE_RIC_DIR:-$HOME/.cache/relaykit/node-ric}"
mkdir -p "$DIR"
cd "$DIR"
[ -f package.json ] || echo '{"name": "relaykit-node-ric", "private": true}' > package.json
npm install --no-save --foreground-scripts aws-lambda-ric@4.0.2
test -f node_modules/aws-lambda-ric/index.mjs
echo "aws-lambda-ric installed in $DIR"
