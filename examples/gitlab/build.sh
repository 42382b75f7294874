#!/bin/sh
# Builds the commit of a GitLab push or merge request.
set -eu
work="${TMPDIR:-/tmp}/hooktrigger-$HOOKTRIGGER_RUN_ID"
echo "$HOOKTRIGGER_EVENT${HOOKTRIGGER_ACTION:+.$HOOKTRIGGER_ACTION} on $HOOKTRIGGER_REPO by $HOOKTRIGGER_ACTOR"
echo "branch $branch at $sha${HOOKTRIGGER_PR:+ (merge request !$HOOKTRIGGER_PR into ${target:-})}"
git clone --quiet --no-checkout "$repo_url" "$work"
trap 'rm -rf "$work"' EXIT
cd "$work"
git fetch --quiet origin "$sha"
git checkout --quiet --detach "$sha"
if [ -f Makefile ]; then make; else echo "no Makefile: nothing to build"; fi
