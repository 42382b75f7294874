#!/bin/sh
# Builds one service of the monorepo at the commit hooktrigger was told
# about. Payload values arrive only as environment variables; quote them.
set -eu
service="$1"
work="${TMPDIR:-/tmp}/hooktrigger-$HOOKTRIGGER_RUN_ID"
echo "$service: $HOOKTRIGGER_EVENT${HOOKTRIGGER_ACTION:+.$HOOKTRIGGER_ACTION} of $HOOKTRIGGER_BRANCH at $HOOKTRIGGER_SHA"
if [ -n "${HOOKTRIGGER_CHANGED_FILES:-}" ]; then
  echo "files changed in $service:"; grep "^$service/" "$HOOKTRIGGER_CHANGED_FILES" || echo "(none: a shared file under lib/)"
fi
git clone --quiet --no-checkout "https://github.com/$HOOKTRIGGER_REPO.git" "$work"
trap 'rm -rf "$work"' EXIT
cd "$work"
git fetch --quiet origin "$HOOKTRIGGER_SHA"
git checkout --quiet --detach "$HOOKTRIGGER_SHA"
make -C "$service"
