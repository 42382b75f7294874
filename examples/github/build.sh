#!/bin/sh
# Builds the commit hooktrigger was told about. Payload values arrive only as
# environment variables; quote them.
set -eu
work="${TMPDIR:-/tmp}/hooktrigger-$HOOKTRIGGER_RUN_ID"
echo "$HOOKTRIGGER_EVENT${HOOKTRIGGER_ACTION:+.$HOOKTRIGGER_ACTION} on $HOOKTRIGGER_REPO by $HOOKTRIGGER_ACTOR"
echo "branch $branch at $sha${HOOKTRIGGER_PR:+ (pull request #$HOOKTRIGGER_PR into ${base:-})}"
git clone --quiet --no-checkout "$repo_url" "$work"
trap 'rm -rf "$work"' EXIT
cd "$work"
git fetch --quiet origin "$sha"
git checkout --quiet --detach "$sha"
if [ -f Makefile ]; then make; else echo "no Makefile: nothing to build"; fi
