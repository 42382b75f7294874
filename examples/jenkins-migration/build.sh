#!/bin/sh
# The build step of the migrated job: GWT's variables arrive as environment
# variables, exactly as Jenkins contributed them.
set -eu
echo "cause: $HOOKTRIGGER_CAUSE"
echo "building $commit of $ref for ${env:-default}, pushed by $pusher"
echo "changed: $changed_files"
