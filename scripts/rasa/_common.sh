# Shared settings of the scripts in scripts/rasa/ (sourced, not run). Every value can be
# overridden from the environment; the defaults keep everything inside the checkout, in
# git-ignored folders.
#
#   BARNEBOT_RASA_VENV      the Python 3.10 venv Rasa lives in          .rasa-venv
#   BARNEBOT_RASA_MODELS    trained models (one .tar.gz per data hash)  models
#   BARNEBOT_RASA_RUN       pid, log and token of a served Rasa         .rasa-run
#   BARNEBOT_RASA_PORT      port `serve` binds on 127.0.0.1             5005
#   BARNEBOT_RASA_TOKEN     auth token for the HTTP API                 random, kept in $RUN/token
#   RASA_PYTHON             the Python 3.10 interpreter to build the venv with
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
RASA_VERSION=3.6.21
RASA_VENV=${BARNEBOT_RASA_VENV:-$ROOT/.rasa-venv}
RASA_MODELS=${BARNEBOT_RASA_MODELS:-$ROOT/models}
RASA_RUN=${BARNEBOT_RASA_RUN:-$ROOT/.rasa-run}
RASA_PORT=${BARNEBOT_RASA_PORT:-5005}
RASA="$RASA_VENV/bin/rasa"

# Rasa's telemetry (anonymous usage data to Rasa's servers) is off in every script, and
# TensorFlow's start-up chatter too.
export RASA_TELEMETRY_ENABLED=false
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
# Rasa 3.6's dependencies print pages of deprecation warnings (SQLAlchemy 1.4, pkg_resources,
# pyparsing); Rasa's own log messages are unaffected.
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore}
export SQLALCHEMY_SILENCE_UBER_WARNING=1
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Rasa writes ~/.config/rasa/global.yml and a few caches; keep them out of the user's home
# when HOME is not writable (CI containers).
[ -w "${HOME:-/nonexistent}" ] || export HOME="$RASA_RUN/home"

say() { printf 'rasa: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# The hash that keys a trained model: the pipeline, every training file (name and content)
# and the Rasa version. Same data → same hash → `train` skips.
data_hash() {
  {
    echo "rasa==$RASA_VERSION"
    sha256sum nlu/config.yml
    find nlu/data -type f -name '*.yml' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
}

model_path() { echo "$RASA_MODELS/nlu-$(data_hash).tar.gz"; }

# Is PID a live process? (A killed server stays a zombie until it is reaped, and `kill -0`
# succeeds on zombies; where nothing reaps orphans, e.g. some containers, it stays forever.)
alive() {
  local state
  state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

require_venv() {
  [ -x "$RASA" ] || die "no Rasa in $RASA_VENV; run scripts/rasa/setup first"
}
